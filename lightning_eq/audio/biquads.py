"""Second-order filter sections from the Audio EQ Cookbook (R. Bristow-Johnson), and their dB response.

Every function here is vectorised over bands: ``fc`` (centre or corner frequency in Hz), ``gain_db`` and
the width are arrays of the same shape, ``fs`` is the sample rate in Hz, and the result is an SOS array
``(..., 6)`` with rows ``[b0, b1, b2, 1, a1, a2]`` as ``scipy.signal.sosfilt`` takes them.

Peaking bells come in two forms. ``peaking_sos`` takes Q (``alpha = sin(w0) / 2Q``), as Equalizer APO
and pedalboard do, so exported presets sound as fitted. ``peaking_bw_sos`` takes the bandwidth in
octaves with the cookbook's bilinear-warping correction (``alpha = sin(w0) sinh(ln2/2 bw w0/sin(w0))``);
the graphic EQ uses it because a Q-form bell near Nyquist (19682 Hz at 44.1 kHz is 0.89 of Nyquist) is
squeezed to a fraction of its width and the response ripples between the top bands. Far below Nyquist
the two agree, with ``bw = q_to_bw_oct(q)``. Shelves take Q as Equalizer APO's ``LSC``/``HSC`` filters
do; ``fc`` is the frequency where a shelf reaches half its gain in dB.
"""

from __future__ import annotations

import numpy as np

LN2 = np.log(2.0)


def q_to_bw_oct(q: float | np.ndarray) -> np.ndarray:
    """Bandwidth in octaves of an analogue bell with quality factor q (1/q = 2 sinh(ln2/2 * bw))."""
    return 2.0 / LN2 * np.arcsinh(1.0 / (2.0 * np.asarray(q, dtype=float)))


def bw_oct_to_q(bw_oct: float | np.ndarray) -> np.ndarray:
    """Quality factor of an analogue bell bw_oct octaves wide (inverse of ``q_to_bw_oct``)."""
    return 1.0 / (2.0 * np.sinh(LN2 / 2.0 * np.asarray(bw_oct, dtype=float)))


def _normalise(b: np.ndarray, a: np.ndarray) -> np.ndarray:
    """Stack (..., 3) numerator and denominator into (..., 6) SOS rows with a0 = 1."""
    a0 = a[..., :1]
    return np.concatenate([b / a0, a / a0], axis=-1)


def _peaking_from_alpha(w0: np.ndarray, gain_db: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    big_a = 10.0 ** (gain_db / 40.0)
    cos_w0 = np.cos(w0)
    b = np.stack([1.0 + alpha * big_a, -2.0 * cos_w0, 1.0 - alpha * big_a], axis=-1)
    a = np.stack([1.0 + alpha / big_a, -2.0 * cos_w0, 1.0 - alpha / big_a], axis=-1)
    return _normalise(b, a)


def peaking_sos(fc: np.ndarray, gain_db: np.ndarray, q: np.ndarray, fs: float) -> np.ndarray:
    """Cookbook peaking bells by Q, as Equalizer APO's PK and pedalboard's PeakFilter build them."""
    fc, gain_db, q = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (fc, gain_db, q)))
    w0 = 2.0 * np.pi * fc / fs
    return _peaking_from_alpha(w0, gain_db, np.sin(w0) / (2.0 * q))


def peaking_bw_sos(fc: np.ndarray, gain_db: np.ndarray, bw_oct: np.ndarray, fs: float) -> np.ndarray:
    """Peaking bells bw_oct octaves wide, corrected for bilinear warping so they keep that width near Nyquist."""
    fc, gain_db, bw_oct = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (fc, gain_db, bw_oct)))
    w0 = 2.0 * np.pi * fc / fs
    return _peaking_from_alpha(w0, gain_db, np.sin(w0) * np.sinh(LN2 / 2.0 * bw_oct * w0 / np.sin(w0)))


def shelf_sos(kind: str, fc: np.ndarray, gain_db: np.ndarray, q: np.ndarray, fs: float) -> np.ndarray:
    """Low (kind="low") or high (kind="high") shelves reaching gain_db, half of it at fc Hz, slope set by q."""
    fc, gain_db, q = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (fc, gain_db, q)))
    big_a = 10.0 ** (gain_db / 40.0)
    w0 = 2.0 * np.pi * fc / fs
    cos_w0, two_sqrt_a_alpha = np.cos(w0), np.sqrt(big_a) * np.sin(w0) / q
    ap1, am1 = big_a + 1.0, big_a - 1.0
    sign = 1.0 if kind == "low" else -1.0  # the high shelf is the low shelf with cos(w0) negated
    c = sign * cos_w0
    b = big_a[..., None] * np.stack(
        [ap1 - am1 * c + two_sqrt_a_alpha, sign * 2.0 * (am1 - ap1 * c), ap1 - am1 * c - two_sqrt_a_alpha], axis=-1
    )
    a = np.stack([ap1 + am1 * c + two_sqrt_a_alpha, -sign * 2.0 * (am1 + ap1 * c), ap1 + am1 * c - two_sqrt_a_alpha], -1)
    return _normalise(b, a)


def sos_response_db(sos: np.ndarray, freqs_hz: np.ndarray, fs: float) -> np.ndarray:
    """Magnitude in dB of each section at each frequency: (n_sections, n_freqs)."""
    sos = np.atleast_2d(sos)
    z1 = np.exp(-2j * np.pi * np.asarray(freqs_hz, dtype=float) / fs)[None, :]
    z2 = z1 * z1
    num = sos[:, 0:1] + sos[:, 1:2] * z1 + sos[:, 2:3] * z2
    den = sos[:, 3:4] + sos[:, 4:5] * z1 + sos[:, 5:6] * z2
    return 20.0 * np.log10(np.abs(num) / np.abs(den))


def max_pole_radius(sos: np.ndarray) -> float:
    """Largest pole magnitude over all sections: how slowly the cascade's impulse response decays."""
    sos = np.atleast_2d(sos)
    if sos.shape[0] == 0:
        return 0.0
    disc = (sos[:, 4] ** 2 - 4.0 * sos[:, 5]).astype(complex)
    roots = np.concatenate([(-sos[:, 4] + np.sqrt(disc)) / 2.0, (-sos[:, 4] - np.sqrt(disc)) / 2.0])
    return float(np.max(np.abs(roots)))
