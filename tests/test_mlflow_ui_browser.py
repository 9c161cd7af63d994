"""The MLflow UI on a finished sweep, in headless Chromium: the runs page URL that `lightning-eq ui` prints opens the
sweep experiment on its training runs, and the runs table shows each study's best validation score and test scores,
best study first.

The sweep is a real one, small: two tracked studies on outer fold 0 (a glove head and ridge, on FakeVectors) logged
to a SQLite store in tmp_path. `lightning-eq ui` runs in a session of its own; at the end the test checks that every
process it started is gone: the UI's whole tree, Playwright's driver and Chromium.
Chromium is Debian's (/usr/bin/chromium, installed by .ci/system-deps); Playwright never downloads a browser.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import psutil
import pytest
from mlflow import MlflowClient

import system_deps
from engine import FakeVectors, write_space
from lightning_eq.config import Config
from lightning_eq.tracking.experiments import BEST_METRIC, dataset_of
from lightning_eq.training.nested import SweepRequest, plan_for, sweep_model
from processes import free_port, start, stop_tree, wait_http

pytestmark = pytest.mark.slow

CLI = str(Path(sys.executable).parent / "lightning-eq")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
SHOWN = (BEST_METRIC, "test/mae_unit", "test/r_word")


def finished_sweep(tmp: Path, uri: str, data_all, hq_words) -> dict[str, str]:
    """Two tracked studies on outer fold 0, each at its budget: {study name: parent run id}."""
    write_space(tmp, "glove", trials=2, epochs=3)
    write_space(tmp, "ridge", trials=2, sweep={"pruner": "none"}, fixed={"baseline": {"embedder": "glove"}},
                space={"baseline.ridge_alpha": {"low": 1.0, "high": 10000.0, "log": True}})
    vectors = FakeVectors(data_all.words)
    parents = {}
    for key in ("glove", "ridge"):
        request = SweepRequest([key], ["fold0"], storage=f"sqlite:///{tmp}/optuna.db", tracking_uri=uri, sweeps_dir=tmp)
        name = sweep_model(key, Config(), data_all, hq_words, vectors, request).studies[0]["study"]
        parents[name] = MlflowClient(uri).search_runs(
            [MlflowClient(uri).get_experiment_by_name("lightning-eq-sweeps").experiment_id],
            f"attributes.run_name = '{name}'")[0].info.run_id
    return parents


def test_the_runs_page_of_a_finished_sweep_shows_each_study_score_in_the_training_runs_view(tmp_path, data_all,
                                                                                              hq_words):
    chromium = system_deps.chromium()  # missing: fails with how to install it
    from playwright.sync_api import expect, sync_playwright

    before = {p.pid for p in psutil.Process().children(recursive=True)}
    uri = f"sqlite:///{tmp_path}/mlruns/mlflow.db"
    parents = finished_sweep(tmp_path, uri, data_all, hq_words)
    client = MlflowClient(uri)
    metrics = {name: client.get_run(run_id).data.metrics for name, run_id in parents.items()}
    request = SweepRequest(["glove"], ["fold0"], sweeps_dir=tmp_path)
    digest = dataset_of(data_all, list(plan_for("glove", "fold0", Config(), data_all, hq_words, request)[0].table.ids)).digest

    port = free_port()
    ui = start([CLI, "ui", "--tracking-uri", uri, "--port", str(port)], cwd=tmp_path, stdout=subprocess.PIPE,
               stderr=subprocess.DEVNULL, text=True)
    try:
        wait_http(f"http://127.0.0.1:{port}/health", 180, ui)
        banner = [ui.stdout.readline(), ui.stdout.readline()]
        url = banner[1].rsplit(" ", 1)[-1].strip()  # "The studies, best first, with their scores: <url>"
        exp_id = client.get_experiment_by_name("lightning-eq-sweeps").experiment_id
        assert url.startswith(f"http://127.0.0.1:{port}/#/experiments/{exp_id}/runs?"), banner
        with sync_playwright() as p:
            # A new profile: localStorage holds no "Model training" choice, so the UI would default to GenAI.
            context = p.chromium.launch_persistent_context(
                str(tmp_path / "chromium-profile"), executable_path=str(chromium), args=CHROMIUM_ARGS, headless=True,
                viewport={"width": 1920, "height": 1080})
            page = context.pages[0] if context.pages else context.new_page()
            try:
                page.goto(url)
                for study, run_id in parents.items():
                    row = page.locator(f'.ag-row[row-id="{run_id}"]')
                    for key in SHOWN:  # the logged double, printed as JavaScript does (= Python's repr)
                        expect(row.locator(f'.ag-cell[col-id="metrics.`{key}`"]')).to_have_text(
                            repr(metrics[study][key]), timeout=120_000)
                    # Both studies trained on fold 0's English training records: the same dataset input.
                    expect(row.locator('.ag-cell[col-id="attributes.`Dataset`"]')).to_contain_text(f"socialeq ({digest})")
                # The training-runs view, not the GenAI overview: the Runs page of the "Model training" navigation.
                assert re.search(rf"#/experiments/{exp_id}/runs\?.*workflowType=machine_learning", page.url), page.url
                expect(page.locator('a[aria-current="page"]')).to_have_text("Runs")
                expect(page.locator("h2").filter(has_text=re.compile(r"^Runs$"))).to_have_count(1)
                # Studies only (no trial rows), best validation score first.
                ranks = {s: page.locator(f'.ag-row[row-id="{r}"]').first.get_attribute("row-index")
                         for s, r in parents.items()}
                order = sorted(parents, key=lambda s: metrics[s][BEST_METRIC])
                assert ranks == {s: str(i) for i, s in enumerate(order)}
                expect(page.get_by_text("2 matching runs")).to_be_visible()
            finally:
                page.screenshot(path=str(tmp_path / "runs-page.png"))
                context.close()
    finally:
        stop_tree(ui)
        ui.stdout.close()
    started = [p for p in psutil.Process().children(recursive=True) if p.pid not in before]
    psutil.wait_procs(started, timeout=10)  # Playwright's driver and Chromium exit with the context managers
    left = [p for p in started if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert not left, f"processes left running: {[f'{p.pid} ' + ' '.join(p.cmdline()[:4]) for p in left]}"
