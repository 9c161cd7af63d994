"""The nested estimate of the whole procedure: `lightning-eq run` on a small budget (fake embeddings, real data),
then its reports. The procedure row heads the nested table; inside each outer fold the champion is chosen by the
inner objective of the fold studies (never by a test word); reports/predictions.json holds every nested test
prediction, and rescoring it from the data alone gives the reports' figures exactly."""

from __future__ import annotations

import json
import math

import numpy as np
import optuna
import pytest

from engine import FakeVectors, write_space
from lightning_eq import pipeline
from lightning_eq.config import Config
from lightning_eq.models.catalog import DESCRIPTIONS
from lightning_eq.search.selection import route_models
from lightning_eq.training import promote
from lightning_eq.training.evaluate import rescore
from lightning_eq.training.procedure import PROCEDURE
from lightning_eq.training.report import nested_rescored

optuna.logging.set_verbosity(optuna.logging.WARNING)
MODELS = ("ridge", "e5", "mean", "flat")


@pytest.fixture(scope="module")
def job(tmp_path_factory, data_all):
    tmp = tmp_path_factory.mktemp("job")
    head = {"head": {"max_epochs": 3, "patience": 2, "hidden_sizes": [8]}}
    write_space(tmp / "sweeps", "e5", trials=2, fixed=head | {"data": {"language": "all"}})
    write_space(tmp / "sweeps", "ridge", trials=2, sweep={"pruner": "none"}, fixed={"baseline": {"embedder": "glove"}},
                space={"baseline.ridge_alpha": {"low": 1.0, "high": 10000.0, "log": True}})
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(pipeline, "Vectors", lambda words, cache_dir=None: FakeVectors(words))
        patch.setattr(promote, "fit_confidence", lambda *args: None)  # it embeds unseen phrases with the real model
        result = pipeline.run_job(Config(), pipeline.Job(models=MODELS, storage=f"sqlite:///{tmp}/optuna.db",
                                                         reports_dir=tmp / "reports", models_dir=tmp / "models",
                                                         sweeps_dir=tmp / "sweeps", random_seeds=(0,)))
    return result, tmp / "reports"


def test_each_fold_chooses_its_champion_by_the_inner_objective_of_its_studies(job):
    result, _ = job
    assert [p.outcome.fold for p in result.procedure] == [0, 1, 2, 3]
    for p in result.procedure:
        fold = {o.key: o for s in result.sweeps for o in s.folds if o.fold == p.outcome.fold}
        assert set(fold) == set(MODELS)
        for label in ("default", "swept"):
            expected = route_models({k: o.candidate(label) for k, o in fold.items()}, ("e5",))
            assert (p.routes[label].champion, p.routes[label].multilingual) == (expected.champion, expected.multilingual)
            english = {k: o.candidate(label).english for k, o in fold.items()}
            assert english[p.routes[label].champion] == min(english.values())  # no test figure took part
        # Each test record answered by its language's route, from that model's refit on the fold.
        routes, test = p.routes["swept"], p.outcome.test
        assert "es" in test.langs and "en" in test.langs
        for i in (test.langs.index("en"), test.langs.index("es")):
            key = routes.champion if test.langs[i] == "en" or routes.multilingual is None else routes.multilingual
            source = fold[key]
            assert np.array_equal(p.outcome.predictions["swept"][i], source.predictions["swept"][source.test.ids.index(test.ids[i])])


def test_the_procedure_heads_the_reports_and_says_what_each_fold_chose(job):
    result, reports = job
    report = json.loads((reports / "evaluation.json").read_text())
    assert report["nested"][0]["model"] == PROCEDURE and {r["model"] for r in report["nested"]} == {PROCEDURE, *MODELS}
    assert all(r["routes"]["swept"]["champion"] in MODELS for r in report["nested"] if r["model"] == PROCEDURE)
    table = result.tables["nested"].splitlines()
    assert "procedure" in table[2] and "fold 0" in result.tables["nested"]
    assert result.tables["procedure"].startswith("English test words: test MAE") and "Spanish test words" in result.tables["procedure"]
    markdown = (reports / "evaluation.md").read_text()
    assert markdown.index("whole procedure") < markdown.index("Nested estimate")
    assert report["meta"]["champion"] == result.champion and math.isfinite(report["nested"][0]["swept_test"]["test/en/mae_unit"])


def test_predictions_json_recomputes_the_nested_table_exactly(job, data_all):
    result, reports = job
    rows = json.loads((reports / "predictions.json").read_text())
    nested = [r for r in rows if r["protocol"] == "nested"]
    assert {(r["model"], r["config"]) for r in nested} == {(m, c) for m in (PROCEDURE, *MODELS) for c in ("default", "swept")}
    assert {r["split"] for r in nested} == {f"fold{k}" for k in range(4)}
    assert all(len(r["curve_z"]) == 40 and data_all.records[r["row"]].descriptor == r["descriptor"] for r in nested)
    rescored = rescore(rows, data_all)
    report = json.loads((reports / "evaluation.json").read_text())
    by = {(r["model"], r["split"], r["config"]): r for r in rescored}
    for r in report["nested"]:
        for label, test in (("default", r["default_test"]), ("swept", r["swept_test"])):
            again = by[(r["model"], f"fold{r['fold']}", label)]
            assert {k: again[k] for k in test} == test  # exactly, not approximately
    assert result.tables["nested"].startswith(nested_rescored(rescored, DESCRIPTIONS))
    assert {r["protocol"] for r in rows} == {"nested", "random"}


def test_evaluate_rescore_prints_the_tables_of_a_predictions_file(job, data_all, monkeypatch, capsys):
    import sys

    from lightning_eq.cli import main

    def cli(*args: str) -> tuple[int, str, str]:
        monkeypatch.setattr(sys, "argv", ["lightning-eq", *args])
        try:
            main()
            code = 0
        except SystemExit as done:
            code = done.code or 0
        return (code, *capsys.readouterr())

    _, reports = job
    code, out, _ = cli("evaluate", "--rescore", str(reports / "predictions.json"))
    assert code == 0
    assert nested_rescored(rescore(json.loads((reports / "predictions.json").read_text()), data_all), DESCRIPTIONS) in out
    assert "Random 80/20 split" in out
    code, out, err = cli("evaluate", "--rescore", str(reports / "evaluation.md"))
    assert code == 1 and "not a predictions file" in err and err.count("\n") == 1
