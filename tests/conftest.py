"""Shared fixtures (the real SocialEQ file, broken copies of it, a fake embedder for fast model runs) and the
rules every test session keeps:

- Hermetic (tests/hermetic.py): the session has its own HOME, embedding cache (LIGHTNING_EQ_CACHE) and working
  directory, each test runs in its tmp_path, and the run fails if the checkout's mlruns/, models/, reports/ or
  lightning_logs/ changed.
- No process left behind (tests/processes.py): start servers with ``processes.start`` and stop them with
  ``processes.stop_tree``. A slow test fails if a process it started in its body still runs after its teardown,
  and the run fails if any process started during the session still runs at its end.
- Fast or slow: a test is slow when it is marked ``slow`` or uses a fixture of ``SLOW_FIXTURES``; ``make test-fast``
  runs the others, which may start no process and load no real model (tests/fast_guard.py fails them if they do).
"""

from __future__ import annotations

import hashlib
import os
from contextlib import contextmanager
import sys
from pathlib import Path

import numpy as np
import psutil
import pytest

import hermetic
import processes
from fast_guard import FastGuard
from lightning_eq.data.socialeq import DEFAULT_DATA_DIR, load_hq_words, load_records

# Fixtures that load a real model or start a process: a test that uses one, directly or through another fixture,
# is slow.
SLOW_FIXTURES = {
    "predictor": "trains knn on the real GloVe vectors (tests/test_web_api.py)",
    "adapters": "loads every real embedder (tests/test_embeddings.py)",
    "glove_cache": "embeds the vocabulary with the real GloVe vectors (tests/conftest.py)",
    "server": "runs `lightning-eq serve` (tests/test_web_browser.py)",
    "browser": "runs Chromium (tests/test_web_browser.py)",
    "postgres_url": "runs a PostgreSQL server (tests/test_sweep_postgres.py)",
    "mlflow_server": "runs `mlflow server` (tests/test_tracking_server.py)",
}
# Fixtures that need a system package, as markers: `-m "not browser"` leaves out the Chromium tests.
SYSTEM_FIXTURES = {"browser": "browser", "postgres_url": "postgres"}
SESSION, SNAPSHOT, GUARD = pytest.StashKey(), pytest.StashKey(), pytest.StashKey()
STARTED, STAMPS = pytest.StashKey(), pytest.StashKey()


def pytest_configure(config):
    config.stash[SESSION] = hermetic.open_session()
    config.stash[SNAPSHOT] = snapshot = hermetic.ProjectSnapshot()
    config.stash[STAMPS] = snapshot.quick()
    config.stash[GUARD] = guard = FastGuard()
    guard.install()


def pytest_unconfigure(config):
    if SESSION in config.stash:
        hermetic.close_session(config.stash[SESSION])


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects by marker
def pytest_collection_modifyitems(config, items):
    for item in items:
        used = set(getattr(item, "fixturenames", ()))
        if used & SLOW_FIXTURES.keys() and not item.get_closest_marker("slow"):
            item.add_marker(pytest.mark.slow)
        for fixture, marker in SYSTEM_FIXTURES.items():
            if fixture in used:
                item.add_marker(marker)


def _guarded(item):
    guard = item.config.stash[GUARD]
    guard.test = None if item.get_closest_marker("slow") else item.nodeid
    try:
        return (yield)
    finally:
        guard.test = None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item):
    return (yield from _guarded(item))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    """Fast tests: guarded. Slow tests: remember the processes that the body started itself (not those that a
    fixture's process started meanwhile, such as Chromium's renderers)."""
    if not item.get_closest_marker("slow"):
        return (yield from _guarded(item))
    session_id = item.config.stash[SESSION].id
    before = {p.pid for p in processes.leftovers(session_id)}
    try:
        return (yield)
    finally:
        item.stash[STARTED] = [p for p in processes.leftovers(session_id)
                               if p.pid not in before and not before & processes.ancestors(p)]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item):
    """After each test: the processes its body started are gone, and the checkout's watched folders are as they were
    (a quick look at their entries; the session's end looks at every file)."""
    result = yield
    left = [p for p in item.stash.get(STARTED, []) if processes.alive(p)]
    _, left = psutil.wait_procs(left, timeout=3)  # some were still exiting
    snapshot = item.config.stash[SNAPSHOT]
    stamps, before = snapshot.quick(), item.config.stash.get(STAMPS, None)
    item.config.stash[STAMPS] = stamps
    problems = []
    if left:
        problems.append(f"left {plural(len(left), 'process')} running after its teardown: {processes.describe(left)}; "
                        "stop servers with tests/processes.py's stop_tree")
        processes.kill_processes(left)
    if before is not None and stamps != before:
        changed = sorted(k for k in stamps.keys() | before.keys() if stamps.get(k) != before.get(k))
        problems.append(f"wrote into the checkout ({', '.join(changed)}); write under tmp_path only")
    if problems:
        pytest.fail(f"{item.nodeid} " + "; ".join(problems), pytrace=False)
    return result


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 'es' if word.endswith('s') else 's'}"


@pytest.fixture(scope="session", autouse=True)
def hermetic_session(pytestconfig):
    """Session- and module-scoped fixtures run in the session's work folder; the end checks what the tests left."""
    session, snapshot = pytestconfig.stash[SESSION], pytestconfig.stash[SNAPSHOT]
    start = os.getcwd()
    os.chdir(session.work)
    yield session
    os.chdir(start)
    problems = []
    _, left = psutil.wait_procs(processes.leftovers(session.id), timeout=3)  # some may still be exiting
    if left:
        problems.append(f"at the end of the session, {plural(len(left), 'process')} started by the tests still ran "
                        f"(now killed): {processes.describe(left)}")
        processes.kill_processes(left)
    changes = snapshot.changes()
    if changes:
        shown = ", ".join(changes[:8]) + (f" and {len(changes) - 8} more" if len(changes) > 8 else "")
        problems.append(f"the tests wrote into the checkout ({shown}); they must write under tmp_path only")
    if problems:
        pytest.fail("; ".join(problems), pytrace=False)


@pytest.fixture(autouse=True)
def in_tmp_path(tmp_path, monkeypatch):
    """Each test runs in its own tmp_path: relative defaults such as mlruns/, models/, reports/ land there."""
    monkeypatch.chdir(tmp_path)
    with kept_environment():
        yield


@pytest.fixture(scope="module", autouse=True)
def module_environment():
    """Module-scoped fixtures leave the environment as they found it too."""
    with kept_environment():
        yield


@contextmanager
def kept_environment():
    """Restore os.environ afterwards, and MLflow's global tracking URI with it: ``mlflow.set_tracking_uri`` (called by
    lightning_eq.tracking.registry, for one) exports MLFLOW_TRACKING_URI to every later test and subprocess."""
    saved = dict(os.environ)
    yield
    if os.environ != saved:
        if "mlflow" in sys.modules and os.environ.get("MLFLOW_TRACKING_URI") != saved.get("MLFLOW_TRACKING_URI"):
            sys.modules["mlflow"].set_tracking_uri(saved.get("MLFLOW_TRACKING_URI"))
        os.environ.clear()
        os.environ.update(saved)

DATA_CSV = DEFAULT_DATA_DIR / "socialeq_en.csv"


@pytest.fixture(scope="session")
def data():
    return load_records()


@pytest.fixture(scope="session")
def data_all():
    """English and Spanish records together (``load_records(language="all")``)."""
    return load_records(language="all")


@pytest.fixture(scope="session")
def hq_words():
    return load_hq_words()


@pytest.fixture(scope="module")
def table(data):
    """The records of 80 real words: small enough to cross-validate in a fast test (``engine.small_table``)."""
    from engine import small_table

    return small_table(data, 80)


@pytest.fixture(scope="module")
def vectors(data):
    """Deterministic fake vectors for every embedder setting (``engine.FakeVectors``): no model loads."""
    from engine import FakeVectors

    return FakeVectors(data.words)


@pytest.fixture
def csv_lines() -> list[str]:
    return DATA_CSV.read_text().splitlines()


@pytest.fixture
def write_csv(tmp_path):
    def write(lines: list[str], name: str = "eq.csv") -> Path:
        path = tmp_path / name
        path.write_text("\n".join(lines) + "\n")
        return path

    return write


class FakeEmbedder:
    """Deterministic vectors from a hash of the text; counts how many texts reach it."""

    def __init__(self, key: str = "fake", dim: int = 16):
        self.key, self._dim, self.calls = key, dim, 0

    @property
    def dim(self) -> int:
        return self._dim

    @property
    def signature(self) -> str:
        return f"{self.key}-{self._dim}"

    def embed(self, texts):
        self.calls += len(texts)
        seeds = [int(hashlib.sha256(t.encode()).hexdigest()[:8], 16) for t in texts]
        return np.stack([np.random.default_rng(s).standard_normal(self._dim) for s in seeds]).astype(np.float32)


@pytest.fixture
def fake_embedder():
    return FakeEmbedder()


@pytest.fixture(scope="session")
def glove_cache(tmp_path_factory, data_all) -> str:
    """An embedding cache of the session's own holding the real GloVe vectors of every word, English and Spanish
    (embedded once); a test that needs another embedder's vectors adds them to it on demand."""
    from lightning_eq.config import Config
    from lightning_eq.embeddings import embed_vocabulary

    cache = tmp_path_factory.mktemp("embedding-cache")
    embed_vocabulary(["glove"], data_all.words, Config().embedders, cache, progress=False)
    return str(cache)
