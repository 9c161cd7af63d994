"""Presets: the exact text formats, and what the parametric filters do when an equaliser builds them."""

from __future__ import annotations

import re

import numpy as np
import pedalboard
import pytest

from lightning_eq.audio.parametric import fit_parametric
from lightning_eq.curves import BAND_CENTRES_HZ, EqCurve
from lightning_eq.data.socialeq import load_records
from lightning_eq.errors import DataError
from lightning_eq.presets import export_preset

CURVE = EqCurve(load_records().curves_z[0], model="glove", text="warm")
FILTER_LINE = re.compile(r"^Filter (\d+): ON (PK|LSC|HSC) Fc (\d+) Hz Gain (-?\d+\.\d) dB Q (\d+\.\d\d)$")
PLUGINS = {"PK": pedalboard.PeakFilter, "LSC": pedalboard.LowShelfFilter, "HSC": pedalboard.HighShelfFilter}


def built_response_db(text: str, freqs_hz: np.ndarray, sample_rate: int = 48000) -> np.ndarray:
    """Build the preset's filters with pedalboard (as an equaliser would) and measure its response in dB."""
    preamp_db = float(re.search(r"^Preamp: (-?\d+\.\d) dB$", text, re.MULTILINE).group(1))
    plugins = [pedalboard.Gain(preamp_db)]
    for line in text.splitlines():
        if match := FILTER_LINE.match(line):
            kind, fc, gain, q = match.group(2), float(match.group(3)), float(match.group(4)), float(match.group(5))
            plugins.append(PLUGINS[kind](fc, gain, q))
    impulse = np.zeros((1, 2 * sample_rate), dtype=np.float32)
    impulse[0, 0] = 1.0
    response = np.fft.rfft(pedalboard.Pedalboard(plugins)(impulse, sample_rate)[0].astype(float))
    bins = np.fft.rfftfreq(impulse.shape[1], 1 / sample_rate)
    return np.interp(freqs_hz, bins, 20 * np.log10(np.abs(response)))


def test_graphic_eq_line_lists_every_centre_with_its_gain():
    text = export_preset(CURVE, "graphic").text
    assert text.startswith("GraphicEQ: ") and text.endswith("\n") and text.count("\n") == 1
    pairs = [p.split(" ") for p in text[len("GraphicEQ: ") :].strip().split("; ")]
    assert [float(f) for f, _ in pairs] == [float(round(f)) for f in BAND_CENTRES_HZ]
    assert all(re.fullmatch(r"-?\d+\.\d", g) and g != "-0.0" for _, g in pairs)
    np.testing.assert_allclose([float(g) for _, g in pairs], CURVE.to_db().values, atol=0.051)


def test_parametric_preset_sounds_like_the_curve_when_built_by_pedalboard():
    preset = export_preset(CURVE, "parametric")
    lines = preset.text.splitlines()
    filters = [FILTER_LINE.match(line) for line in lines if line.startswith("Filter")]
    assert all(filters) and [int(m.group(1)) for m in filters] == list(range(1, 9))
    assert {m.group(2) for m in filters} == {"PK", "LSC", "HSC"}
    assert preset.fit.max_error_db < 0.5 and preset.fit.rms_error_db < 0.2
    gains_db = CURVE.to_db().values[1:]  # JUCE's float32 coefficients are off by ~0.3 dB for a bell near 20 Hz
    realised = built_response_db(preset.text, np.array(BAND_CENTRES_HZ[1:])) - preset.fit.preamp_db
    assert np.max(np.abs(realised - gains_db)) < preset.fit.max_error_db + 0.05
    loudest = built_response_db(preset.text, np.geomspace(20, 20000, 2000)).max()
    assert -0.1 <= loudest <= 0.05  # the preamp takes the largest boost back to 0 dB, no further
    assert f"max error {preset.fit.max_error_db:.2f} dB" in preset.text


def test_parametric_fits_stay_close_across_the_data_set():
    errors = [export_preset(EqCurve(c), "parametric").fit.max_error_db for c in load_records().curves_z[::150]]
    assert max(errors) < 0.6 and np.median(errors) < 0.3


@pytest.mark.parametrize(("n_filters", "kinds"), [(1, {"PK"}), (2, {"LSC", "HSC"}), (12, {"PK", "LSC", "HSC"})])
def test_filter_count_is_respected(n_filters, kinds):
    fit = export_preset(CURVE, "parametric", n_filters=n_filters).fit
    assert len(fit.filters) == n_filters and {f.kind for f in fit.filters} == kinds


def test_a_cut_only_fit_needs_no_preamp():
    fit = fit_parametric(-4 * np.abs(np.sin(np.linspace(0, 6, 40))))
    assert fit.max_error_db < 0.5 and -0.3 <= fit.preamp_db <= 0.0


def test_json_reloads_to_the_same_gains(tmp_path):
    path = tmp_path / "warm.json"
    path.write_text(export_preset(CURVE, "json", max_gain_db=6, amount=-0.5).text)
    loaded = EqCurve.load(path)
    assert (loaded.model, loaded.text) == ("glove", "warm")
    np.testing.assert_allclose(loaded.to_db(6).values, CURVE.to_db(6, -0.5).values, atol=1e-3)


def test_bad_requests_are_named():
    with pytest.raises(DataError, match="Unknown export format 'eqapo'"):
        export_preset(CURVE, "eqapo")
    with pytest.raises(DataError, match="between 1 and 20"):
        export_preset(CURVE, "parametric", n_filters=0)
