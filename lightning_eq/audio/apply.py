"""Apply an EQ curve to audio: to an array in memory, or to a file streamed in blocks.

``apply_file`` keeps memory flat whatever the file's length: it reads, filters and writes blocks of about
64k frames. With ``normalize=True`` (the default) it makes two passes: the first filters and measures the
peak, the second filters again and writes, scaled down so the peak sits at -0.1 dBFS (-1 dBFS for lossy
formats, whose decoders overshoot). Quiet files are not turned up. With ``normalize=False`` the level is
kept and the report says whether the output clipped; integer and lossy outputs are then hard-clipped at
full scale (float outputs keep the overs).
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from lightning_eq.audio.files import (
    FLOAT_SUBTYPES,
    LOSSY_SUBTYPES,
    AudioInfo,
    atomic_writer,
    output_format,
    read_blocks,
    read_info,
)
from lightning_eq.audio.filters import GraphicEqDesign, design_graphic_eq
from lightning_eq.audio.streaming import FftStream, SosStream, impulse_response
from lightning_eq.curves import BAND_CENTRES_HZ, DEFAULT_MAX_GAIN_DB, EqCurve
from lightning_eq.errors import AudioError

log = logging.getLogger(__name__)

TARGET_PEAK_DBFS = -0.1
TARGET_PEAK_LOSSY_DBFS = -1.0
ENGINES = ("fft", "iir")


def to_dbfs(peak: float) -> float:
    """A linear peak (1.0 = full scale) in dBFS; -inf for silence."""
    return 20.0 * math.log10(peak) if peak > 0 else -math.inf


@dataclass(frozen=True)
class ApplyReport:
    """What apply_file did. Peaks are sample peaks in dBFS; gains in dB."""

    in_path: Path
    out_path: Path
    format: str
    subtype: str
    sample_rate: int
    channels: int
    frames: int
    normalization_gain_db: float  # 0 when normalisation was off or not needed, negative when it turned down
    peak_in_dbfs: float
    peak_out_dbfs: float  # of the scaled signal, before any hard clipping
    clipped: bool  # the written signal exceeded full scale (only possible with normalize=False)
    elapsed_s: float
    dropped_centres_hz: tuple[float, ...] = field(default=())  # bands at or above Nyquist

    @property
    def duration_s(self) -> float:
        return self.frames / self.sample_rate

    @property
    def realtime_factor(self) -> float:
        return self.duration_s / self.elapsed_s if self.elapsed_s > 0 else math.inf


def make_stream(design: GraphicEqDesign, channels: int, engine: str = "fft") -> FftStream | SosStream:
    """A fresh block filter for design: "fft" (overlap-save, fast) or "iir" (sosfilt, the reference)."""
    if engine == "fft":
        return FftStream(impulse_response(design.sos), channels)
    if engine == "iir":
        return SosStream(design.sos, channels)
    raise AudioError(f"Unknown filter engine {engine!r}; use one of {', '.join(ENGINES)}.")


def apply_curve(
    audio: np.ndarray,
    sample_rate: float,
    gains_db: np.ndarray,
    centres_hz: tuple[float, ...] | np.ndarray = BAND_CENTRES_HZ,
    engine: str = "fft",
) -> np.ndarray:
    """Equalise audio, (frames,) or (frames, channels) floats, by gains_db at centres_hz. float64, same shape.

    The level is not changed beyond the EQ itself: peaks may exceed 1.0 (see ``apply_file`` to normalise).
    """
    samples = np.asarray(audio)
    if not np.issubdtype(samples.dtype, np.floating):
        raise AudioError(
            f"Expected floating-point samples (1.0 = full scale), got {samples.dtype}; "
            "read files with soundfile's default dtype."
        )
    if samples.ndim not in (1, 2) or samples.shape[0] == 0:
        raise AudioError(f"Expected audio shaped (frames,) or (frames, channels) with frames > 0, got {samples.shape}.")
    design = design_graphic_eq(gains_db, sample_rate, centres_hz)
    frames_2d = samples.reshape(samples.shape[0], -1)
    out = make_stream(design, frames_2d.shape[1], engine).process(frames_2d)
    return out.reshape(samples.shape)


def _measure_peak(info: AudioInfo, impulse: np.ndarray, block_frames: int) -> tuple[float, float]:
    """Pass 1: (peak of the input, peak after the EQ), both linear."""
    stream = FftStream(impulse, info.channels)
    peak_in = peak_eq = 0.0
    for block in read_blocks(info, block_frames):
        peak_in = max(peak_in, float(np.max(np.abs(block))))
        peak_eq = max(peak_eq, float(np.max(np.abs(stream.process(block)))))
    return peak_in, peak_eq


def apply_file(
    in_path: str | Path,
    out_path: str | Path,
    curve: EqCurve,
    max_gain_db: float = DEFAULT_MAX_GAIN_DB,
    amount: float = 1.0,
    normalize: bool = True,
    out_format: str | None = None,
    subtype: str | None = None,
) -> ApplyReport:
    """Equalise in_path by curve (scaled by ``EqCurve.to_db(max_gain_db, amount)``) into out_path.

    out_format/subtype default to out_path's extension and the input's subtype (see ``files.output_format``).
    """
    started = time.perf_counter()
    in_path, out_path = Path(in_path), Path(out_path)
    info = read_info(in_path)
    fmt, chosen_subtype = output_format(info, out_path, out_format, subtype)
    gains = curve.to_db(max_gain_db, amount)
    design = design_graphic_eq(gains.values, info.sample_rate, gains.centres_hz)
    impulse = impulse_response(design.sos)
    block_frames = FftStream(impulse, 1).preferred_block_frames
    lossy = chosen_subtype in LOSSY_SUBTYPES
    target = 10.0 ** ((TARGET_PEAK_LOSSY_DBFS if lossy else TARGET_PEAK_DBFS) / 20.0)

    scale, peak_in, peak_eq = 1.0, 0.0, 0.0
    if normalize:
        peak_in, peak_eq = _measure_peak(info, impulse, block_frames)
        scale = min(1.0, target / peak_eq) if peak_eq > 0 else 1.0
    hard_clip = chosen_subtype not in FLOAT_SUBTYPES
    stream = FftStream(impulse, info.channels)
    with atomic_writer(out_path, info.sample_rate, info.channels, fmt, chosen_subtype) as sink:
        for block in read_blocks(info, block_frames):
            filtered = stream.process(block)
            if not normalize:
                peak_in = max(peak_in, float(np.max(np.abs(block))))
                peak_eq = max(peak_eq, float(np.max(np.abs(filtered))))
            if scale != 1.0:
                filtered *= scale
            if hard_clip:
                np.clip(filtered, -1.0, 1.0, out=filtered)
            sink.write(filtered)
    peak_out = peak_eq * scale
    report = ApplyReport(
        in_path, out_path, fmt, chosen_subtype, info.sample_rate, info.channels, info.frames,
        normalization_gain_db=to_dbfs(scale), peak_in_dbfs=to_dbfs(peak_in), peak_out_dbfs=to_dbfs(peak_out),
        clipped=peak_out > 1.0, elapsed_s=time.perf_counter() - started,
        dropped_centres_hz=design.dropped_centres_hz,
    )  # fmt: skip
    log.debug("applied %s", report)
    return report
