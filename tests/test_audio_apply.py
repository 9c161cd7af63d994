"""apply_file: streaming equals one pass, level handling, channels, sample rates."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from lightning_eq.audio import apply_curve, apply_file
from lightning_eq.audio.filters import design_graphic_eq
from lightning_eq.audio.streaming import FftStream, SosStream, impulse_response
from lightning_eq.curves import BAND_CENTRES_HZ, EqCurve


def boosted_curve() -> EqCurve:
    """A z-shape whose dB version peaks at +5 dB around 1 kHz."""
    curve_z = np.exp(-0.5 * ((np.log2(BAND_CENTRES_HZ) - np.log2(1000)) / 0.7) ** 2)
    return EqCurve(curve_z)


def write_noise(path, sample_rate=44100, frames=44100, channels=2, subtype="FLOAT", level=0.25, seed=0):
    audio = level * np.random.default_rng(seed).standard_normal((frames, channels)).clip(-3.9, 3.9)
    sf.write(path, audio, sample_rate, subtype=subtype)
    return sf.read(path, always_2d=True)[0]


def test_streamed_file_equals_one_pass_over_the_array(tmp_path):
    """200k frames cross several 64k-frame blocks; the written file must equal apply_curve on the whole array."""
    audio = write_noise(tmp_path / "in.wav", frames=200_000, subtype="DOUBLE")
    curve = boosted_curve()
    report = apply_file(tmp_path / "in.wav", tmp_path / "out.wav", curve, normalize=False)
    written, _ = sf.read(tmp_path / "out.wav", always_2d=True)
    assert report.subtype == "DOUBLE"
    np.testing.assert_allclose(written, apply_curve(audio, 44100, curve.to_db().values), atol=1e-9, rtol=0)


@pytest.mark.parametrize("engine", ["fft", "iir"])
def test_any_block_sizes_give_the_same_output(engine):
    design = design_graphic_eq(np.linspace(-5, 5, 40), 48000)
    audio = np.random.default_rng(2).standard_normal((100_000, 2))
    make = (lambda: FftStream(impulse_response(design.sos), 2)) if engine == "fft" else (lambda: SosStream(design.sos, 2))
    whole = make().process(audio)
    stream, pieces, start = make(), [], 0
    for size in [1, 7, 4096, 30_000, 65_536]:
        pieces.append(stream.process(audio[start : start + size]))
        start += size
    pieces.append(stream.process(audio[start:]))
    np.testing.assert_allclose(np.concatenate(pieces), whole, atol=1e-12, rtol=0)


def test_normalisation_keeps_a_hot_file_below_full_scale(tmp_path):
    t = np.arange(44100) / 44100
    sine = 0.99 * np.sin(2 * np.pi * 1000 * t)
    sf.write(tmp_path / "hot.wav", sine, 44100, subtype="PCM_16")
    report = apply_file(tmp_path / "hot.wav", tmp_path / "out.wav", boosted_curve())
    written, _ = sf.read(tmp_path / "out.wav")
    assert report.normalization_gain_db < -4.5  # +5 dB at 1 kHz on a -0.1 dBFS sine
    assert not report.clipped
    assert report.peak_out_dbfs == pytest.approx(-0.1, abs=1e-6)
    assert 20 * np.log10(np.max(np.abs(written))) < -0.05
    assert report.peak_in_dbfs == pytest.approx(20 * np.log10(np.max(np.abs(sine))), abs=0.01)


def test_no_normalize_reports_clipping_and_hard_clips_integer_output(tmp_path):
    t = np.arange(44100) / 44100
    sf.write(tmp_path / "hot.wav", 0.99 * np.sin(2 * np.pi * 1000 * t), 44100, subtype="PCM_16")
    report = apply_file(tmp_path / "hot.wav", tmp_path / "out.wav", boosted_curve(), normalize=False)
    written, _ = sf.read(tmp_path / "out.wav")
    assert report.clipped and report.normalization_gain_db == 0.0
    assert report.peak_out_dbfs == pytest.approx(4.9, abs=0.2)
    assert np.max(np.abs(written)) <= 1.0 and np.mean(np.abs(written) > 0.999) > 0.1  # flat tops, no wrap-around


def test_quiet_files_are_not_turned_up(tmp_path):
    write_noise(tmp_path / "quiet.wav", level=0.01)
    report = apply_file(tmp_path / "quiet.wav", tmp_path / "out.wav", boosted_curve())
    assert report.normalization_gain_db == 0.0 and report.peak_out_dbfs < -20


@pytest.mark.parametrize("channels", [1, 2, 6])
def test_channels_are_kept_and_filtered_independently(tmp_path, channels):
    audio = write_noise(tmp_path / "in.wav", frames=20_000, channels=channels, subtype="FLOAT")
    report = apply_file(tmp_path / "in.wav", tmp_path / "out.wav", boosted_curve(), normalize=False)
    written, _ = sf.read(tmp_path / "out.wav", always_2d=True)
    assert report.channels == channels and written.shape == (20_000, channels)
    gains_db = boosted_curve().to_db().values
    for k in range(channels):
        np.testing.assert_allclose(written[:, k], apply_curve(audio[:, k], 44100, gains_db), atol=1e-6)


@pytest.mark.parametrize("sample_rate", [8000, 22050, 44100, 96000, 192000])
def test_sample_rates_are_kept(tmp_path, sample_rate):
    write_noise(tmp_path / "in.wav", sample_rate=sample_rate, frames=sample_rate // 4)
    report = apply_file(tmp_path / "in.wav", tmp_path / "out.wav", boosted_curve())
    assert report.sample_rate == sf.info(tmp_path / "out.wav").samplerate == sample_rate
    assert sf.info(tmp_path / "out.wav").frames == sample_rate // 4
    assert report.dropped_centres_hz == tuple(f for f in BAND_CENTRES_HZ if f >= sample_rate / 2)


def test_amount_zero_is_transparent(tmp_path):
    audio = write_noise(tmp_path / "in.wav", subtype="DOUBLE")
    apply_file(tmp_path / "in.wav", tmp_path / "out.wav", boosted_curve(), amount=0.0, normalize=False)
    np.testing.assert_allclose(sf.read(tmp_path / "out.wav", always_2d=True)[0], audio, atol=1e-12)


@pytest.mark.slow  # a fresh interpreter
def test_applying_needs_no_ml_stack():
    """audio/ and presets must work without torch: importing them must not load it."""
    code = "import sys, lightning_eq.audio, lightning_eq.presets; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
