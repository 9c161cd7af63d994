"""`lightning-eq apply` and `export`: one-line summaries, presets on stdout or in files, one-line errors."""

from __future__ import annotations

import sys
import types

import numpy as np
import pytest
import soundfile as sf

from lightning_eq.cli import main
from lightning_eq.curves import EqCurve


def run_cli(monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "argv", ["lightning-eq", *map(str, args)])
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = exc.code or 0
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def files(tmp_path):
    t = np.arange(22050) / 44100
    sf.write(tmp_path / "in.wav", 0.99 * np.sin(2 * np.pi * 1000 * t), 44100, subtype="PCM_24")
    curve_z = np.exp(-0.5 * ((np.log2(EqCurve(np.zeros(40)).centres_hz) - np.log2(1000)) / 0.7) ** 2)
    EqCurve(curve_z, text="honky").save(tmp_path / "curve.json")
    return tmp_path


def test_apply_prints_one_summary_line(monkeypatch, capsys, files):
    code, out, _ = run_cli(monkeypatch, capsys, "apply", files / "in.wav", files / "out.flac", "--curve", files / "curve.json")
    assert code == 0 and out.count("\n") == 1
    assert "FLAC PCM_24" in out and "turned down" in out and "peak -0.1 dBFS" in out
    assert sf.info(files / "out.flac").format == "FLAC"


def test_apply_without_normalisation_warns_about_clipping(monkeypatch, capsys, files):
    code, out, _ = run_cli(
        monkeypatch, capsys, "apply", files / "in.wav", files / "out.wav", "--curve", files / "curve.json", "--no-normalize"
    )
    assert code == 0 and "WARNING: the output clips" in out and "level unchanged" in out


def test_apply_with_text_uses_the_predictor(monkeypatch, capsys, files):
    asked = {}

    def predict_curves(texts, model=None, models_dir=None, cache_dir=None):
        asked.update(texts=texts, model=model)
        return [EqCurve(EqCurve.load(files / "curve.json").values, text=texts[0], model="glove")]

    monkeypatch.setitem(sys.modules, "lightning_eq.predict", types.SimpleNamespace(predict_curves=predict_curves))
    code, out, _ = run_cli(
        monkeypatch, capsys, "apply", files / "in.wav", files / "out.wav", "--text", "warm", "--model", "glove",
        "--amount", "0.5", "--format", "ogg",
    )  # fmt: skip
    assert code == 0 and asked == {"texts": ["warm"], "model": "glove"}
    assert '"warm"' in out and sf.info(files / "out.wav").format == "OGG"


def test_export_prints_a_graphic_eq_line(monkeypatch, capsys, files):
    code, out, _ = run_cli(monkeypatch, capsys, "export", "--curve", files / "curve.json", "--format", "graphic")
    assert code == 0 and out.startswith("GraphicEQ: 20 ") and out.count("; ") == 39


def test_export_writes_a_parametric_file(monkeypatch, capsys, files):
    code, out, _ = run_cli(
        monkeypatch, capsys, "export", "--curve", files / "curve.json", "--format", "parametric", "--filters", "5",
        "--output", files / "preset.txt",
    )  # fmt: skip
    text = (files / "preset.txt").read_text()
    assert code == 0 and "fit error max" in out
    assert text.count("Filter ") == 5 and "Preamp: -" in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["apply", "{d}/in.wav", "{d}/out.wav"], "Give exactly one of --text"),
        (["apply", "{d}/missing.wav", "{d}/out.wav", "--curve", "{d}/curve.json"], "does not exist"),
        (["apply", "{d}/in.wav", "{d}/out.wav", "--curve", "{d}/in.wav"], "is not JSON"),
        (["apply", "{d}/in.wav", "{d}/out.wav", "--curve", "{d}/curve.json", "--format", "mp4"], "Unknown output format"),
        (["export", "--curve", "{d}/curve.json", "--format", "eqapo"], "Unknown export format"),
        (["export", "--curve", "{d}/curve.json", "--format", "graphic", "--max-gain-db", "0"], "max_gain_db must be"),
    ],
)
def test_bad_input_is_one_line_and_exit_code_1(monkeypatch, capsys, files, args, message):
    code, out, err = run_cli(monkeypatch, capsys, *(a.format(d=files) for a in args))
    assert code == 1 and err.startswith("error: ") and err.count("\n") == 1 and message in err
    assert not (files / "out.wav").exists()
