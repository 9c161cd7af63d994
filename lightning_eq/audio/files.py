"""Audio files through soundfile (libsndfile): checked opening, block reading, output format and safe writing.

Reads what libsndfile reads (WAV, FLAC, OGG Vorbis/Opus, MP3 from libsndfile 1.1, AIFF, ...). Problems
become one-line ``AudioError``s: missing, empty, not audio, truncated, no frames. Output goes to a hidden
temporary file in the output's folder that replaces the output only once it is complete, so a failure
never leaves a half-written file behind and the output may be the input itself.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from lightning_eq.errors import AudioError

log = logging.getLogger(__name__)

EXTENSION_FORMATS = {
    "wav": "WAV", "flac": "FLAC", "ogg": "OGG", "oga": "OGG", "opus": "OGG", "mp3": "MP3",
    "aif": "AIFF", "aiff": "AIFF", "w64": "W64", "caf": "CAF",
}  # fmt: skip
FLOAT_SUBTYPES = ("FLOAT", "DOUBLE")
LOSSY_SUBTYPES = ("VORBIS", "OPUS", "MPEG_LAYER_I", "MPEG_LAYER_II", "MPEG_LAYER_III")
# libsndfile notes a WAV/AIFF data chunk longer than the file as "data : 264600 (should be 132278)".
SHORT_CHUNK = re.compile(r"^(?:data|SSND)\s*:\s*(\d+)\s*\(should be (\d+)\)", re.MULTILINE)
STREAMING_SIZES = (0, 0x7FFFFFFF, 0xFFFFFFFF)  # placeholders written by encoders that stream to a pipe


@dataclass(frozen=True)
class AudioInfo:
    """What the header of an input file says."""

    path: Path
    sample_rate: int
    channels: int
    frames: int
    format: str  # libsndfile major format, e.g. "WAV"
    subtype: str  # e.g. "PCM_24"


def read_info(path: str | Path) -> AudioInfo:
    """Open path's header and check it holds readable audio, or raise AudioError saying what is wrong."""
    path = Path(path)
    if not path.is_file():
        what = "is a folder" if path.is_dir() else "does not exist"
        raise AudioError(f"Input {path} {what}; give a WAV, FLAC, OGG or MP3 file.")
    if path.stat().st_size == 0:
        raise AudioError(f"Input {path} is empty (0 bytes); give a WAV, FLAC, OGG or MP3 file.")
    try:
        with sf.SoundFile(path) as handle:
            info = AudioInfo(path, handle.samplerate, handle.channels, handle.frames, handle.format, handle.subtype)
            log_text = handle.extra_info
    except sf.SoundFileError as err:
        raise AudioError(f"Cannot read {path} as audio ({err}); expected a WAV, FLAC, OGG or MP3 file.") from err
    for declared, actual in SHORT_CHUNK.findall(log_text):
        if int(declared) > int(actual) and int(declared) not in STREAMING_SIZES:
            raise AudioError(
                f"{path} is truncated: its header promises {declared} bytes of audio but only {actual} are there. "
                "Re-export or re-download it."
            )
    if info.frames <= 0:
        raise AudioError(f"{path} holds no audio frames; give a file with at least one sample.")
    if info.channels <= 0:
        raise AudioError(f"{path} has no audio channels; give a mono, stereo or multichannel file.")
    return info


def read_blocks(info: AudioInfo, block_frames: int) -> Iterator[np.ndarray]:
    """The file's samples as float64 blocks of shape (frames, channels); AudioError if it ends early."""
    frames_read = 0
    try:
        with sf.SoundFile(info.path) as handle:
            while True:
                block = handle.read(block_frames, dtype="float64", always_2d=True)
                if len(block) == 0:
                    break
                frames_read += len(block)
                yield block
    except sf.SoundFileError as err:
        raise AudioError(f"Reading {info.path} failed after {frames_read} frames ({err}); the file is damaged.") from err
    if frames_read != info.frames:
        raise AudioError(
            f"{info.path} ended after {frames_read} of the {info.frames} frames its header declares; the file is damaged."
        )


def output_format(info: AudioInfo, out_path: Path, out_format: str | None, subtype: str | None) -> tuple[str, str]:
    """(format, subtype) to write: as asked, else from out_path's extension, else the input's; subtype kept if it fits."""
    if out_format:
        fmt = EXTENSION_FORMATS.get(out_format.lower().lstrip("."), out_format.upper())
    else:
        fmt = EXTENSION_FORMATS.get(out_path.suffix.lower().lstrip("."), info.format)
    if fmt not in sf.available_formats():
        names = ", ".join(sorted(set(EXTENSION_FORMATS)))
        raise AudioError(f"Unknown output format {out_format!r}; use one of {names}.")
    if subtype:
        chosen = subtype.upper()
        if not sf.check_format(fmt, chosen):
            options = ", ".join(sf.available_subtypes(fmt))
            raise AudioError(f"Format {fmt} cannot hold subtype {subtype!r}; choose one of {options}.")
        return fmt, chosen
    keeps_input = info.subtype not in LOSSY_SUBTYPES or fmt == info.format  # no MP3-inside-WAV
    if keeps_input and sf.check_format(fmt, info.subtype):
        return fmt, info.subtype
    if info.subtype in FLOAT_SUBTYPES and sf.check_format(fmt, "PCM_24"):
        return fmt, "PCM_24"
    return fmt, sf.default_subtype(fmt)


def _create_hidden_sibling(out_path: Path) -> Path:
    """A new empty file next to out_path (same folder, so os.replace is atomic); created with the umask's mode."""
    for _ in range(100):
        candidate = out_path.with_name(f".{out_path.name}.{secrets.token_hex(4)}.part")
        try:
            os.close(os.open(candidate, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
            return candidate
        except FileExistsError:
            continue
    raise AudioError(f"Could not create a temporary file next to {out_path}; clean up stale .part files there.")


@contextlib.contextmanager
def atomic_writer(out_path: str | Path, sample_rate: int, channels: int, fmt: str, subtype: str) -> Iterator[sf.SoundFile]:
    """A SoundFile writing to a temporary sibling that replaces out_path only if the block exits cleanly."""
    out_path = Path(out_path)
    if out_path.is_dir():
        raise AudioError(f"Output {out_path} is a folder; give a file name such as {out_path / 'equalised.wav'}.")
    if not out_path.parent.is_dir():
        raise AudioError(f"Output folder {out_path.parent} does not exist; create it first.")
    try:
        temp_path = _create_hidden_sibling(out_path)
    except OSError as err:
        raise AudioError(f"Cannot write in {out_path.parent} ({err.strerror}); choose a writable folder.") from err
    try:
        with sf.SoundFile(temp_path, "w", sample_rate, channels, subtype, format=fmt) as handle:
            yield handle
        if out_path.exists():
            os.chmod(temp_path, out_path.stat().st_mode & 0o7777)
        os.replace(temp_path, out_path)
    except sf.SoundFileError as err:
        raise AudioError(f"Writing {out_path} as {fmt} {subtype} failed ({err}); nothing was overwritten.") from err
    finally:
        if temp_path.exists():
            temp_path.unlink()
