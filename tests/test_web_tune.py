"""POST /api/tune through FastAPI's TestClient: a real tuner (the basis of every SocialEQ record) behind a predictor
that answers each word with its raters' mean curve (no model loads, so these tests are fast)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from fastapi.testclient import TestClient

from lightning_eq.audio import design_graphic_eq
from lightning_eq.audio.biquads import sos_response_db
from lightning_eq.curves import BAND_CENTRES_HZ, EqCurve
from lightning_eq.tune import CurveBasis, Tuner
from lightning_eq.web import create_app


class MeanOfRaters:
    """Each known word's curve is the mean of its raters' curves (confidence 0.9); "less X" is X's curve at amount
    -1; anything else gets the mean of all curves at confidence 0.1 (unfamiliar), as a real model's guess would."""

    key = "raters"

    def __init__(self, data):
        words = np.array(data.descriptors)
        self.curves = {w: data.curves_z[words == w].mean(axis=0) for w in ("warm", "bright", "tinny")}
        self.mean = data.curves_z.mean(axis=0)

    def predict(self, texts):
        out = []
        for text in texts:
            word, amount = (text[5:], -1.0) if text.startswith("less ") else (text, 1.0)
            known = word in self.curves
            out.append(EqCurve(self.curves.get(word, self.mean), "z", text=text, amount=amount,
                               confidence=0.9 if known else 0.1, model=self.key))
        return out


@pytest.fixture(scope="module")
def words(data) -> MeanOfRaters:
    return MeanOfRaters(data)


@pytest.fixture(scope="module")
def tuner(data) -> Tuner:
    return Tuner(CurveBasis.fit(data.curves_z))


@pytest.fixture(scope="module")
def client(words, tuner):
    return TestClient(create_app(words, tuner=tuner))


def tune(client, **body) -> dict:
    response = client.post("/api/tune", json=body)
    assert response.status_code == 200, response.text
    return response.json()


def r(a, b) -> float:
    return float(np.corrcoef(a, b)[0, 1])


def listener_ratings(answer: dict, listener: np.ndarray) -> list[dict]:
    """A simulated listener's ratings of the probes: 0.5 + 0.5 r, without noise."""
    return [{"curve_z": p["curve_z"], "rating": round(0.5 + 0.5 * r(p["curve_z"], listener), 4)} for p in answer["probes"]]


def test_without_text_the_estimate_is_the_mean_curve_and_probes_come_with_gains(client, tuner):
    out = tune(client)
    assert out["n_ratings"] == 0 and out["prior"] == "mean" and out["text"] is None and out["model"] is None
    assert r(out["curve_z"], tuner.basis.mean_z) > 0.999
    assert out["freqs_hz"] == list(BAND_CENTRES_HZ) and len(out["probes"]) == 2
    for curve in [out, *out["probes"]]:
        assert len(curve["curve_z"]) == 40 and curve["sos"] is None
        expected = EqCurve(np.array(curve["curve_z"])).to_db(5.0, 1.0).values
        assert np.allclose(curve["gains_db"], expected, atol=1e-3) and max(map(abs, curve["gains_db"])) == pytest.approx(5.0)


def test_with_text_the_prior_is_the_predictors_curve_with_its_intensity_sign(client, words):
    warm = tune(client, text="warm", n_probes=3, amount=0.5, max_gain_db=6)
    assert warm["prior"] == "text" and warm["model"] == "raters" and warm["confidence"] == 0.9
    assert r(warm["curve_z"], words.curves["warm"]) > 0.999 and len(warm["probes"]) == 3
    assert max(map(abs, warm["gains_db"])) == pytest.approx(3.0)  # amount 0.5 of 6 dB, as /api/predict scales
    less = tune(client, text="less warm")
    assert r(less["curve_z"], words.curves["warm"]) < -0.999  # "less warm" starts from the opposite


def test_an_unfamiliar_description_starts_from_the_mean_unless_told_to_trust_it(client, words, tuner):
    guess = tune(client, text="qzxv")
    assert guess["prior"] == "mean" and guess["confidence"] == 0.1 and guess["text"] == "qzxv"
    trusted = tune(client, text="qzxv", confidence_scaling=False)
    assert trusted["prior"] == "text" and r(trusted["curve_z"], words.mean) > 0.999


def test_ratings_move_the_estimate_towards_the_listener(client, words):
    """A listener who wants bright, starting from warm: twenty noiseless ratings bring the estimate far closer."""
    listener = words.curves["bright"]
    ratings, answer = [], tune(client, text="warm")
    start = r(answer["curve_z"], listener)
    for step in range(10):
        ratings += listener_ratings(answer, listener)
        answer = tune(client, text="warm", ratings=ratings, seed=step)
    assert answer["n_ratings"] == 20
    assert r(answer["curve_z"], listener) > max(start + 0.3, 0.7), (start, r(answer["curve_z"], listener))


def test_the_same_ratings_give_the_same_answer_and_the_server_keeps_nothing(client, words, tuner):
    """Stateless: a second app (a restarted server) answers the same ratings with the same curve and probes."""
    first = tune(client, text="warm")
    ratings = listener_ratings(first, words.curves["tinny"])
    again = TestClient(create_app(words, tuner=tuner))
    assert tune(client, text="warm", ratings=ratings) == tune(again, text="warm", ratings=ratings)
    assert tune(client, text="warm", ratings=ratings, seed=1)["probes"] != tune(client, text="warm", ratings=ratings)["probes"]
    assert tune(client, text="warm") == first  # no earlier request changed anything


def test_with_a_sample_rate_each_curve_carries_the_filters_apply_would_run(client):
    out = tune(client, text="bright", sample_rate=48000)
    for curve in [out, *out["probes"]]:
        sos = np.array(curve["sos"])
        assert np.allclose(sos, design_graphic_eq(np.array(curve["gains_db"]), 48000).sos, atol=1e-12)
        realised = sos_response_db(sos, np.array(BAND_CENTRES_HZ), 48000).sum(axis=0)
        assert np.allclose(realised, curve["gains_db"], atol=0.05)  # jointly solved: the response hits the centres
    assert len(tune(client, sample_rate=8000)["sos"]) == 26  # the bands below Nyquist


def test_openapi_documents_tune_with_an_example(client):
    spec = client.get("/openapi.json").json()
    assert "/api/tune" in spec["paths"]
    request = spec["components"]["schemas"]["TuneRequest"]
    assert request["examples"][0]["text"] == "warm" and len(request["examples"][0]["ratings"][0]["curve_z"]) == 40
    assert {"curve_z", "gains_db", "probes", "n_ratings"} <= set(spec["components"]["schemas"]["TuneResponse"]["properties"])


FLAT = [0.0] * 40
RAMP = [round(0.1 * i - 1.95, 2) for i in range(40)]


@pytest.mark.parametrize("body, status, code, message", [
    ({"ratings": [{"curve_z": RAMP, "rating": 1.5}]}, 400, "bad_ratings", "rating 1.5 is outside [0, 1]"),
    ({"ratings": [{"curve_z": RAMP, "rating": -0.1}]}, 400, "bad_ratings", "outside [0, 1]"),
    ({"ratings": [{"curve_z": RAMP[:39], "rating": 0.5}]}, 400, "bad_ratings", "40 finite numbers"),
    ({"ratings": [{"curve_z": RAMP, "rating": 0.5}] * 201}, 400, "bad_ratings", "201 ratings is more than the 200"),
    ({"ratings": [{"curve_z": "warm", "rating": 0.5}]}, 422, "invalid_request", "ratings.0.curve_z"),
    ({"n_probes": 0}, 422, "invalid_request", "n_probes"),
    ({"n_probes": 9}, 422, "invalid_request", "n_probes"),
    ({"text": "  "}, 400, "empty_description", "The description is empty"),
    ({"sample_rate": 4000}, 422, "invalid_request", "sample_rate"),
    ({"text": "warm", "model": "glove"}, 404, "model_not_served", "This server runs model 'raters'"),
])  # fmt: skip
def test_tune_rejects_bad_input_in_one_line(client, body, status, code, message):
    response = client.post("/api/tune", json=body)
    out = response.json()
    assert response.status_code == status and out["code"] == code and message in out["detail"], out
    assert "\n" not in out["detail"]
    if code == "bad_ratings":
        assert out["params"] == {"max_ratings": 200}


def test_a_curve_with_nan_is_refused(client):
    """JSON has no NaN, but Python's parser (and so the server) reads one: it must not reach the tuner."""
    body = '{"ratings": [{"curve_z": [NaN' + ", 0" * 39 + '], "rating": 0.5}]}'
    response = client.post("/api/tune", content=body, headers={"content-type": "application/json"})
    assert response.status_code in (400, 422) and "\n" not in response.json()["detail"], response.text


def test_a_server_without_a_tuner_says_why(words):
    response = TestClient(create_app(words)).post("/api/tune", json={})
    assert response.status_code == 404 and response.json()["code"] == "tuner_unavailable"
    assert "no tuner" in response.json()["detail"]


def test_flat_ratings_teach_nothing_but_are_accepted(client):
    """A flat probe (all zeros) has no shape: rating it is legal and leaves the estimate where it was."""
    before = tune(client, text="warm")
    after = tune(client, text="warm", ratings=[{"curve_z": FLAT, "rating": 0.9}])
    assert after["n_ratings"] == 1 and r(after["curve_z"], before["curve_z"]) > 0.999


def test_the_page_serves_its_tune_script(client):
    page = client.get("/").text
    assert "/static/tune.js" in page and 'id="tune-start"' in page
    assert client.get("/static/tune.js").status_code == 200


def test_a_routed_curve_names_the_model_that_answered(words, tuner):
    """A routing predictor's curve names its own model; the answer names that one, not the router's key."""
    class Router:
        key = "router"

        def predict(self, texts):
            return [dataclasses.replace(c, model="e5") for c in words.predict(texts)]

    assert tune(TestClient(create_app(Router(), tuner=tuner)), text="warm")["model"] == "e5"
