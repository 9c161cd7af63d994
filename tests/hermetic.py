"""Keep a test session away from the checkout's and the user's state.

A session gets its own temporary HOME, embedding cache (``$HOME/.cache/lightning-eq``, also exported as
``LIGHTNING_EQ_CACHE`` for the CLI) and working directory, and no tracking or study URI from the environment.
So the defaults (``Config().embedders.cache_dir = "~/.cache/lightning-eq"``, ``sqlite:///mlruns/mlflow.db``,
``models/``, ``reports/``) all land in temporary folders. The user's converted model weights
(``~/.cache/lightning-eq/models/*``) are linked read-only into the session cache, entry by entry, so a test does
not convert SmolLM2 again while anything it writes still goes to the session cache.

``ProjectSnapshot`` records what lies in the checkout's ``mlruns/``, ``models/``, ``reports/`` and
``lightning_logs/`` (and which entries the checkout's root holds), so that the session can fail when a test
wrote there.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

from processes import SESSION_VAR

PROJECT = Path(__file__).resolve().parents[1]
WATCHED = ("mlruns", "models", "reports", "lightning_logs")
# The environment variables through which a test could reach the user's stores.
CLEARED = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI", "LIGHTNING_EQ_STORAGE", "XDG_CACHE_HOME")


@dataclass
class Session:
    root: Path  # everything below is removed at the end
    home: Path
    cache: Path  # the default embedding cache of the session
    work: Path  # the working directory of session- and module-scoped fixtures
    id: str  # LIGHTNING_EQ_TEST_SESSION, inherited by every process the tests start
    user_cache: Path


def open_session() -> Session:
    """Make the session's folders, point HOME, LIGHTNING_EQ_CACHE and the marker at them, clear the store URIs."""
    user_cache = Path("~/.cache/lightning-eq").expanduser()
    root = Path(tempfile.mkdtemp(prefix="lightning-eq-tests-"))
    session = Session(root, root / "home", root / "home" / ".cache" / "lightning-eq", root / "work", uuid.uuid4().hex,
                      user_cache)
    session.cache.mkdir(parents=True)
    session.work.mkdir()
    link_models(user_cache / "models", session.cache / "models")
    os.environ["HOME"] = str(session.home)
    os.environ["LIGHTNING_EQ_CACHE"] = str(session.cache)
    os.environ[SESSION_VAR] = session.id
    for name in CLEARED:
        os.environ.pop(name, None)
    return session


def close_session(session: Session) -> None:
    shutil.rmtree(session.root, ignore_errors=True)


def link_models(source: Path, target: Path) -> None:
    """``target/<entry>`` -> ``source/<entry>`` for each converted model already there; new ones go to ``target``."""
    target.mkdir(parents=True, exist_ok=True)
    if source.is_dir():
        for entry in source.iterdir():
            if not entry.name.startswith("."):  # half-written conversions are hidden temporary folders
                (target / entry.name).symlink_to(entry.resolve(), target_is_directory=entry.is_dir())


class ProjectSnapshot:
    """Files (path -> size and mtime) under the watched folders of the checkout, and the root's entries."""

    def __init__(self, project: Path = PROJECT):
        self.project = project
        self.files = self._files()
        self.root_entries = self._root_entries()

    def _files(self) -> dict[str, tuple[int, int]]:
        files = {}
        for name in WATCHED:
            folder = self.project / name
            if folder.exists():
                for path in [folder, *folder.rglob("*")]:
                    st = path.lstat()
                    files[str(path.relative_to(self.project))] = (st.st_size if path.is_file() else 0, st.st_mtime_ns)
        return files

    def quick(self) -> dict[str, int]:
        """mtimes of the watched folders and of their entries: cheap enough to compare after each test."""
        stamps = {}
        for name in WATCHED:
            folder = self.project / name
            if folder.exists():
                stamps[name] = folder.stat().st_mtime_ns
                for path in folder.iterdir():
                    stamps[f"{name}/{path.name}"] = path.lstat().st_mtime_ns
        return stamps

    def _root_entries(self) -> set[str]:
        ignored = {".pytest_cache", "__pycache__"}
        return {p.name for p in self.project.iterdir() if p.name not in ignored}

    def changes(self) -> list[str]:
        """What differs now: 'added X', 'removed X', 'changed X'."""
        now, entries = self._files(), self._root_entries()
        out = [f"added {p}" for p in sorted(now.keys() - self.files.keys())]
        out += [f"removed {p}" for p in sorted(self.files.keys() - now.keys())]
        out += [f"changed {p}" for p in sorted(now.keys() & self.files.keys()) if now[p] != self.files[p]]
        out += [f"added {p}" for p in sorted(entries - self.root_entries) if p not in WATCHED]
        return out
