"""Processes started by tests: start them so that their whole tree can be found, and stop that whole tree.

Servers here start grandchildren that outlive a plain ``terminate()``: ``lightning-eq ui`` runs ``mlflow ui``
with ``subprocess.run``, which starts uvicorn (four workers and a resource tracker) and MLflow's job runner,
and the job runner starts seven huey consumers and restarts any that exits. SIGTERM to ``lightning-eq`` alone
leaves all of them running, reparented to init, for good. So ``stop_tree`` signals every process of the tree:
it snapshots the descendants before any signal (they cannot be found through their parent once it is gone),
adds what it can find of those that left the tree (the process group of a process started in its own session,
and any process carrying the tree's environment marker), terminates children first, waits, kills what is left,
and looks again for anything spawned meanwhile (the job runner restarts consumers within a second).

Every process started through ``start`` carries ``LIGHTNING_EQ_TEST_TREE=<id>`` in its environment, and every
process started during a test session carries the session's ``LIGHTNING_EQ_TEST_SESSION=<id>`` (set by
``tests/conftest.py``): ``leftovers`` finds them even after they daemonised.

``free_port`` and ``wait_http`` give a server its loopback port and wait until it answers.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from typing import Iterable

import psutil
import pytest

TREE_VAR = "LIGHTNING_EQ_TEST_TREE"
SESSION_VAR = "LIGHTNING_EQ_TEST_SESSION"
# Started by Python itself, once, for the pytest process's own multiprocessing (spawned sweep workers); it
# exits when pytest does, and no test owns it.
OWN_HELPERS = ("multiprocessing.resource_tracker", "multiprocessing.forkserver")


def start(cmd: list[str], env: dict | None = None, **popen_kwargs) -> subprocess.Popen:
    """``subprocess.Popen`` in a new session (its own process group), marked so that ``stop_tree`` finds it all."""
    env = dict(os.environ if env is None else env)
    env[TREE_VAR] = uuid.uuid4().hex
    proc = subprocess.Popen(cmd, env=env, start_new_session=True, **popen_kwargs)
    proc.tree_marker = env[TREE_VAR]  # finds its orphans after it was killed and reaped
    return proc


def _environ(process: psutil.Process) -> dict:
    try:
        return process.environ()
    except (psutil.Error, OSError):
        return {}


def alive(p: psutil.Process) -> bool:
    """Running (a zombie has exited: it only waits for its parent to read its status)."""
    try:
        return p.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def ancestors(p: psutil.Process) -> set[int]:
    try:
        return {a.pid for a in p.parents()}
    except psutil.Error:
        return set()


def _marked(var: str, value: str, exclude: int) -> list[psutil.Process]:
    found = []
    for p in psutil.process_iter():
        if p.pid != exclude and _environ(p).get(var) == value:
            found.append(p)
    return found


def _tree(roots: list[psutil.Process], group: int | None, marker: str | None) -> list[psutil.Process]:
    """The roots, their descendants, the process group ``group`` and the processes carrying ``marker``."""
    found = {}
    for root in roots:
        found[root.pid] = root
        try:
            for child in root.children(recursive=True):
                found[child.pid] = child
        except psutil.Error:
            pass
    if group is not None:
        for p in psutil.process_iter():
            try:
                if os.getpgid(p.pid) == group:
                    found.setdefault(p.pid, p)
            except OSError:
                pass
    if marker:
        for p in _marked(TREE_VAR, marker, os.getpid()):
            found.setdefault(p.pid, p)
    found.pop(os.getpid(), None)
    return [p for p in found.values() if alive(p)]


def _depth(p: psutil.Process) -> int:
    try:
        return len(p.parents())
    except psutil.Error:
        return 0


def _signal(processes: Iterable[psutil.Process], sig: int) -> None:
    for p in sorted(processes, key=_depth, reverse=True):  # children first
        try:
            p.send_signal(sig)
        except psutil.Error:
            pass


def kill_processes(processes: list[psutil.Process], timeout_s: float = 20) -> list[psutil.Process]:
    """SIGTERM (children first), wait up to ``timeout_s``, then SIGKILL; returns the processes that survived."""
    _signal(processes, signal.SIGTERM)
    _, remaining = psutil.wait_procs(processes, timeout=timeout_s)
    _signal(remaining, signal.SIGKILL)
    _, remaining = psutil.wait_procs(remaining, timeout=5)
    return remaining


def stop_tree(proc: subprocess.Popen | int, timeout_s: float = 20) -> None:
    """Stop a process and every process it started: SIGTERM children first, SIGKILL after ``timeout_s``.

    Raises RuntimeError naming any process that survives SIGKILL. Safe to call on a process that has exited.
    """
    pid = proc if isinstance(proc, int) else proc.pid
    marker = getattr(proc, "tree_marker", None)
    try:
        root = psutil.Process(pid)
        marker = marker or _environ(root).get(TREE_VAR)
        group = os.getpgid(pid)
    except (psutil.NoSuchProcess, OSError):
        root, group = None, None
    if getattr(proc, "tree_marker", None):
        group = pid  # `start` made it lead its group, and Linux keeps a group's id while any member lives
    if group != pid or group == os.getpgid(0):
        group = None  # only a group the process leads, and never pytest's own
    known = [root] if root is not None else []
    survivors: list[psutil.Process] = []
    for _ in range(5):  # a process still running in one round may have started another in it
        tree = _tree(known, group, marker)
        if not tree:
            break
        survivors = kill_processes(tree, timeout_s)
        known = survivors
    if isinstance(proc, subprocess.Popen):
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
    survivors = [p for p in survivors if alive(p)]
    if survivors:
        raise RuntimeError(f"processes survived SIGKILL: {describe(survivors)}")


def describe(processes: Iterable[psutil.Process]) -> str:
    """'pid command; pid command' for a message."""
    parts = []
    for p in processes:
        try:
            parts.append(f"{p.pid} {' '.join(p.cmdline())[:120]}")
        except psutil.Error:
            parts.append(f"{p.pid} (gone)")
    return "; ".join(parts)


def leftovers(session_id: str) -> list[psutil.Process]:
    """Live processes started during this test session: the pytest process's descendants (but Python's own
    multiprocessing helpers) and any process carrying the session's marker, even one reparented to init."""
    me = psutil.Process()
    found = {}
    for p in me.children(recursive=True):
        found[p.pid] = p
    for p in _marked(SESSION_VAR, session_id, me.pid):
        found.setdefault(p.pid, p)
    running = []
    for p in found.values():
        try:
            if p.status() == psutil.STATUS_ZOMBIE:
                continue
            if p.ppid() == me.pid and any(h in " ".join(p.cmdline()) for h in OWN_HELPERS):
                continue
            running.append(p)
        except psutil.NoSuchProcess:
            pass
    return running


def free_port() -> int:
    """A loopback port that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, timeout_s: float, proc: subprocess.Popen | None = None) -> None:
    """Until ``url`` answers (any HTTP status); fails the test early if ``proc`` exits first."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            pytest.fail(f"server exited with code {proc.returncode} before answering {url}", pytrace=False)
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except urllib.error.HTTPError:
            return
        except (urllib.error.URLError, ConnectionError, OSError):
            time.sleep(0.5)
    pytest.fail(f"{url} did not answer within {timeout_s} s", pytrace=False)
