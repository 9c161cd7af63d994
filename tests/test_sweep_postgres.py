"""Two worker processes run one study on a real PostgreSQL server to its trial budget: every trial of the budget
finishes, Optuna's MaxTrialsCallback overshoots by at most one trial (workers - 1), every trial has one MLflow run
and the parent run ends once; a finished study is resumed, not run again. The server is a private cluster in a
temporary folder on a loopback port, made with initdb and pg_ctl (as the ``postgres`` user when the tests run as
root)."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

import optuna
import pytest
from mlflow import MlflowClient
from optuna.trial import TrialState

import system_deps
from engine import FakeVectors, write_space
from lightning_eq.config import Config
from lightning_eq.search.storage import sqlalchemy_url
from lightning_eq.training.nested import SweepRequest, sweep_model
from processes import free_port

WORKERS, BUDGET = 2, 8


def as_server_user(cmd: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: run its tools as the ``postgres`` user then."""
    if os.geteuid() != 0:
        return cmd
    return ["runuser", "-u", "postgres", "--", *cmd]


@pytest.fixture(scope="module")
def postgres_url():
    initdb, pg_ctl = system_deps.postgres_binaries()  # missing: fails with how to install them
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            pytest.fail("running as root, and there is no `postgres` user to run the PostgreSQL server as "
                        "(Debian's postgresql package creates it): run `.ci/system-deps`", pytrace=False)
    root = Path(tempfile.mkdtemp(prefix="lightning-eq-pg-"))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    data, port = root / "data", free_port()
    subprocess.run(as_server_user([initdb, "-D", str(data), "-U", "sweeps", "--auth=trust", "-E", "UTF8"]),
                   check=True, capture_output=True)
    opts = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
    subprocess.run(as_server_user([pg_ctl, "-D", str(data), "-o", opts, "-l", str(root / "log"), "-w", "start"]),
                   check=True, capture_output=True)
    try:
        yield f"postgresql://sweeps@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(as_server_user([pg_ctl, "-D", str(data), "-m", "immediate", "stop"]), capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


def overlap(a, b) -> bool:
    return a.datetime_start < b.datetime_complete and b.datetime_start < a.datetime_complete


@pytest.mark.slow
def test_two_workers_run_one_study_to_its_budget(tmp_path, postgres_url, data_all, hq_words):
    # Trials of about two seconds (no early stop, no pruner): both spawned workers are up before the budget is met.
    write_space(tmp_path, trials=BUDGET, sweep={"pruner": "none"},
                fixed={"head": {"max_epochs": 120, "patience": 120, "hidden_sizes": [16]}})
    tracking = f"sqlite:///{tmp_path}/mlflow.db"
    request = SweepRequest(["glove"], ["fold1"], workers=WORKERS, storage=postgres_url, tracking_uri=tracking,
                           sweeps_dir=tmp_path)
    result = sweep_model("glove", Config(), data_all, hq_words, FakeVectors(data_all.words), request)
    name = result.studies[0]["study"]

    study = optuna.load_study(study_name=name, storage=sqlalchemy_url(postgres_url))
    trials = study.trials
    assert [t.number for t in trials] == list(range(len(trials)))  # none lost
    assert all(t.state == TrialState.COMPLETE for t in trials)  # every trial of the budget finished, none failed
    # MaxTrialsCallback stops a worker after the trial that meets the budget; a trial that another worker started
    # meanwhile still finishes: at most WORKERS - 1 more.
    assert BUDGET <= len(trials) <= BUDGET + WORKERS - 1
    assert any(overlap(a, b) for a in trials for b in trials if a.number < b.number)  # two workers at once
    run_ids = [t.user_attrs["mlflow_run_id"] for t in trials]
    assert len(set(run_ids)) == len(trials)

    client = MlflowClient(tracking)
    parent_id = study.user_attrs["mlflow_parent_run_id"]
    runs = client.search_runs([client.get_run(parent_id).info.experiment_id])
    assert {r.info.run_id for r in runs if r.info.run_id != parent_id} == set(run_ids)
    assert {r.info.status for r in runs} == {"FINISHED"}
    # Ended once, when the budget was met and no trial ran: one summary, with every trial in it.
    assert [m.value for m in client.get_metric_history(parent_id, "trials/finished")] == [len(trials)]


@pytest.mark.slow
def test_a_finished_study_on_postgres_is_resumed_not_rerun(tmp_path, postgres_url, data_all, hq_words):
    write_space(tmp_path, trials=2, epochs=2)
    request = SweepRequest(["glove"], ["fold0"], storage=postgres_url, tracking_uri=None, sweeps_dir=tmp_path)
    vectors = FakeVectors(data_all.words)
    first = sweep_model("glove", Config(), data_all, hq_words, vectors, request)
    name = first.studies[0]["study"]
    before = optuna.load_study(study_name=name, storage=sqlalchemy_url(postgres_url)).trials
    again = sweep_model("glove", Config(), data_all, hq_words, vectors, request)
    after = optuna.load_study(study_name=name, storage=sqlalchemy_url(postgres_url)).trials
    assert len(before) == len(after) == 2 and [t.datetime_start for t in after] == [t.datetime_start for t in before]
    assert again.studies[0]["best_params"] == first.studies[0]["best_params"]
    assert again.folds[0].swept_test["test/mae_unit"] == pytest.approx(first.folds[0].swept_test["test/mae_unit"])
