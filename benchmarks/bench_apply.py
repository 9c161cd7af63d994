"""Applying a curve to audio: speed on one core against pedalboard, and memory for long files.

1. A 3-minute stereo 44.1 kHz music-like signal in memory: our ``apply_curve`` (FFT engine, and the
   sosfilt engine for reference) against pedalboard running 40 ``PeakFilter``s at the same centres, the
   process pinned to one CPU core with BLAS/OpenMP pools limited to one thread. Real-time factor =
   audio seconds / wall seconds (best of three).
2. ``apply_file`` end to end on that signal as a 16-bit WAV (read, filter, write; two passes when
   normalising).
3. Peak traced memory (tracemalloc, which sees numpy's buffers) of ``apply_file`` on 10- and 60-minute
   stereo files, generated block by block on disk: it should not grow with length.

Run: .venv/bin/python benchmarks/bench_apply.py   (or benchmarks/run.py bench_apply)
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pedalboard
import soundfile as sf
from scipy import signal
from threadpoolctl import threadpool_limits

from lightning_eq.audio import apply_curve, apply_file, design_graphic_eq
from lightning_eq.audio.biquads import peaking_sos, sos_response_db
from lightning_eq.curves import BAND_CENTRES_HZ, BAND_Q, EqCurve
from lightning_eq.data.socialeq import load_records

SAMPLE_RATE = 44100
SHORT_S = 180
LONG_MINUTES = (10, 60)
TARGET_REALTIME = 200


@contextlib.contextmanager
def one_core():
    """Pin this process to one CPU and cap the BLAS/OpenMP pools at one thread."""
    previous = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    if previous:
        os.sched_setaffinity(0, {min(previous)})
    try:
        with threadpool_limits(limits=1):
            yield
    finally:
        if previous:
            os.sched_setaffinity(0, previous)


class MusicLikeNoise:
    """Endless stereo pink-ish noise with a slow loudness envelope and a few held tones, made in blocks."""

    def __init__(self, seed: int = 0):
        self.rng = np.random.default_rng(seed)
        self.pink = signal.butter(1, 200, "low", fs=SAMPLE_RATE, output="sos")  # -6 dB/oct above 200 Hz
        self.state = np.zeros((1, 2, 2))
        self.frame = 0

    def block(self, frames: int) -> np.ndarray:
        t = (self.frame + np.arange(frames)) / SAMPLE_RATE
        white = self.rng.standard_normal((frames, 2))
        noise, self.state = signal.sosfilt(self.pink, white, axis=0, zi=self.state)
        tones = sum(np.sin(2 * np.pi * f * t) / (k + 2) for k, f in enumerate((110.0, 220.0, 330.0, 1760.0)))
        envelope = 0.6 + 0.4 * np.sin(2 * np.pi * 0.25 * t) ** 2
        self.frame += frames
        return 0.08 * envelope[:, None] * (noise + tones[:, None])


def write_music(path: Path, seconds: float, block_frames: int = 1 << 18) -> None:
    source, remaining = MusicLikeNoise(), int(seconds * SAMPLE_RATE)
    with sf.SoundFile(path, "w", SAMPLE_RATE, 2, "PCM_16") as sink:
        while remaining > 0:
            sink.write(source.block(min(block_frames, remaining)))
            remaining -= block_frames


def best_of(runs: int, action) -> float:
    timings = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        timings.append(time.perf_counter() - start)
    return min(timings)


def bench_in_memory(gains_db: np.ndarray) -> None:
    audio = MusicLikeNoise().block(SHORT_S * SAMPLE_RATE)  # (frames, 2) float64
    audio_f32 = np.ascontiguousarray(audio.T, dtype=np.float32)  # pedalboard's layout and sample type
    board = pedalboard.Pedalboard([pedalboard.PeakFilter(f, g, BAND_Q) for f, g in zip(BAND_CENTRES_HZ, gains_db)])
    with one_core():
        ours = best_of(3, lambda: apply_curve(audio, SAMPLE_RATE, gains_db))
        ours_iir = best_of(1, lambda: apply_curve(audio, SAMPLE_RATE, gains_db, engine="iir"))
        theirs = best_of(3, lambda: board(audio_f32, SAMPLE_RATE))
    print("3-minute stereo 44.1 kHz in memory, one core (best of 3):")
    print(f"  lightning-eq apply_curve, FFT engine  {ours:6.3f} s  {SHORT_S / ours:7.0f}x real time"
          f"  (target >= {TARGET_REALTIME}x: {'met' if SHORT_S / ours >= TARGET_REALTIME else 'MISSED'})")
    print(f"  lightning-eq apply_curve, sosfilt     {ours_iir:6.3f} s  {SHORT_S / ours_iir:7.0f}x real time")
    print(f"  pedalboard, 40 PeakFilter (float32)   {theirs:6.3f} s  {SHORT_S / theirs:7.0f}x real time")
    print(f"  ratio ours / pedalboard speed: {theirs / ours:.2f}")

    centres = np.array(BAND_CENTRES_HZ)
    naive = sos_response_db(peaking_sos(centres, gains_db, BAND_Q, SAMPLE_RATE), centres, SAMPLE_RATE).sum(axis=0)
    design = design_graphic_eq(gains_db, SAMPLE_RATE)
    print(f"  error at the 40 centres: ours {np.max(np.abs(design.response_db(centres) - gains_db)):.3f} dB max; "
          f"pedalboard's 40 bells at the curve's gains (no interaction correction) {np.max(np.abs(naive - gains_db)):.2f} dB max")


def bench_file(folder: Path, curve: EqCurve) -> None:
    source = folder / "three_minutes.wav"
    write_music(source, SHORT_S)
    for normalize in (True, False):
        report = apply_file(source, folder / "out.wav", curve, normalize=normalize)
        print(f"apply_file 3-minute 16-bit WAV, normalize={normalize}: {report.elapsed_s:.2f} s, "
              f"{report.realtime_factor:.0f}x real time (read + filter + write), "
              f"gain {report.normalization_gain_db:+.1f} dB")


def bench_memory(folder: Path, curve: EqCurve) -> None:
    for minutes in LONG_MINUTES:
        source = folder / f"{minutes}_minutes.wav"
        write_music(source, minutes * 60)
        tracemalloc.start()
        report = apply_file(source, folder / "out.wav", curve)
        _, peak_bytes = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(f"apply_file {minutes:2d}-minute stereo WAV ({source.stat().st_size / 2**20:5.0f} MiB): "
              f"peak traced memory {peak_bytes / 2**20:5.1f} MiB, {report.elapsed_s:5.1f} s "
              f"({report.realtime_factor:.0f}x real time, normalised, two passes)")
        source.unlink()


def main() -> None:
    curve = EqCurve(load_records().curves_z[0])
    gains_db = curve.to_db().values
    bench_in_memory(gains_db)
    with tempfile.TemporaryDirectory(prefix="bench_apply_") as folder:
        bench_file(Path(folder), curve)
        bench_memory(Path(folder), curve)


if __name__ == "__main__":
    main()
