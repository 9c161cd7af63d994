"""The JSON API through FastAPI's TestClient, with a real model (k nearest words on GloVe) injected."""

from __future__ import annotations

import io
import json
import tempfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from fastapi.testclient import TestClient

from lightning_eq.curves import BAND_CENTRES_HZ, EqCurve
from lightning_eq.web import WebSettings, create_app

SR = 44100


def build_predictor(folder: Path, data, hq_words):
    """Train the knn baseline on GloVe over all of SocialEQ, save it and load it back as `serve` would."""
    from lightning_eq.config import Config
    from lightning_eq.models.store import StoredModel, save_model
    from lightning_eq.pipeline import embed_words
    from lightning_eq.predict import load_predictor
    from lightning_eq.training.evaluate import fit_final

    cfg = Config()
    cfg.baseline.embedder, cfg.baseline.knn_k = "glove", [10]
    cfg.embedders.cache_dir = str(folder / "cache")
    model = fit_final("knn", cfg, data, hq_words, embed_words(data.words, ["glove"], cfg, cfg.embedders.cache_dir))
    save_model(StoredModel("knn", cfg, model), folder / "models")
    return load_predictor("knn", folder / "models", cfg.embedders.cache_dir)


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


def predict(client, **body) -> dict:
    response = client.post("/api/predict", json=body)
    assert response.status_code == 200, response.text
    return response.json()


def apply(client, audio: bytes, name: str = "song.wav", **fields):
    return client.post("/api/apply", files={"file": (name, audio, "audio/wav")}, data=fields)


def test_health_names_the_model_and_limits(client):
    assert client.get("/api/health").json() == {"status": "ok", "model": "knn", "bands": 40, "max_upload_mb": 1.0,
                                                "max_audio_seconds": 5.0}


def test_page_and_its_files_are_served_by_the_app(client):
    page = client.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    for path in ("/static/app.js", "/static/style.css"):
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
    assert max(map(abs, full["gains_db"])) == pytest.approx(6.0, abs=1e-3)  # the peak gain is the max gain
    assert np.allclose(np.array(half["gains_db"]) * 2, full["gains_db"], atol=1e-3)
    assert np.allclose(full["curve_unit"], (np.array(full["curve_z"]) + 4) / 8, atol=1e-5)


def test_predict_several_texts_and_opposites(client):
    out = predict(client, texts=["bright", "less bright"])
    bright, less = (np.array(p["gains_db"]) for p in out["predictions"])
    assert [p["text"] for p in out["predictions"]] == ["bright", "less bright"]
    assert out["gains_db"] == out["predictions"][0]["gains_db"]
    assert np.corrcoef(bright, less)[0, 1] < -0.9  # "less X" tilts the opposite way
    assert predict(client, text="very warm")["description_amount"] > 1


@pytest.mark.parametrize("body, status, words", [
    ({"text": "   "}, 400, "description is empty"),
    ({}, 400, 'exactly one of "text"'),
    ({"text": "warm", "texts": ["dark"]}, 400, 'exactly one of "text"'),
    ({"texts": []}, 400, "empty list"),
    ({"texts": ["warm"] * 33}, 400, "at most 32"),
    ({"text": "warm", "model": "glvoe"}, 400, "Unknown model 'glvoe'. Choose one of"),
    ({"text": "warm", "model": "glove"}, 404, "runs model 'knn'"),
    ({"text": "warm", "amount": "lots"}, 422, "amount: Input should be a valid number"),
    ({"text": "warm", "max_gain_db": 0}, 422, "max_gain_db: Input should be greater than 0"),
])  # fmt: skip
def test_predict_rejects_bad_input_in_plain_words(client, body, status, words):
    response = client.post("/api/predict", json=body)
    assert response.status_code == status and words in response.json()["detail"]


def test_predict_rejects_a_body_that_is_not_json(client):
    response = client.post("/api/predict", content=b"{warm", headers={"content-type": "application/json"})
    assert response.status_code == 422 and "not valid JSON" in response.json()["detail"]


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


def test_export_of_a_predicted_curve_matches_export_of_its_text(client):
    """The page sends the curve it shows back; "very" must not be lost on the way (its amount is 1.5)."""
    shown = predict(client, text="very warm")["predictions"][0]
    by_curve = client.post("/api/export", json={"curve": shown, "format": "graphic"}).json()
    by_text = client.post("/api/export", json={"text": "very warm", "format": "graphic"}).json()
    assert by_curve["preset"] == by_text["preset"]


@pytest.mark.parametrize("body, status, words", [
    ({"text": "airy", "format": "mp3"}, 422, "format: Input should be 'graphic', 'parametric' or 'json'"),
    ({"format": "graphic"}, 400, 'Send a description in "text"'),
    ({"curve": {"curve_z": [1, 2]}, "format": "graphic"}, 400, "Curve has 2 values"),
    ({"text": "airy", "format": "parametric", "filters": 0}, 422, "filters"),
])  # fmt: skip
def test_export_rejects_bad_input(client, body, status, words):
    response = client.post("/api/export", json=body)
    assert response.status_code == status and words in response.json()["detail"]


def test_apply_returns_the_equalised_file_with_its_report(client, work_dir):
    response = apply(client, wav_bytes(tone(1.0)), text="warm")
    assert not any(work_dir.iterdir())  # the upload and the result are deleted once sent
    assert response.status_code == 200 and response.headers["content-type"] == "audio/wav"
    assert 'filename="song-eq.wav"' in response.headers["content-disposition"]
    audio, sample_rate = sf.read(io.BytesIO(response.content))
    assert sample_rate == SR and audio.shape == (SR, 2)
    assert response.headers["x-model"] == "knn" and response.headers["x-clipped"] == "false"
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


def test_apply_normalises_a_loud_file_and_says_so(client):
    loud = tone(1.0, 4000, channels=1)[:, 0] * 3.9  # 0.975 peak; boosting presence pushes it over full scale
    response = apply(client, wav_bytes(loud), text="more presence", max_gain_db="6")
    assert response.status_code == 200
    assert float(response.headers["x-normalization-gain-db"]) < 0 and response.headers["x-clipped"] == "false"
    assert np.max(np.abs(sf.read(io.BytesIO(response.content))[0])) <= 1.0


@pytest.mark.parametrize("name, audio, fields, status, words", [
    ("notes.txt", b"just some words, not audio", {"text": "warm"}, 400, "Cannot read notes.txt as audio"),
    ("empty.wav", b"", {"text": "warm"}, 400, "is empty (0 bytes)"),
    ("song.wav", b"RIFF", {"text": " "}, 400, "description is empty"),
    ("song.wav", b"RIFF", {}, 400, 'Send a description in "text"'),
    ("song.wav", b"RIFF", {"text": "warm", "curve": "{}"}, 400, 'not both'),
    ("song.wav", b"RIFF", {"curve": "{not json"}, 400, "The curve is not valid JSON"),
    ("song.wav", b"RIFF", {"text": "warm", "format": "aiff"}, 422, "format: Input should be 'wav'"),
    ("long.wav", None, {"text": "warm"}, 422, "long.wav lasts 0:06; this server equalises files up to 0:05"),
    ("big.wav", b"\0" * (1024 * 1024 + 10), {"text": "warm"}, 413, "up to 1 MB"),
])  # fmt: skip
def test_apply_rejects_bad_uploads_in_plain_words_and_leaves_no_files(client, work_dir, name, audio, fields, status, words):
    if audio is None:
        audio = wav_bytes(np.zeros(6 * 8000), 8000)
    response = apply(client, audio, name, **fields)
    detail = response.json()["detail"]
    assert response.status_code == status and words in detail
    assert str(work_dir) not in detail and tempfile.gettempdir() not in detail  # the server's paths stay private
    assert not any(work_dir.iterdir())


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


def test_predict_bodies_are_small(client):
    response = client.post("/api/predict", content=b" " * (2 * 1024 * 1024), headers={"content-type": "application/json"})
    assert response.status_code == 413


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
