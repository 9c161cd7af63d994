"""The JSON API through FastAPI's TestClient, with a real model (k nearest words on GloVe) injected."""

from __future__ import annotations

import dataclasses
import io
import json
import tempfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from fastapi.testclient import TestClient

from lightning_eq.curves import BAND_CENTRES_HZ, LOW_CONFIDENCE, EqCurve
from lightning_eq.web import WebSettings, create_app
from lightning_eq.web.codes import CODES

SR = 44100


KNN_ON_GLOVE = {"baseline.embedder": "glove", "baseline.knn_k": [10]}


def build_predictor(folder: Path, data, hq_words):
    """Train the knn baseline on GloVe over all of SocialEQ (with its confidence), save it and load it back as
    `serve --model knn` would."""
    from lightning_eq.config import Config, merge
    from lightning_eq.embeddings.vectors import Vectors
    from lightning_eq.models.store import save_model
    from lightning_eq.predict import load_predictor
    from lightning_eq.training.evaluate import fit_final, table_for
    from lightning_eq.training.promote import stored_model

    cfg = merge(Config(), KNN_ON_GLOVE)
    cache = str(folder / "cache")
    table, vectors = table_for(data, cfg), Vectors(data.words, cache)
    fitted = fit_final("knn", cfg, table, vectors)
    save_model(stored_model("knn", fitted.config, fitted.model, table, vectors), folder / "models")
    return load_predictor("knn", folder / "models", cache, tracking_uri=None)


def build_champion(folder: Path) -> str:
    """Register a routing champion in ``folder`` (English: knn on GloVe; other languages: the e5 model, each in its
    default configuration, trained on all the data, with its confidence) as `promote` does; its tracking URI."""
    from lightning_eq.config import Config, merge
    from lightning_eq.training.promote import promote

    uri = f"sqlite:///{folder}/mlflow.db"
    promote(merge(Config(), KNN_ON_GLOVE), model="knn", storage=None, tracking_uri=uri, cache_dir=str(folder / "cache"))
    return uri


class Routed:
    """The real knn model behind a stand-in for a routing predictor: each curve gets the confidence, language and
    answering model that a router's curves carry (set here from the text, so the API's handling of them is pinned)."""

    key, model_keys = "router", ["knn", "e5"]
    CONFIDENCE = {"xyzzy": 0.1, "warm": 0.9, "cálido": 0.8, "edge": LOW_CONFIDENCE}

    def __init__(self, inner):
        self.inner = inner

    def predict(self, texts):
        spanish = {"cálido"}
        return [dataclasses.replace(c, confidence=self.CONFIDENCE.get(c.text, 0.7), language="es" if c.text in spanish else "en",
                                    model="e5" if c.text in spanish else "knn") for c in self.inner.predict(texts)]


def wav_bytes(signal: np.ndarray, sample_rate: int = SR, fmt: str = "WAV") -> bytes:
    buf = io.BytesIO()
    sf.write(buf, signal, sample_rate, format=fmt)
    return buf.getvalue()


def tone(seconds: float, hz: float = 440.0, channels: int = 2) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return np.tile(0.25 * np.sin(2 * np.pi * hz * t)[:, None], (1, channels))


@pytest.fixture(scope="session")
def predictor(tmp_path_factory, data, hq_words):
    return build_predictor(tmp_path_factory.mktemp("web-model"), data, hq_words)


@pytest.fixture(scope="module")
def work_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("uploads")


@pytest.fixture(scope="module")
def client(predictor, work_dir):
    return TestClient(create_app(predictor, WebSettings(max_upload_mb=1, max_audio_seconds=5, work_dir=str(work_dir))))


@pytest.fixture(scope="module")
def routed(predictor):
    return TestClient(create_app(Routed(predictor)))


def predict(client, **body) -> dict:
    response = client.post("/api/predict", json=body)
    assert response.status_code == 200, response.text
    return response.json()


def apply(client, audio: bytes, name: str = "song.wav", **fields):
    return client.post("/api/apply", files={"file": (name, audio, "audio/wav")}, data=fields)


def test_health_names_the_model_and_limits(client, routed):
    assert client.get("/api/health").json() == {"status": "ok", "model": "knn", "models": ["knn"], "low_confidence": 0.5,
                                                "bands": 40, "max_upload_mb": 1.0, "max_audio_seconds": 5.0}
    assert routed.get("/api/health").json()["models"] == ["knn", "e5"]


def test_page_and_its_files_are_served_by_the_app(client):
    page = client.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    for path in ("/static/app.js", "/static/i18n.js", "/static/plot.js", "/static/style.css"):
        assert path in page.text and client.get(path).status_code == 200
    assert "http" not in page.text.replace('href="/docs"', "")  # no CDN: nothing outside the app


def test_openapi_documents_the_endpoints(client):
    spec = client.get("/openapi.json").json()
    assert {"/api/predict", "/api/apply", "/api/export", "/api/health"} <= set(spec["paths"])
    assert "X-Normalization-Gain-Db" in spec["paths"]["/api/apply"]["post"]["responses"]["200"]["headers"]
    docs = client.get("/docs")
    assert docs.status_code == 200 and "/static/swagger-ui-bundle.js" in docs.text and "cdn" not in docs.text.lower()
    assert client.get("/static/swagger-ui-bundle.js").status_code == 200  # vendored: /docs works offline


def test_predict_returns_40_bands_scaled_by_max_gain_and_amount(client):
    full = predict(client, text="warm", max_gain_db=6)
    half = predict(client, text="warm", max_gain_db=6, amount=0.5)
    assert full["freqs_hz"] == list(BAND_CENTRES_HZ) and full["model"] == "knn"
    assert all(len(full[k]) == 40 for k in ("curve_z", "curve_unit", "gains_db"))
    # the peak gain is the max gain, times the confidence (the dB rule's default)
    assert max(map(abs, full["gains_db"])) == pytest.approx(6.0 * full["predictions"][0]["confidence"], abs=1e-3)
    assert np.allclose(np.array(half["gains_db"]) * 2, full["gains_db"], atol=1e-3)
    assert np.allclose(full["curve_unit"], (np.array(full["curve_z"]) + 4) / 8, atol=1e-5)


def test_predict_several_texts_and_opposites(client):
    out = predict(client, texts=["bright", "less bright"])
    bright, less = (np.array(p["gains_db"]) for p in out["predictions"])
    assert [p["text"] for p in out["predictions"]] == ["bright", "less bright"]
    assert out["gains_db"] == out["predictions"][0]["gains_db"]
    assert np.corrcoef(bright, less)[0, 1] < -0.9  # "less X" tilts the opposite way
    assert predict(client, text="very warm")["description_amount"] > 1


def test_each_prediction_says_how_sure_the_model_is_and_who_answered(client):
    """Words the model trained on are familiar; gains are scaled by the confidence unless the request says not to."""
    out = predict(client, texts=["warm", "bright"])
    for p in out["predictions"]:
        assert p["confidence"] > 0.8 and not p["unfamiliar"] and (p["language"], p["model"]) == ("en", "knn")
    assert out["confidence_scaling"] is True and out["low_confidence"] == LOW_CONFIDENCE
    unscaled = predict(client, text="warm", confidence_scaling=False)["gains_db"]
    np.testing.assert_allclose(np.array(unscaled) * out["predictions"][0]["confidence"], out["gains_db"], atol=1e-3)


def test_low_confidence_marks_a_curve_unfamiliar_and_scales_its_gains(routed):
    out = predict(routed, texts=["xyzzy", "warm", "edge"])
    xyzzy, warm, edge = out["predictions"]
    assert (xyzzy["confidence"], xyzzy["unfamiliar"]) == (0.1, True)
    assert (warm["unfamiliar"], edge["unfamiliar"]) == (False, False)  # at the threshold: familiar
    assert max(map(abs, xyzzy["gains_db"])) == pytest.approx(0.5, abs=1e-3)  # 5 dB times 0.1
    assert max(map(abs, warm["gains_db"])) == pytest.approx(4.5, abs=1e-3)
    full = predict(routed, text="xyzzy", confidence_scaling=False)
    assert full["unfamiliar"] and max(map(abs, full["gains_db"])) == pytest.approx(5.0, abs=1e-3)
    assert full["curve_z"] == xyzzy["curve_z"]  # the shape does not change, only its strength


def test_each_prediction_names_its_own_language_and_model(routed):
    out = predict(routed, texts=["cálido", "warm"])
    assert [(p["language"], p["model"]) for p in out["predictions"]] == [("es", "e5"), ("en", "knn")]
    assert (out["model"], out["language"]) == ("e5", "es")  # the top level repeats the first description's


@pytest.mark.parametrize("body, status, code, words", [
    ({"text": "   "}, 400, "empty_description", "description is empty"),
    ({"text": "w" * 501}, 400, "description_too_long", "has 501 characters; keep it under 500"),
    ({}, 400, "bad_request", 'exactly one of "text"'),
    ({"text": "warm", "texts": ["dark"]}, 400, "bad_request", 'exactly one of "text"'),
    ({"texts": []}, 400, "bad_request", "empty list"),
    ({"texts": ["warm"] * 33}, 400, "too_many_descriptions", "at most 32"),
    ({"text": "warm", "model": "glvoe"}, 400, "unknown_model", "Unknown model 'glvoe'. Choose one of"),
    ({"text": "warm", "model": "glove"}, 404, "model_not_served", "runs model 'knn'"),
    ({"text": "warm", "amount": "lots"}, 422, "invalid_request", "amount: Input should be a valid number"),
    ({"text": "warm", "max_gain_db": 0}, 422, "invalid_request", "max_gain_db: Input should be greater than 0"),
    ({"text": "warm", "confidence_scaling": "maybe"}, 422, "invalid_request", "confidence_scaling: Input should be"),
])  # fmt: skip
def test_predict_rejects_bad_input_in_plain_words(client, body, status, code, words):
    response = client.post("/api/predict", json=body)
    assert response.status_code == status and words in response.json()["detail"]
    assert response.json()["code"] == code and code in CODES


def test_asking_a_router_for_one_of_its_models_says_that_it_routes(routed):
    response = routed.post("/api/predict", json={"text": "warm", "model": "e5"})
    assert response.status_code == 404 and response.json()["code"] == "model_not_served"
    assert "routes by language" in response.json()["detail"]
    other = routed.post("/api/predict", json={"text": "warm", "model": "glove"}).json()["detail"]
    assert "routes by language" not in other  # glove is not one of its models


def test_error_codes_carry_what_a_translation_needs(client):
    """The page words coded errors in Spanish from code and params, without parsing the English detail."""
    too_long = client.post("/api/predict", json={"text": "w" * 501}).json()
    assert too_long["params"] == {"chars": 501, "max_chars": 500}
    too_many = client.post("/api/predict", json={"texts": ["warm"] * 33}).json()
    assert too_many["params"] == {"count": 33, "max_texts": 32}
    not_served = client.post("/api/predict", json={"text": "warm", "model": "glove"}).json()
    assert not_served["params"] == {"model": "glove", "served": "knn"}
    spec = client.get("/openapi.json").json()["components"]["schemas"]["ErrorResponse"]
    assert "empty_description" in spec["properties"]["code"]["description"]  # /docs lists the codes


def test_predict_rejects_a_body_that_is_not_json(client):
    response = client.post("/api/predict", content=b"{warm", headers={"content-type": "application/json"})
    assert response.status_code == 422 and "not valid JSON" in response.json()["detail"]
    assert response.json()["code"] == "invalid_request"


def test_export_graphic_parametric_and_json(client):
    gains = predict(client, text="airy", amount=0.8)["gains_db"]
    graphic = client.post("/api/export", json={"text": "airy", "format": "graphic", "amount": 0.8}).json()
    pairs = graphic["preset"].removeprefix("GraphicEQ: ").strip().split("; ")
    assert graphic["filename"] == "airy-graphic.txt" and graphic["fit"] is None
    assert [float(p.split()[1]) for p in pairs] == pytest.approx(gains, abs=0.051)
    parametric = client.post("/api/export", json={"text": "airy", "format": "parametric", "filters": 6}).json()
    assert parametric["preset"].count("Filter ") == 6 and parametric["fit"]["filters"] == 6
    assert parametric["fit"]["max_error_db"] < 1.0
    curve = client.post("/api/export", json={"text": "airy", "format": "json", "amount": 0.8}).json()
    assert EqCurve.from_dict(json.loads(curve["preset"])).to_db(5.0).values == pytest.approx(gains, abs=1e-3)  # amount kept


def test_export_scales_by_the_confidence_unless_told_not_to(client, routed):
    """A curve sent back with its confidence exports as the page shows it; confidence_scaling=false at full strength."""
    shown = predict(routed, text="xyzzy")
    graphic = lambda **body: [float(p.split()[1]) for p in client.post(  # noqa: E731
        "/api/export", json={"curve": shown["predictions"][0], "format": "graphic", **body}).json()["preset"]
        .removeprefix("GraphicEQ: ").strip().split("; ")]
    assert graphic() == pytest.approx(shown["gains_db"], abs=0.051)
    assert graphic(confidence_scaling=False) == pytest.approx(np.array(shown["gains_db"]) * 10, abs=0.051)
    as_json = client.post("/api/export", json={"curve": shown["predictions"][0], "format": "json"}).json()
    reloaded = EqCurve.from_dict(json.loads(as_json["preset"]))
    assert reloaded.confidence == 0.1 and reloaded.to_db(5.0).values == pytest.approx(shown["gains_db"], abs=1e-3)
    by_text = routed.post("/api/export", json={"text": "xyzzy", "format": "graphic", "confidence_scaling": False}).json()
    assert by_text["preset"] == client.post("/api/export", json={"curve": shown["predictions"][0], "format": "graphic",
                                                                 "confidence_scaling": False}).json()["preset"]


def test_export_of_a_predicted_curve_matches_export_of_its_text(client):
    """The page sends the curve it shows back; "very" must not be lost on the way (its amount is 1.5)."""
    shown = predict(client, text="very warm")["predictions"][0]
    by_curve = client.post("/api/export", json={"curve": shown, "format": "graphic"}).json()
    by_text = client.post("/api/export", json={"text": "very warm", "format": "graphic"}).json()
    assert by_curve["preset"] == by_text["preset"]


@pytest.mark.parametrize("body, status, code, words", [
    ({"text": "airy", "format": "mp3"}, 422, "invalid_request", "format: Input should be 'graphic', 'parametric' or 'json'"),
    ({"format": "graphic"}, 400, "bad_request", 'Send a description in "text"'),
    ({"curve": {"curve_z": [1, 2]}, "format": "graphic"}, 400, "bad_curve", "Curve has 2 values"),
    ({"curve": {"curve_z": ["a"] * 40}, "format": "graphic"}, 400, "bad_curve", "must be numbers"),
    ({"text": "airy", "format": "parametric", "filters": 0}, 422, "invalid_request", "filters"),
])  # fmt: skip
def test_export_rejects_bad_input(client, body, status, code, words):
    response = client.post("/api/export", json=body)
    assert response.status_code == status and words in response.json()["detail"] and response.json()["code"] == code


def test_apply_returns_the_equalised_file_with_its_report(client, work_dir):
    response = apply(client, wav_bytes(tone(1.0)), text="warm")
    assert not any(work_dir.iterdir())  # the upload and the result are deleted once sent
    assert response.status_code == 200 and response.headers["content-type"] == "audio/wav"
    assert 'filename="song-eq.wav"' in response.headers["content-disposition"]
    audio, sample_rate = sf.read(io.BytesIO(response.content))
    assert sample_rate == SR and audio.shape == (SR, 2)
    assert response.headers["x-model"] == "knn" and response.headers["x-clipped"] == "false"
    assert float(response.headers["x-confidence"]) > 0.8  # "warm", a word the model trained on
    assert float(response.headers["x-duration-s"]) == pytest.approx(1.0)


def test_apply_changes_a_tone_by_the_gain_the_curve_shows(client):
    """A sine at one band centre comes out louder or quieter by that band's gain in dB (normalisation off)."""
    shown = predict(client, text="bright", amount=1.5)
    band = int(np.argmax(np.abs(shown["gains_db"][5:30]))) + 5  # a strongly boosted or cut mid band
    hz = BAND_CENTRES_HZ[band]
    source = 0.1 * tone(1.0, hz, channels=1)[:, 0]
    response = apply(client, wav_bytes(source), curve=json.dumps(shown["predictions"][0]), amount="1.5",
                     normalize="false", format="flac")
    assert response.status_code == 200 and response.headers["content-type"] == "audio/flac"
    out, _ = sf.read(io.BytesIO(response.content))
    middle = slice(SR // 4, 3 * SR // 4)  # away from the filter's start-up
    change_db = 20 * np.log10(np.std(out[middle]) / np.std(source[middle]))
    assert change_db == pytest.approx(shown["gains_db"][band], abs=0.5)


@pytest.mark.parametrize("scaling, factor", [("true", 0.5), ("false", 1.0)])
def test_apply_scales_by_the_curves_confidence_unless_told_not_to(client, scaling, factor):
    """A curve with confidence 0.5 changes a tone by half its band's gain, or by all of it with scaling off."""
    shown = predict(client, text="bright")["predictions"][0]
    band = int(np.argmax(np.abs(shown["gains_db"][5:30]))) + 5
    assert abs(shown["gains_db"][band]) > 2  # so half of it is told apart from all of it
    source = 0.1 * tone(1.0, BAND_CENTRES_HZ[band], channels=1)[:, 0]
    response = apply(client, wav_bytes(source), curve=json.dumps({**shown, "confidence": 0.5}), normalize="false",
                     confidence_scaling=scaling)
    assert response.status_code == 200 and response.headers["x-confidence"] == ("0.500" if scaling == "true" else "")
    out, _ = sf.read(io.BytesIO(response.content))
    middle = slice(SR // 4, 3 * SR // 4)
    change_db = 20 * np.log10(np.std(out[middle]) / np.std(source[middle]))
    assert change_db == pytest.approx(shown["gains_db"][band] * factor, abs=0.5)


def test_apply_normalises_a_loud_file_and_says_so(client):
    loud = tone(1.0, 4000, channels=1)[:, 0] * 3.9  # 0.975 peak; boosting presence pushes it over full scale
    response = apply(client, wav_bytes(loud), text="more presence", max_gain_db="6")
    assert response.status_code == 200
    assert float(response.headers["x-normalization-gain-db"]) < 0 and response.headers["x-clipped"] == "false"
    assert np.max(np.abs(sf.read(io.BytesIO(response.content))[0])) <= 1.0


@pytest.mark.parametrize("name, audio, fields, status, code, words", [
    ("notes.txt", b"just some words, not audio", {"text": "warm"}, 400, "unreadable_audio", "Cannot read notes.txt as audio"),
    ("empty.wav", b"", {"text": "warm"}, 400, "unreadable_audio", "is empty (0 bytes)"),
    ("song.wav", b"RIFF", {"text": " "}, 400, "empty_description", "description is empty"),
    ("song.wav", b"RIFF", {}, 400, "bad_request", 'Send a description in "text"'),
    ("song.wav", b"RIFF", {"text": "warm", "curve": "{}"}, 400, "bad_request", 'not both'),
    ("song.wav", b"RIFF", {"curve": "{not json"}, 400, "bad_curve", "The curve is not valid JSON"),
    ("song.wav", b"RIFF", {"text": "warm", "format": "aiff"}, 422, "invalid_request", "format: Input should be 'wav'"),
    ("long.wav", None, {"text": "warm"}, 422, "audio_too_long", "long.wav lasts 0:06; this server equalises files up to 0:05"),
    ("big.wav", b"\0" * (1024 * 1024 + 10), {"text": "warm"}, 413, "file_too_large", "up to 1 MB"),
])  # fmt: skip
def test_apply_rejects_bad_uploads_in_plain_words_and_leaves_no_files(client, work_dir, name, audio, fields, status,
                                                                      code, words):
    if audio is None:
        audio = wav_bytes(np.zeros(6 * 8000), 8000)
    response = apply(client, audio, name, **fields)
    detail = response.json()["detail"]
    assert response.status_code == status and words in detail and response.json()["code"] == code
    assert str(work_dir) not in detail and tempfile.gettempdir() not in detail  # the server's paths stay private
    assert not any(work_dir.iterdir())


def test_audio_errors_name_the_file_and_limits_in_params(client):
    long = apply(client, wav_bytes(np.zeros(6 * 8000), 8000), "long.wav", text="warm").json()
    assert long["params"] == {"filename": "long.wav", "seconds": 6.0, "max_seconds": 5.0}
    assert apply(client, b"not audio", "notes.txt", text="warm").json()["params"] == {"filename": "notes.txt"}
    assert apply(client, b"\0" * (1024 * 1024 + 10), "big.wav", text="warm").json()["params"] == {"max_mb": 1.0}


def test_apply_without_a_file_is_a_422(client):
    response = client.post("/api/apply", data={"text": "warm"})
    assert response.status_code == 422 and "file: Field required" in response.json()["detail"]


def test_a_chunked_upload_is_stopped_once_it_passes_the_limit(client):
    """Without a Content-Length (a chunked body) the bytes are counted as they arrive and refused past the limit."""

    def body():
        yield b'--xx\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n\r\n'
        for _ in range(64):
            yield b"\0" * 65536

    response = client.post("/api/apply", content=body(), headers={"content-type": "multipart/form-data; boundary=xx"})
    assert response.status_code == 413 and "up to 1 MB" in response.json()["detail"]
    assert response.json()["code"] == "file_too_large" and response.json()["params"] == {"max_mb": 1.0}


def test_predict_bodies_are_small(client):
    response = client.post("/api/predict", content=b" " * (2 * 1024 * 1024), headers={"content-type": "application/json"})
    assert response.status_code == 413 and response.json()["code"] == "body_too_large"
    assert client.get("/api/nothing-here").json() == {"detail": "Not Found"}  # FastAPI's own 404 is kept


@pytest.mark.parametrize("args, words", [
    (["--model", "glvoe"], "Unknown model 'glvoe'. Choose one of"),
    (["--max-upload-mb", "0"], "--max-upload-mb must be a positive number"),
    (["--max-audio-seconds", "-5"], "--max-audio-seconds must be a positive number"),
    (["--port", "70000"], "--port must be between 1 and 65535"),
    (["--model", "knn", "--models-dir", "{tmp}"], "No trained model 'knn' in"),
])  # fmt: skip
def test_serve_refuses_bad_settings_in_one_line(monkeypatch, capsys, tmp_path, args, words):
    import sys

    from lightning_eq.cli import main

    monkeypatch.setattr(sys, "argv", ["lightning-eq", "serve", *(a.format(tmp=tmp_path) for a in args)])
    with pytest.raises(SystemExit) as exit_info:
        main()
    err = capsys.readouterr().err
    assert exit_info.value.code == 1 and words in err and err.count("\n") == 1
