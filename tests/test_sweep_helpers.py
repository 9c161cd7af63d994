"""Shared pieces of the sweep, tracking and registry tests (imported by them; no tests here).

Fast search spaces written to tmp_path, fake vectors for every embedder key, free loopback ports, waiting for
a server, and a session embedding cache holding the real GloVe vectors of the vocabulary.
"""

from __future__ import annotations

import socket
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml

from conftest import FakeEmbedder
from processes import stop_tree
from lightning_eq.config import EMBEDDER_KEYS, Config
from lightning_eq.training.evaluate import Embeddings

DIMS = {"glove": 50, "tok2vec": 24, "gpt": 32, "bert": 40, "e5": 16}


def fake_embeddings(words: list[str]) -> Embeddings:
    """Deterministic vectors for every embedder key (no model is loaded)."""
    return Embeddings(list(words), {k: FakeEmbedder(k, DIMS[k]).embed(list(words)) for k in EMBEDDER_KEYS})


def write_space(folder: Path, model: str = "glove", trials: int = 3, epochs: int = 4, sweep: dict | None = None,
                space: dict | None = None, fixed: dict | None = None) -> Path:
    """A small sweeps/<model>.yaml: few trials, few epochs, a one-layer head, fast heartbeats."""
    folder.mkdir(parents=True, exist_ok=True)
    data = {
        "model": model,
        "sweep": {"trials": trials, "pruner": "median", "n_startup_trials": 2, "warmup_epochs": 1,
                  "heartbeat_interval_s": 1, "grace_period_s": 3, **(sweep or {})},
        "fixed": fixed if fixed is not None else {"head": {"max_epochs": epochs, "hidden_sizes": [16]}},
        "space": space or {"head.dropout": {"low": 0.0, "high": 0.5}, "head.lr": {"low": 0.01, "high": 0.3, "log": True}},
    }
    path = folder / f"{model}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, timeout_s: float, proc=None) -> None:
    """Until ``url`` answers (any HTTP status); fails early if ``proc`` exits."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            pytest.fail(f"server exited with code {proc.returncode} before answering {url}")
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except urllib.error.HTTPError:
            return
        except (urllib.error.URLError, ConnectionError, OSError):
            time.sleep(0.5)
    pytest.fail(f"{url} did not answer within {timeout_s} s")


def stop_process(proc) -> None:
    """Stop a server started by a test and every process it started (tests/processes.py)."""
    stop_tree(proc)


@pytest.fixture(scope="session")
def glove_cache(tmp_path_factory, data) -> str:
    """An embedding cache holding the real GloVe vectors of every word (embedded once per session)."""
    from lightning_eq.embeddings import embed_vocabulary

    cache = tmp_path_factory.mktemp("embedding-cache")
    embed_vocabulary(["glove"], data.words, Config().embedders, cache, progress=False)
    return str(cache)
