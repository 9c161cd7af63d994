"""Debian's Chromium and PostgreSQL for the tests, found where .ci/system-deps installs and looks for them.

A missing one fails the test that needs it with one line saying how to install it: those tests never skip.
LIGHTNING_EQ_CHROMIUM and LIGHTNING_EQ_PG_BINDIR point elsewhere (the script reads them too).
"""

from __future__ import annotations

import glob
import os
import re
import shutil
from pathlib import Path

import pytest

INSTALL = "run `.ci/system-deps` (`make test` does; it needs root or password-less sudo)"


def chromium() -> Path:
    path = Path(os.environ.get("LIGHTNING_EQ_CHROMIUM", "/usr/bin/chromium"))
    if not os.access(path, os.X_OK):
        pytest.fail(f"Chromium is not installed at {path} (Debian package chromium): {INSTALL}", pytrace=False)
    return path


def postgres_binaries() -> tuple[str, str]:
    """(initdb, pg_ctl) from LIGHTNING_EQ_PG_BINDIR, else PATH, else the newest /usr/lib/postgresql/*/bin."""
    folder = os.environ.get("LIGHTNING_EQ_PG_BINDIR")
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: [int(n) for n in re.findall(r"\d+", p)])
    candidates = [folder] if folder else [None, *reversed(versions)]
    for path in candidates:
        initdb, pg_ctl = shutil.which("initdb", path=path), shutil.which("pg_ctl", path=path)
        if initdb and pg_ctl:
            return initdb, pg_ctl
    where = folder or "PATH or /usr/lib/postgresql/*/bin"
    pytest.fail(f"PostgreSQL's initdb and pg_ctl are not in {where} (Debian package postgresql): {INSTALL}",
                pytrace=False)

