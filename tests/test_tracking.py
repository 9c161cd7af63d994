"""MLflow around a sweep, on a SQLite store in tmp_path (FakeVectors, a tiny space): one parent run per study and
one child run per trial, each child run's status set from its trial's state in a ``finally`` (complete and pruned:
FINISHED with a ``state`` tag, failed: FAILED, a dead worker's: KILLED), the child's resolved configuration and
epoch curves, and on the parent the study's scores, the refit's test scores, the data as dataset inputs, figures
and the best checkpoint. The parent run ends once, also when the study is resumed."""

from __future__ import annotations

import optuna
import pytest
import torch
from mlflow import MlflowClient
from optuna.trial import TrialState

from engine import FakeVectors, fake_dim, write_space
from lightning_eq.config import Config, flatten, to_dict
from lightning_eq.errors import ConfigError
from lightning_eq.models.net import StackedNet
from lightning_eq.search import runner
from lightning_eq.search.runner import open_study, trial_config
from lightning_eq.tracking.experiments import KIND_TAG, TRAINING_KIND, VIEW_TAG_PREFIX, dataset_of
from lightning_eq.tracking.runs import EXPERIMENT, StudyTracking, TrialTracker, experiment_id, tracking_client
from lightning_eq.training.nested import SweepRequest, plan_for, sweep_model

optuna.logging.set_verbosity(optuna.logging.WARNING)
FAILING, PRUNED = 2, 3  # the trial numbers made to fail and to be pruned


class PruneOne(optuna.pruners.BasePruner):
    """Prunes trial ``number`` at its second epoch and no other: a pruned trial, through the real Lightning
    pruning callback, in every run of the fixture."""

    def __init__(self, number: int):
        self.number = number

    def prune(self, study, trial) -> bool:
        return trial.number == self.number and (trial.last_step or 0) >= 1


@pytest.fixture(scope="module")
def swept(tmp_path_factory, data_all, hq_words):
    """A tracked study on outer fold 0: 4 finished trials of a one-layer glove head (trial 2 fails, trial 3 is
    pruned), then the nested refit and its test scores on the parent run."""
    tmp = tmp_path_factory.mktemp("tracked")
    write_space(tmp, trials=4, epochs=4)
    request = SweepRequest(["glove"], ["fold0"], storage=f"sqlite:///{tmp}/optuna.db",
                           tracking_uri=f"sqlite:///{tmp}/mlflow.db", sweeps_dir=tmp)
    vectors = FakeVectors(data_all.words)
    real, calls = runner.cross_validate, []

    def failing_once(*args, **kwargs):
        calls.append(1)
        if len(calls) == FAILING + 1:
            raise RuntimeError("out of memory (simulated)")
        return real(*args, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(runner, "cross_validate", failing_once)
        mp.setattr(runner, "_pruner", lambda sweep: PruneOne(PRUNED))
        result = sweep_model("glove", Config(), data_all, hq_words, vectors, request)
    study = optuna.load_study(study_name=result.studies[0]["study"], storage=request.storage)
    client = MlflowClient(request.tracking_uri)
    return {"result": result, "study": study, "client": client, "tmp": tmp, "request": request, "vectors": vectors,
            "parent": study.user_attrs["mlflow_parent_run_id"]}


def children(client, parent_id: str) -> dict[int, object]:
    """{trial number: child run}."""
    exp = client.get_run(parent_id).info.experiment_id
    runs = client.search_runs([exp], f"tags.mlflow.parentRunId = '{parent_id}'")
    return {int(r.data.tags["optuna.trial"]): r for r in runs}


def test_one_parent_run_per_study_and_one_child_run_per_trial(swept):
    client, study = swept["client"], swept["study"]
    parent = client.get_run(swept["parent"])
    assert parent.info.run_name == study.study_name and parent.info.status == "FINISHED"
    assert parent.data.tags["optuna.study"] == study.study_name and parent.data.tags["scope"] == "fold0"
    exp = client.get_experiment(parent.info.experiment_id)
    assert exp.name == EXPERIMENT and exp.artifact_location.startswith(swept["tmp"].as_uri())
    runs = children(client, swept["parent"])
    assert sorted(runs) == [t.number for t in study.trials] == [0, 1, 2, 3, 4]
    assert {n: r.info.run_id for n, r in runs.items()} == {t.number: t.user_attrs["mlflow_run_id"] for t in study.trials}
    assert client.search_runs([exp.experiment_id], "tags.`mlflow.parentRunId` IS NULL")[0].info.run_id == swept["parent"]


def test_a_child_run_status_follows_its_trial_state(swept):
    runs, study = children(swept["client"], swept["parent"]), swept["study"]
    states = {t.number: t.state for t in study.trials}
    assert states == {0: TrialState.COMPLETE, 1: TrialState.COMPLETE, FAILING: TrialState.FAIL,
                      PRUNED: TrialState.PRUNED, 4: TrialState.COMPLETE}
    for number, run in runs.items():
        expected = {TrialState.COMPLETE: ("FINISHED", "COMPLETE"), TrialState.PRUNED: ("FINISHED", "PRUNED"),
                    TrialState.FAIL: ("FAILED", "FAIL")}[states[number]]
        assert (run.info.status, run.data.tags["state"]) == expected, number
        assert run.info.end_time is not None and run.data.metrics["trial_seconds"] > 0
    assert runs[FAILING].data.tags["error"] == "RuntimeError: out of memory (simulated)"
    assert runs[0].data.tags["default"] == "true" and runs[1].data.tags["default"] == "false"


def test_a_complete_child_run_holds_its_resolved_config_epoch_curves_and_objective(swept):
    client, study = swept["client"], swept["study"]
    runs = children(client, swept["parent"])
    for trial in study.get_trials(states=(TrialState.COMPLETE,)):
        run = runs[trial.number]
        resolved = {k: str(v) for k, v in flatten(to_dict(trial_config(trial))).items()}
        assert {k: run.data.params[k] for k in resolved} == resolved  # what a refit trains
        assert {k: run.data.params[k] for k in trial.params} == {k: str(v) for k, v in trial.params.items()}
        assert run.data.params["head.max_epochs"] == str(trial.user_attrs["config"]["head"]["max_epochs"])
        assert run.data.metrics["val/mae_unit"] == pytest.approx(trial.value)
        assert run.data.metrics["val/mae_unit_se"] == pytest.approx(trial.user_attrs["cv"]["stderr"])
        val = client.get_metric_history(run.info.run_id, "epoch/val/mae_unit")
        train = client.get_metric_history(run.info.run_id, "epoch/train/mae_unit")
        assert [m.step for m in val] == [m.step for m in train] == list(range(len(val))) and 1 <= len(val) <= 4
        best = int(run.data.metrics["val/best_epoch"])
        assert val[best].value == pytest.approx(trial.value, abs=1e-6)  # the objective is the best epoch's mean


def test_a_pruned_child_run_shows_the_epoch_it_was_pruned_at(swept):
    """Regression: the pruning callback ran before the epoch logger, so a pruned run's curve stopped one epoch short
    of the value the pruner judged."""
    pruned, trial = children(swept["client"], swept["parent"])[PRUNED], swept["study"].trials[PRUNED]
    val = swept["client"].get_metric_history(pruned.info.run_id, "epoch/val/mae_unit")
    assert {m.step: pytest.approx(m.value) for m in val} == trial.intermediate_values and len(val) == 2
    assert pruned.data.params == {k: str(v) for k, v in trial.params.items()}  # no resolved config: it never finished


def test_the_parent_run_shows_the_study_the_refit_test_scores_and_its_data(swept, data_all, hq_words):
    client, result = swept["client"], swept["result"]
    summary = result.studies[0]
    parent = client.get_run(swept["parent"])
    m = parent.data.metrics
    assert m["best/val_mae_unit"] == pytest.approx(summary["best_value"])
    assert m["best/val_mae_unit_se"] == pytest.approx(summary["best_se"]) and summary["best_se"] > 0
    assert m["default/val_mae_unit"] == pytest.approx(swept["study"].trials[0].value)
    assert m["trials/finished"] == 4 and m["trials/failed"] == 1 and m["trials/pruned"] == 1
    assert parent.data.tags["best_trial"] == str(summary["best_trial"])
    fold = result.folds[0]
    for key in ("test/mae_unit", "test/r_word", "test/r_word_pos"):
        assert m[key] == pytest.approx(fold.swept_test[key]) and m[f"default/{key}"] == pytest.approx(fold.default_test[key])
    inputs = {i.tags[0].value: i.dataset for i in parent.inputs.dataset_inputs}
    assert set(inputs) == {"training", "test"} and {d.name for d in inputs.values()} == {"socialeq"}
    plan, test = plan_for("glove", "fold0", Config(), data_all, hq_words, swept["request"])
    assert inputs["training"].digest == dataset_of(data_all, list(plan.table.ids)).digest
    assert inputs["test"].digest == dataset_of(data_all, list(test.ids)).digest
    assert not set(plan.table.words) & set(test.words)


def test_the_parent_run_holds_figures_and_a_best_checkpoint_that_loads_into_a_stacked_net(swept):
    client, tmp = swept["client"], swept["tmp"]
    files = {a.path for a in client.list_artifacts(swept["parent"])}
    assert {"optimization_history.png", "param_importances.png", "intermediate_values.png", "curves_test.png",
            "best", "best_checkpoint"} <= files
    assert {a.path for a in client.list_artifacts(swept["parent"], "best_checkpoint")} == {
        "best_checkpoint/glove.pkl", "best_checkpoint/glove.pt"}
    path = client.download_artifacts(swept["parent"], "best_checkpoint/glove.pt", str(tmp / "download"))
    saved = torch.load(path, weights_only=True)
    head = saved["head"]
    net = StackedNet(1, saved["input_dims"], head["hidden_sizes"], head["dropout"], saved["kind"], head["attention_dim"],
                     head["input_dropout"])
    net.load_state_dict(saved["state_dict"])
    model = swept["result"].folds[0].models["swept"]
    x = torch.randn(5, saved["input_dims"]["glove"])
    assert saved["input_dims"] == {"glove": fake_dim("glove")} and head["hidden_sizes"] == [16]
    assert net.predict(x, member=0).numpy() == pytest.approx(model.predict({"glove": x.numpy()}, 5), abs=1e-5)


def test_the_experiment_opens_on_training_runs_with_the_study_view(swept):
    client = swept["client"]
    exp = client.get_experiment(client.get_run(swept["parent"]).info.experiment_id)
    assert exp.tags[KIND_TAG] == TRAINING_KIND and VIEW_TAG_PREFIX + "studies" in exp.tags


def test_a_resumed_study_reuses_its_parent_run_which_ends_once_per_budget(swept, data_all, hq_words):
    """Regression: resumed with a larger --trials, a study kept the budget it was created with (user attribute
    ``trials``), so its finished parent run was not reopened: the new trials ran under a FINISHED parent whose
    scores and trial counts stayed those of the old budget."""
    client, request, parent_id = swept["client"], swept["request"], swept["parent"]
    before = client.get_run(parent_id).info.end_time
    sweep_model("glove", Config(), data_all, hq_words, swept["vectors"], request)  # at its budget: nothing to run
    again = client.get_run(parent_id)
    assert (again.info.status, again.info.end_time) == ("FINISHED", before) and len(children(client, parent_id)) == 5
    assert [m.value for m in client.get_metric_history(parent_id, "trials/finished")] == [4]

    request.trials = 5
    try:
        result = sweep_model("glove", Config(), data_all, hq_words, swept["vectors"], request)
    finally:
        request.trials = None
    study = optuna.load_study(study_name=swept["study"].study_name, storage=request.storage)
    assert study.user_attrs["mlflow_parent_run_id"] == parent_id and study.user_attrs["trials"] == 5
    resumed = client.get_run(parent_id)
    assert resumed.info.status == "FINISHED" and resumed.info.end_time > before
    assert sorted(children(client, parent_id)) == [0, 1, 2, 3, 4, 5]
    assert [m.value for m in client.get_metric_history(parent_id, "trials/finished")] == [4, 5]  # closed once more
    assert resumed.data.metrics["best/val_mae_unit"] == pytest.approx(result.studies[0]["best_value"])


@pytest.mark.filterwarnings("ignore:Heartbeat of storage is supposed to be used with Study.optimize")
def test_a_dead_workers_run_is_closed_killed(tmp_path, data_all, hq_words):
    """A worker killed mid-trial cannot end its run; once its trial is failed by the heartbeat, the next trial on any
    worker marks the run KILLED (tests/test_sweep_faults.py does it with a real SIGKILL)."""
    write_space(tmp_path)
    plan, _ = plan_for("glove", "fold1", Config(), data_all, hq_words, SweepRequest(["glove"], ["fold1"], sweeps_dir=tmp_path))
    study = open_study(plan, f"sqlite:///{tmp_path}/optuna.db")
    client = tracking_client(f"sqlite:///{tmp_path}/mlflow.db")
    exp = experiment_id(client)
    parent = client.create_run(exp).info.run_id
    run_id = client.create_run(exp, tags={"mlflow.parentRunId": parent}).info.run_id
    trial = study.ask()
    trial.set_user_attr("mlflow_run_id", run_id)
    study.tell(trial, state=TrialState.FAIL)  # what the heartbeat does to a dead worker's trial
    tracker = TrialTracker(None, StudyTracking(f"sqlite:///{tmp_path}/mlflow.db", exp, parent))
    assert tracker.close_stale_runs(study) == 1
    run = client.get_run(run_id)
    assert run.info.status == "KILLED" and run.data.tags["state"] == "FAIL" and "heartbeat" in run.data.tags["error"]
    assert tracker.close_stale_runs(study) == 0


def test_an_interrupted_trial_leaves_its_run_killed(tmp_path, data_all, hq_words, monkeypatch):
    """Ctrl-C mid-trial: the trial fails, its run ends KILLED (not RUNNING), and the interrupt reaches the caller."""
    write_space(tmp_path, trials=2)

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(runner, "cross_validate", interrupted)
    request = SweepRequest(["glove"], ["fold2"], storage=f"sqlite:///{tmp_path}/optuna.db",
                           tracking_uri=f"sqlite:///{tmp_path}/mlflow.db", sweeps_dir=tmp_path)
    with pytest.raises(KeyboardInterrupt):
        sweep_model("glove", Config(), data_all, hq_words, FakeVectors(data_all.words), request)
    client = MlflowClient(request.tracking_uri)
    runs = client.search_runs([client.get_experiment_by_name(EXPERIMENT).experiment_id])
    statuses = {r.data.tags.get("optuna.trial", "parent"): r.info.status for r in runs}
    # The parent stays open: the study lacks its budget, and a resumed run (or another machine) closes it.
    assert statuses == {"parent": "RUNNING", "0": "KILLED"}
    [trial] = optuna.load_study(study_name=runs[0].data.tags["optuna.study"], storage=request.storage).trials
    assert trial.state == TrialState.FAIL and trial.datetime_complete is not None


def test_a_folder_is_not_a_tracking_store():
    with pytest.raises(ConfigError, match="plain folder"):
        tracking_client("./mlruns")
