"""Fast tests start no process and load no real model: enforced, not hoped for.

While a test that is not marked slow sets up (fixtures of every scope that it creates included) and runs,
starting a process (``subprocess``, ``multiprocessing``, ``os.fork``, ``os.system``) or
loading an embedder's pretrained model (an adapter's ``_load``, which every adapter in
``lightning_eq/embeddings`` has) fails it with a one-line reason. Two programs are allowed: ``git`` (MLflow and
the run tags read the checkout's commit, a few milliseconds) and ``fc-list`` (matplotlib builds its font cache
once in the session's HOME).
"""

from __future__ import annotations

import functools
import importlib
import inspect
import multiprocessing.process
import os
import pkgutil
import subprocess
from pathlib import Path

import pytest

ALLOWED_PROGRAMS = {"git", "fc-list"}  # fc-list: matplotlib builds its font cache once in the session HOME


class FastGuard:
    def __init__(self):
        self.test: str | None = None  # node id of the fast test setting up or running now
        self.adapters: list[type] = []

    def refuse(self, what: str) -> None:
        if self.test is not None:
            test, self.test = self.test, None  # report once; the rest of this test runs unguarded
            pytest.fail(f"{test} is not marked slow but {what}: mark it @pytest.mark.slow "
                        "(fast tests start no process and load no real model)", pytrace=False)

    def install(self) -> None:
        self._wrap(subprocess.Popen, "__init__", lambda args, kwargs: self._popen(args, kwargs))
        self._wrap(multiprocessing.process.BaseProcess, "start", lambda args, kwargs: self.refuse(
            "starts a multiprocessing process"))
        for name in ("fork", "system"):  # subprocess itself uses neither (nor posix_spawn, with close_fds)
            self._wrap(os, name, lambda args, kwargs, name=name: self.refuse(f"calls os.{name}"))
        self.adapters = list(embedder_adapters())
        for cls in self.adapters:
            self._wrap(cls, "_load", lambda args, kwargs, cls=cls: self.refuse(
                f"loads the real model of {cls.__name__}"))

    def _popen(self, args, kwargs) -> None:
        cmd = kwargs.get("args", args[1] if len(args) > 1 else None)
        first = cmd.split()[0] if isinstance(cmd, str) else (list(cmd)[0] if cmd else "")
        if Path(str(first)).name not in ALLOWED_PROGRAMS:
            self.refuse(f"starts a subprocess ({Path(str(first)).name})")

    @staticmethod
    def _wrap(owner, name: str, check) -> None:
        original = getattr(owner, name)

        @functools.wraps(original)
        def guarded(*args, **kwargs):
            check(args, kwargs)
            return original(*args, **kwargs)

        setattr(owner, name, guarded)


def embedder_adapters():
    """Every class in ``lightning_eq.embeddings``'s modules that defines ``_load`` (the lazy model load)."""
    import lightning_eq.embeddings as package

    for info in pkgutil.iter_modules(package.__path__):
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ == module.__name__ and "_load" in vars(cls):
                yield cls
