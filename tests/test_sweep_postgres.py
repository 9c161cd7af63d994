"""Two worker processes run one study on a real PostgreSQL server to its trial budget: no trial lost, none
duplicated, every trial with one MLflow run. The server is a private cluster in a temporary folder on a loopback
port, made with initdb and pg_ctl (as the ``postgres`` user when the tests run as root)."""

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
from lightning_eq.config import Config
from lightning_eq.tracking.studies import sqlalchemy_url
from lightning_eq.training.sweep import FoldData
from lightning_eq.tracking.sweeps import run_sweep
from test_sweep_helpers import fake_embeddings, free_port, write_space


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


@pytest.mark.slow
def test_two_workers_run_one_study_to_its_budget(tmp_path, postgres_url, data, hq_words):
    write_space(tmp_path, trials=6, epochs=40, sweep={"pruner": "none"})  # trials long enough for both to start
    tracking = f"sqlite:///{tmp_path}/mlflow.db"
    fold = FoldData(data, hq_words, fake_embeddings(data.words), 1)
    result = run_sweep("glove", Config(), fold, workers=2, storage=postgres_url, tracking_uri=tracking, sweeps_dir=tmp_path)
    assert (result.finished, result.failed, result.trials_run) == (6, 0, 6)

    trials = optuna.load_study(study_name="glove-fold1", storage=sqlalchemy_url(postgres_url)).trials
    assert [t.number for t in trials] == list(range(6))  # none lost, none extra
    assert all(t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in trials)
    assert len({t.user_attrs["worker"] for t in trials}) == 2  # both workers took trials
    run_ids = [t.user_attrs["mlflow_run_id"] for t in trials]
    assert len(set(run_ids)) == 6

    client = MlflowClient(tracking)
    runs = client.search_runs([client.get_run(result.parent_run_id).info.experiment_id])
    assert {r.info.run_id for r in runs if r.info.run_id != result.parent_run_id} == set(run_ids)
    assert {r.info.status for r in runs} == {"FINISHED"}


@pytest.mark.slow
def test_a_finished_study_on_postgres_is_resumed_not_rerun(tmp_path, postgres_url, data, hq_words):
    write_space(tmp_path, trials=2, epochs=2)
    fold = FoldData(data, hq_words, fake_embeddings(data.words), 0)
    first = run_sweep("glove", Config(), fold, storage=postgres_url, tracking_uri=None, sweeps_dir=tmp_path)
    again = run_sweep("glove", Config(), fold, storage=postgres_url, tracking_uri=None, sweeps_dir=tmp_path)
    assert (first.trials_run, again.trials_run, again.finished) == (2, 0, 2)
    assert again.best_params == first.best_params and again.test_mae_unit == pytest.approx(first.test_mae_unit)
