"""Physical checks of the graphic EQ: measure what apply_curve does to sine tones and to a log sweep."""

from __future__ import annotations

import numpy as np
import pedalboard
import pytest

from lightning_eq.audio import apply_curve, design_graphic_eq
from lightning_eq.audio.biquads import peaking_sos, shelf_sos, sos_response_db
from lightning_eq.curves import BAND_CENTRES_HZ, EqCurve
from lightning_eq.data.socialeq import load_records
from lightning_eq.errors import AudioError

SETTLE_S, MEASURE_S = 0.4, 0.25  # the impulse response has decayed by -240 dB within 0.4 s


def socialeq_gains_db() -> dict[str, np.ndarray]:
    """Two real curves scaled to +-5 dB: the first English row and the most jagged one."""
    curves = load_records().curves_z
    roughness = np.abs(np.diff(curves, n=2, axis=1)).sum(axis=1)
    return {name: EqCurve(curves[i]).to_db().values for name, i in (("first", 0), ("jagged", int(np.argmax(roughness))))}


CURVES = socialeq_gains_db()


def tone_gains_db(freqs_hz: np.ndarray, sample_rate: int, gains_db: np.ndarray) -> np.ndarray:
    """Steady-state gain in dB of the EQ for a unit sine at each frequency (one tone per channel)."""
    t = np.arange(int((SETTLE_S + MEASURE_S) * sample_rate)) / sample_rate
    tones = np.sin(2 * np.pi * np.outer(t, freqs_hz))
    out = apply_curve(tones, sample_rate, gains_db)
    steady = slice(int(SETTLE_S * sample_rate), len(t))
    amplitudes = []
    for k, f in enumerate(freqs_hz):  # least-squares sine fit: exact for any (non-integer) number of periods
        basis = np.stack([np.sin(2 * np.pi * f * t[steady]), np.cos(2 * np.pi * f * t[steady])], axis=1)
        coeffs = np.linalg.lstsq(basis, out[steady, k], rcond=None)[0]
        amplitudes.append(np.hypot(*coeffs))
    return 20 * np.log10(amplitudes)


def sweep_response_db(sample_rate: int, gains_db: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(freqs_hz, dB) of the EQ measured with an exponential sweep, 10 Hz to 0.97 Nyquist, by spectral division."""
    duration_s, f_lo, f_hi = 2.0, 10.0, 0.97 * sample_rate / 2
    t = np.arange(int(duration_s * sample_rate)) / sample_rate
    rate = np.log(f_hi / f_lo)
    sweep = np.sin(2 * np.pi * f_lo * duration_s / rate * (np.exp(t * rate / duration_s) - 1))
    padded = np.concatenate([sweep, np.zeros(sample_rate)])  # room for the filter's tail
    out = apply_curve(padded, sample_rate, gains_db)
    freqs = np.fft.rfftfreq(len(padded), 1 / sample_rate)
    ratio = np.fft.rfft(out) / np.fft.rfft(padded)
    band = (freqs >= 15) & (freqs <= 0.95 * sample_rate / 2)
    return freqs[band], 20 * np.log10(np.abs(ratio[band]))


@pytest.mark.parametrize("sample_rate", [8000, 44100, 192000])
@pytest.mark.parametrize("name", sorted(CURVES))
def test_tones_at_centres_match_the_curve(sample_rate, name):
    gains_db = CURVES[name]
    centres = np.array(BAND_CENTRES_HZ)
    below = centres < sample_rate / 2
    measured = tone_gains_db(centres[below], sample_rate, gains_db)
    np.testing.assert_allclose(measured, gains_db[below], atol=0.5)
    assert np.max(np.abs(measured - gains_db[below])) < 0.05  # what the design actually achieves


@pytest.mark.parametrize("sample_rate", [8000, 44100, 192000])
@pytest.mark.parametrize("name", sorted(CURVES))
def test_sweep_is_smooth_between_centres(sample_rate, name):
    gains_db = CURVES[name]
    freqs, measured = sweep_response_db(sample_rate, gains_db)
    centres = np.array(BAND_CENTRES_HZ)
    kept = centres < sample_rate / 2
    for lo_hz, hi_hz, a_db, b_db in zip(centres[kept][:-1], centres[kept][1:], gains_db[:-1], gains_db[1:]):
        inside = measured[(freqs > lo_hz) & (freqs < hi_hz)]
        assert inside.max() <= max(a_db, b_db) + 1.0, f"spike between {lo_hz} and {hi_hz} Hz"
        assert inside.min() >= min(a_db, b_db) - 1.0, f"dip between {lo_hz} and {hi_hz} Hz"
    at_centres = np.interp(np.log(centres[kept]), np.log(freqs), measured)
    np.testing.assert_allclose(at_centres, gains_db[kept], atol=0.5)


def test_design_hits_every_socialeq_curve():
    """The analytic response of the design, for every 7th curve of the data set at 44.1 kHz."""
    centres = np.array(BAND_CENTRES_HZ)
    for curve_z in load_records().curves_z[::7]:
        gains_db = EqCurve(curve_z).to_db().values
        design = design_graphic_eq(gains_db, 44100)
        assert np.max(np.abs(design.response_db(centres) - gains_db)) < 0.05
        between = np.sqrt(centres[:-1] * centres[1:])  # geometric midpoints
        lo, hi = np.minimum(gains_db[:-1], gains_db[1:]), np.maximum(gains_db[:-1], gains_db[1:])
        realised = design.response_db(between)
        assert np.all(realised <= hi + 0.5) and np.all(realised >= lo - 0.5)


def test_flat_curve_leaves_a_sine_unchanged():
    t = np.arange(44100) / 44100
    sine = 0.5 * np.sin(2 * np.pi * 440 * t)
    np.testing.assert_allclose(apply_curve(sine, 44100, np.zeros(40)), sine, atol=1e-12)


def test_six_db_at_one_band_raises_that_band_only():
    gains_db = np.zeros(40)
    gains_db[BAND_CENTRES_HZ.index(971)] = 6.0
    measured = tone_gains_db(np.array([100.0, 971.0, 10000.0]), 44100, gains_db)
    np.testing.assert_allclose(measured, [0.0, 6.0, 0.0], atol=0.1)


def test_bands_at_or_above_nyquist_are_dropped():
    design = design_graphic_eq(np.linspace(-5, 5, 40), 8000)
    assert design.dropped_centres_hz[0] == 4392 and len(design.centres_hz) == 26
    assert np.all(design.centres_hz < 4000)


def test_fft_and_iir_engines_agree():
    noise = np.random.default_rng(1).standard_normal((30000, 2))
    gains_db = CURVES["jagged"]
    np.testing.assert_allclose(
        apply_curve(noise, 48000, gains_db), apply_curve(noise, 48000, gains_db, engine="iir"), atol=1e-9
    )


def test_cookbook_bells_and_shelves_match_pedalboard():
    """Our Q-form biquads are the ones pedalboard (JUCE) builds, so exported presets mean the same filters."""
    impulse = np.zeros((1, 48000), dtype=np.float32)
    impulse[0, 0] = 1.0
    freqs = np.fft.rfftfreq(48000, 1 / 48000)[20:]  # JUCE computes in float32: it drifts ~0.01 dB at low corners
    cases = [
        (pedalboard.PeakFilter(1000, 6, 4.31), peaking_sos(1000, 6, 4.31, 48000)),
        (pedalboard.LowShelfFilter(400, -4, 0.707), shelf_sos("low", 400, -4, 0.707, 48000)),
        (pedalboard.HighShelfFilter(8000, 3, 0.9), shelf_sos("high", 8000, 3, 0.9, 48000)),
    ]
    for plugin, sos in cases:
        theirs = 20 * np.log10(np.abs(np.fft.rfft(pedalboard.Pedalboard([plugin])(impulse, 48000)[0])))[20:]
        np.testing.assert_allclose(sos_response_db(sos, freqs, 48000)[0], theirs, atol=0.01)


@pytest.mark.parametrize("sample_rate", [4000, 384000])
def test_unsupported_sample_rates_are_refused(sample_rate):
    with pytest.raises(AudioError, match="8000 to 192000 Hz"):
        apply_curve(np.zeros(100), sample_rate, np.zeros(40))


def test_wrong_number_of_gains_is_refused():
    with pytest.raises(AudioError, match="39 gains for 40 band centres"):
        apply_curve(np.zeros(100), 44100, np.zeros(39))


def test_absurd_gains_are_refused():
    with pytest.raises(AudioError, match="at most"):
        apply_curve(np.zeros(100), 44100, np.linspace(-30, 30, 40))


def test_integer_samples_are_refused():
    with pytest.raises(AudioError, match="floating-point"):
        apply_curve(np.zeros(100, dtype=np.int16), 44100, np.zeros(40))
