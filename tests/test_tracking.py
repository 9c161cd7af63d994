"""MLflow around a sweep, on a SQLite store in tmp_path: a parent run per study, a child run per trial with its
curves and tags, figures and the best checkpoint on the parent, and no run left RUNNING by a failure."""

from __future__ import annotations

import pytest
from mlflow import MlflowClient
from optuna.trial import TrialState

from lightning_eq.config import Config
from lightning_eq.tracking.studies import load_study, open_storage
from lightning_eq.training.sweep import FoldData, Objective
from lightning_eq.tracking.runs import EXPERIMENT, TrialTracker, experiment_id, tracking_client
from lightning_eq.tracking.sweeps import run_sweep
from lightning_eq.training.space import load_spec
from test_sweep_helpers import fake_embeddings, write_space


@pytest.fixture(scope="module")
def emb(data):
    return fake_embeddings(data.words)


@pytest.fixture(scope="module")
def swept(tmp_path_factory, data, hq_words, emb):
    """One tracked study of three trials of four epochs."""
    tmp = tmp_path_factory.mktemp("tracked")
    write_space(tmp, trials=3, epochs=4)
    uri = f"sqlite:///{tmp}/mlflow.db"
    result = run_sweep("glove", Config(), FoldData(data, hq_words, emb, 2), storage=f"sqlite:///{tmp}/optuna.db",
                       tracking_uri=uri, sweeps_dir=tmp)
    return result, MlflowClient(uri), tmp


def children(client, parent_id):
    exp = client.get_run(parent_id).info.experiment_id
    return client.search_runs([exp], f"tags.mlflow.parentRunId = '{parent_id}'")


def test_one_parent_run_per_study_and_one_child_per_trial(swept):
    result, client, tmp = swept
    parent = client.get_run(result.parent_run_id)
    assert parent.info.run_name == "glove-fold2" and parent.info.status == "FINISHED"
    assert client.get_experiment(parent.info.experiment_id).artifact_location.startswith(f"file://{tmp}")
    runs = children(client, result.parent_run_id)
    assert sorted(r.data.tags["optuna.trial"] for r in runs) == ["0", "1", "2"]
    assert all(r.info.status == "FINISHED" for r in runs)


def test_a_child_run_holds_params_epoch_curves_metrics_and_tags(swept):
    result, client, _ = swept
    run = next(r for r in children(client, result.parent_run_id) if r.data.tags["optuna.state"] == "COMPLETE")
    assert {"head.dropout", "head.lr", "head.max_epochs", "trainer.seed"} <= set(run.data.params)
    assert run.data.params["head.max_epochs"] == "4"
    tags = run.data.tags
    assert (tags["model"], tags["fold"], tags["seed"]) == ("glove", "2", "0")
    assert len(tags["git_commit"]) == 40 and tags["embedder.glove"] == Config().embedders.glove_model
    val = client.get_metric_history(run.info.run_id, "val/mae_unit")
    train = client.get_metric_history(run.info.run_id, "train/mae_unit")
    assert [m.step for m in train] == [0, 1, 2, 3] and [m.step for m in val][:4] == [0, 1, 2, 3]
    assert val[-1].step == 4 and val[-1].value == pytest.approx(min(m.value for m in val[:4]), abs=1e-5)
    assert {"val/r_word", "chosen.best_epoch", "trial_seconds"} <= set(run.data.metrics)


def test_the_parent_run_shows_the_study_and_its_single_test_score(swept):
    result, client, _ = swept
    parent = client.get_run(result.parent_run_id)
    assert parent.data.metrics["best/val_mae_unit"] == pytest.approx(result.val_mae_unit)
    assert parent.data.metrics["test/mae_unit"] == pytest.approx(result.test_mae_unit)
    assert parent.data.tags["best_trial"] == str(result.best_trial)
    files = {a.path for a in client.list_artifacts(result.parent_run_id)}
    assert {"optimization_history.png", "param_importances.png", "curves_test.png", "best", "best_checkpoint",
            "sweep"} <= files
    ckpts = {a.path for a in client.list_artifacts(result.parent_run_id, "best_checkpoint")}
    assert ckpts == {"best_checkpoint/glove.pkl", "best_checkpoint/glove.ckpt"}


def test_the_best_checkpoint_loads_as_a_lightning_module(swept):
    from lightning_eq.models.head import EqHead

    result, client, tmp = swept
    path = client.download_artifacts(result.parent_run_id, "best_checkpoint/glove.ckpt", str(tmp))
    head = EqHead.load_from_checkpoint(path, map_location="cpu")
    assert head.hparams["key"] == "glove" and head.cfg.max_epochs == result.chosen["best_epoch"] + 1


def test_a_resumed_study_reuses_its_parent_run(swept, data, hq_words, emb):
    result, client, tmp = swept
    again = run_sweep("glove", Config(), FoldData(data, hq_words, emb, 2), trials=4, storage=f"sqlite:///{tmp}/optuna.db",
                      tracking_uri=f"sqlite:///{tmp}/mlflow.db", sweeps_dir=tmp)
    assert again.parent_run_id == result.parent_run_id and again.trials_run == 1
    assert len(children(client, result.parent_run_id)) == 4


def test_a_failing_trial_leaves_its_run_failed(tmp_path, data, hq_words, emb, monkeypatch):
    write_space(tmp_path, trials=2, epochs=2)

    def broken(self, trial, callbacks=()):
        trial.suggest_float("head.dropout", 0.0, 0.5)
        raise RuntimeError("out of memory (simulated)")

    monkeypatch.setattr(Objective, "run", broken)
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    with pytest.raises(RuntimeError, match="simulated"):
        run_sweep("glove", Config(), FoldData(data, hq_words, emb, 0), storage=f"sqlite:///{tmp_path}/optuna.db",
                  tracking_uri=uri, sweeps_dir=tmp_path)
    client = MlflowClient(uri)
    runs = client.search_runs([client.get_experiment_by_name(EXPERIMENT).experiment_id])
    statuses = {r.info.run_name: r.info.status for r in runs}
    assert statuses == {"glove-fold0": "FAILED", "glove-fold0-trial0": "FAILED"}
    child = next(r for r in runs if r.info.run_name == "glove-fold0-trial0")
    assert "simulated" in child.data.tags["error"] and child.data.params["head.dropout"]


@pytest.mark.filterwarnings("ignore:Heartbeat of storage is supposed to be used with Study.optimize")
def test_runs_of_trials_failed_by_heartbeat_are_closed(tmp_path):
    """A worker killed mid-trial cannot end its run; once the trial is failed, the run must not stay RUNNING."""
    spec = load_spec("glove", write_space(tmp_path).parent)
    storage = open_storage(f"sqlite:///{tmp_path}/optuna.db", spec.sweep)
    study = load_study("glove-fold0", storage, spec.sweep)
    client = tracking_client(f"sqlite:///{tmp_path}/mlflow.db")
    exp = experiment_id(client)
    run_id = client.create_run(exp).info.run_id
    trial = study.ask()
    trial.set_user_attr("mlflow_run_id", run_id)
    study.tell(trial, state=TrialState.FAIL)  # what the heartbeat does to a dead worker's trial
    tracker = TrialTracker(None, client, exp, "parent", {})
    assert tracker.close_stale_runs(study) == 1
    assert client.get_run(run_id).info.status == "KILLED"
    assert tracker.close_stale_runs(study) == 0


def test_a_folder_is_not_a_tracking_store():
    from lightning_eq.errors import ConfigError

    with pytest.raises(ConfigError, match="plain folder"):
        tracking_client("./mlruns")
