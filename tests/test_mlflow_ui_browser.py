"""The MLflow UI on a finished sweep, in headless Chromium: the link the project gives opens the sweep experiment on
its training runs, and the runs table shows each study's best validation score and test scores, best study first.

The sweep is written with MlflowClient calls in the project's layout (experiment ``lightning-eq-sweeps``, one parent
run per study named like ``gpt-fold0``, one child run per trial tagged ``mlflow.parentRunId``). ``mlflow ui`` runs
as ``lightning-eq ui`` runs it (job consumers included) in a session of its own; at the end the test checks that
every process it started is gone: the UI's whole tree, Playwright's driver and Chromium.
Chromium is Debian's (/usr/bin/chromium, installed by .ci/run); Playwright never downloads a browser.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import psutil
import pytest
from mlflow import MlflowClient
from mlflow.entities import Metric

from lightning_eq.tracking.experiments import (BEST_METRIC, dataset_of, get_or_create_experiment, log_dataset,
                                               runs_page_url, save_study_view)

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
SWEEP_EXPERIMENT = "lightning-eq-sweeps"  # tracking/runs.EXPERIMENT, not imported: runs.py loads Lightning
# Scores as a real sweep logs them: full-precision floats, which the table prints as JavaScript does (= repr).
STUDIES = {
    "gpt-fold0": {BEST_METRIC: 0.08123456789, "test/mae_unit": 0.09741234, "test/word_mae_unit": 0.0759,
                  "test/r_word": 0.40123, "test/r_word_pos": 0.76, "trials/finished": 3.0},
    "ridge-fold0": {BEST_METRIC: 0.07987654321, "test/mae_unit": 0.09731111, "test/word_mae_unit": 0.0763,
                    "test/r_word": 0.3911, "test/r_word_pos": 0.79, "trials/finished": 3.0},
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def finished_sweep(uri: str, data) -> tuple[str, dict[str, str]]:
    """The sweep experiment with one finished parent run per study and three finished trials under each."""
    client = MlflowClient(uri)
    exp_id = get_or_create_experiment(client, SWEEP_EXPERIMENT)
    parents = {}
    for study, metrics in STUDIES.items():
        parent = client.create_run(exp_id, run_name=study, tags={"optuna.study": study}).info.run_id
        for trial in range(3):
            child = client.create_run(exp_id, run_name=f"{study}-trial{trial}", tags={
                "mlflow.parentRunId": parent, "optuna.study": study, "optuna.trial": str(trial)}).info.run_id
            client.log_batch(child, metrics=[Metric("val/mae_unit", metrics[BEST_METRIC] + 0.01 / (epoch + 1), 0, epoch)
                                             for epoch in range(3)])
            client.set_terminated(child)
        client.log_batch(parent, metrics=[Metric(k, v, 0, 0) for k, v in metrics.items()])
        log_dataset(client, parent, data)
        client.set_terminated(parent)
        parents[study] = parent
    save_study_view(client, exp_id)
    return exp_id, parents


def session_members(sid: int) -> list[psutil.Process]:
    """Live (not zombie) processes of session ``sid``."""
    members = []
    for proc in psutil.process_iter(["status"]):
        with contextlib.suppress(ProcessLookupError, PermissionError, psutil.Error):
            if os.getsid(proc.pid) == sid and proc.info["status"] != psutil.STATUS_ZOMBIE:
                members.append(proc)
    return members


def job_queue_folder(pid: int) -> Path | None:
    """The folder `mlflow ui` made for its job queue (``_MLFLOW_HUEY_STORAGE_PATH`` in its children's environment)."""
    with contextlib.suppress(psutil.Error):
        for child in psutil.Process(pid).children(recursive=True):
            with contextlib.suppress(psutil.Error):
                folder = child.environ().get("_MLFLOW_HUEY_STORAGE_PATH")
                if folder:
                    return Path(folder)
    return None


def running(proc: psutil.Process) -> bool:
    try:
        return proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def stop_session(proc: subprocess.Popen) -> None:
    """SIGTERM to every process of the server's tree and session, each on its own (after a SIGTERM to the group
    alone, its job consumers outlived the CLI by tens of seconds), then SIGKILL to what is left after 15 s."""
    procs = {p.pid: p for p in session_members(proc.pid)}
    with contextlib.suppress(psutil.NoSuchProcess):
        procs.update({p.pid: p for p in psutil.Process(proc.pid).children(recursive=True)})
    for p in procs.values():
        with contextlib.suppress(psutil.NoSuchProcess):
            p.terminate()
    _, alive = psutil.wait_procs(list(procs.values()), timeout=15)
    for p in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            p.kill()
    psutil.wait_procs(alive, timeout=10)
    proc.wait(timeout=10)


@dataclass
class RunningUI:
    url: str
    sid: int  # its session: every process it starts
    queue: Path | None  # the folder it made for its job queue


@contextlib.contextmanager
def mlflow_ui(folder: Path, uri: str) -> Iterator[RunningUI]:
    """`mlflow ui` on ``uri``, started as `lightning-eq ui` starts it; stopped with its whole session."""
    port = free_port()
    cmd = [sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", uri, "--host", "127.0.0.1", "--port", str(port)]
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"}
    log_path = folder / "mlflow-ui.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(cmd, cwd=folder, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    ui = RunningUI(f"http://127.0.0.1:{port}", proc.pid, None)
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                urllib.request.urlopen(f"{ui.url}/health", timeout=2)
                break
            except (urllib.error.URLError, OSError):
                if proc.poll() is not None or time.monotonic() > deadline:
                    tail = log_path.read_text()[-2000:]
                    pytest.fail(f"`mlflow ui` did not answer on {ui.url} (exit code {proc.poll()}):\n{tail}", pytrace=False)
                time.sleep(0.5)
        ui.queue = job_queue_folder(proc.pid)
        yield ui
    finally:
        ui.queue = ui.queue or job_queue_folder(proc.pid)
        stop_session(proc)
        if ui.queue is not None:  # the CLI makes it in /dev/shm for its job consumers and never removes it
            shutil.rmtree(ui.queue, ignore_errors=True)


def test_the_runs_page_of_a_finished_sweep_shows_each_study_score_in_the_training_runs_view(tmp_path, data):
    if not CHROMIUM.is_file():
        pytest.fail(f"Chromium is missing at {CHROMIUM}: install it (`apt-get install chromium`, as .ci/run does) "
                    "to run the browser tests.", pytrace=False)
    from playwright.sync_api import expect, sync_playwright

    before = {p.pid for p in psutil.Process().children(recursive=True)}
    uri = f"sqlite:///{tmp_path}/mlruns/mlflow.db"
    (tmp_path / "mlruns").mkdir()
    exp_id, parents = finished_sweep(uri, data)
    digest = dataset_of(data).digest
    with mlflow_ui(tmp_path, uri) as ui, sync_playwright() as p:
        # A new profile: localStorage holds no "Model training" choice, so the UI would default to GenAI.
        context = p.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"), executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True,
            viewport={"width": 1920, "height": 1080})
        page = context.pages[0] if context.pages else context.new_page()
        try:
            page.goto(runs_page_url(ui.url, exp_id))
            for study, metrics in STUDIES.items():
                row = page.locator(f'.ag-row[row-id="{parents[study]}"]')
                for key in (BEST_METRIC, "test/mae_unit", "test/r_word"):
                    expect(row.locator(f'.ag-cell[col-id="metrics.`{key}`"]')).to_have_text(repr(metrics[key]),
                                                                                            timeout=120_000)
                expect(row.locator('.ag-cell[col-id="attributes.`Dataset`"]')).to_contain_text(f"socialeq ({digest})")
            # The training-runs view, not the GenAI overview: the Runs page of the "Model training" navigation.
            assert re.search(rf"#/experiments/{exp_id}/runs\?.*workflowType=machine_learning", page.url), page.url
            expect(page.locator('a[aria-current="page"]')).to_have_text("Runs")
            expect(page.locator("h2").filter(has_text=re.compile(r"^Runs$"))).to_have_count(1)
            # Studies only, best validation score first (ridge 0.0799 before gpt 0.0812).
            ranks = {s: page.locator(f'.ag-row[row-id="{r}"]').first.get_attribute("row-index") for s, r in parents.items()}
            assert ranks == {"ridge-fold0": "0", "gpt-fold0": "1"}
            expect(page.get_by_text("2 matching runs")).to_be_visible()
        finally:
            page.screenshot(path=str(tmp_path / "runs-page.png"))
            context.close()
    started = [p for p in psutil.Process().children(recursive=True) if p.pid not in before]
    psutil.wait_procs(started, timeout=10)  # Playwright's driver and Chromium exit with the context managers
    left = session_members(ui.sid) + [p for p in started if running(p)]
    assert not left, f"processes left running: {[f'{p.pid} ' + ' '.join(p.cmdline()[:4]) for p in left]}"
    assert ui.queue is None or not ui.queue.exists(), f"`mlflow ui` left its job queue folder {ui.queue}"
