"""End-to-end runs on the real data and the real pretrained embedders (slow)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from lightning_eq.config import Config
from lightning_eq.curves import BAND_CENTRES_HZ
from lightning_eq.data.folds import fold_test_words
from lightning_eq.models.store import StoredModel, save_model, set_best_model
from lightning_eq.pipeline import embed_words
from lightning_eq.predict import load_predictor
from lightning_eq.training.evaluate import fit_final

pytestmark = pytest.mark.slow
CLI = str(Path(sys.executable).parent / "lightning-eq")
CENTRES = np.array(BAND_CENTRES_HZ)
LOW, HIGH = CENTRES <= 260, CENTRES >= 5000  # bottom and top octaves


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([CLI, *args], capture_output=True, text=True, timeout=900)


def test_evaluate_one_fold_then_predict(tmp_path, data, hq_words):
    reports, models = tmp_path / "reports", tmp_path / "models"
    done = cli("evaluate", "--models", "mean,ridge,gpt", "--protocol", "words", "--folds", "0",
               "--reports-dir", str(reports), "--models-dir", str(models), "--predictions", str(tmp_path / "pred.json"))
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads((reports / "evaluation.json").read_text())
    assert {(r["model"], r["split"]) for r in report["results"]} == {("mean", "fold0"), ("ridge", "fold0"), ("gpt", "fold0")}
    assert "| model | train MAE | test MAE" in (reports / "evaluation.md").read_text()
    by_model = {r["model"]: r for r in report["summary"]}
    assert by_model["ridge"]["test/r_word"] > by_model["mean"]["test/r_word"]  # an embedding beats no embedding

    predictions = json.loads((tmp_path / "pred.json").read_text())
    test_words = set(fold_test_words(data, hq_words)[0])
    rows = {r.row: r.descriptor for r in data.records}
    assert len(predictions) == 3 * sum(r.descriptor in test_words for r in data.records)
    for p in predictions[:50]:
        assert p["protocol"] == "words" and p["split"] == "fold0"
        assert p["descriptor"] in test_words and rows[p["row"]] == p["descriptor"]
        assert len(p["curve_z"]) == 40

    best = json.loads((models / "best.json").read_text())["model"]
    no_registry = ("--tracking-uri", f"sqlite:///{tmp_path}/empty.db")  # a champion in ./mlruns would answer instead
    done = cli("predict", "warm", "bright and airy", "--format", "json", "--models-dir", str(models), *no_registry)
    assert done.returncode == 0, done.stderr[-2000:]
    out = json.loads(done.stdout)
    assert out["freqs_hz"] == list(BAND_CENTRES_HZ)
    assert [p["text"] for p in out["predictions"]] == ["warm", "bright and airy"]
    assert all(len(p["curve_z"]) == 40 and len(p["curve_unit"]) == 40 and p["model"] == best for p in out["predictions"])

    table = cli("predict", "warm", "--model", "mean", "--models-dir", str(models), *no_registry)
    assert table.returncode == 0 and "19682 Hz" in table.stdout


@pytest.mark.parametrize("args, message", [
    (["predict", ""], "empty text"),
    (["predict", "warm", "--model", "glvoe"], "Unknown model 'glvoe'. Choose one of"),
    (["predict", "warm", "--format", "xml"], "Unknown --format 'xml'"),
    (["predict", "warm", "--models-dir", "/nonexistent", "--tracking-uri", "sqlite:////nonexistent/mlflow.db"], "No trained"),
    (["evaluate", "--folds", "7"], "--folds must be between 0 and 3"),
])
def test_bad_input_gets_one_line(args, message):
    done = cli(*args)
    assert done.returncode != 0
    assert message in done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1


@pytest.fixture(scope="module")
def trained_models(tmp_path_factory, data, hq_words):
    """The gpt head and ridge-on-gpt trained on all of SocialEQ, saved for the predictor."""
    cfg = Config()
    emb = embed_words(data.words, ["gpt"], cfg)
    models_dir = tmp_path_factory.mktemp("models")
    for key in ("gpt", "ridge"):
        save_model(StoredModel(key, cfg, fit_final(key, cfg, data, hq_words, emb)), models_dir)
    set_best_model(models_dir, "gpt", "test fixture")
    return models_dir


@pytest.mark.parametrize("key", ["gpt", "ridge"])
def test_bright_lifts_the_top_and_boomy_the_bottom(trained_models, key):
    """A physical sanity check: 'bright' is not in doubt, 'boomy' is not even in the data."""
    bright, boomy = load_predictor(key, trained_models).predict(["bright", "boomy"])
    assert bright.curve_z[HIGH].mean() > bright.curve_z[LOW].mean()
    assert boomy.curve_z[LOW].mean() > boomy.curve_z[HIGH].mean()


def test_less_bright_tilts_the_other_way(trained_models):
    bright, less = load_predictor("gpt", trained_models).predict(["bright", "less bright"])
    tilt = lambda c: c.to_db().values[HIGH].mean() - c.to_db().values[LOW].mean()  # noqa: E731
    assert tilt(bright) > 0 > tilt(less)
    very = load_predictor("gpt", trained_models).predict(["very bright"])[0]
    assert np.max(np.abs(very.to_db().values)) > np.max(np.abs(bright.to_db().values))


def test_spanish_descriptions_work_through_the_multilingual_head(data, hq_words):
    """Held-out words described in Spanish: the e5 head (trained on English) still tracks the true curves."""
    from lightning_eq.training.multilingual import all_texts, load_translations, score_translations

    cfg, translations = Config(), load_translations()
    emb = embed_words(all_texts(data, translations), ["e5"], cfg)
    score = score_translations(data, hq_words, emb, cfg, "e5", translations)
    assert score.n_words >= 30
    assert score.r_translated > score.r_mean_curve + 0.1
    assert score.r_between > 0.1  # the English and Spanish descriptions of a word get related curves
