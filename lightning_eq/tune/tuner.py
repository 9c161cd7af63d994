"""The tuner: Bayesian linear regression of a listener's ratings on the probes' coordinates in a curve basis.

The model. A listener's curve is ``u = prior + components.T @ v`` with ``v ~ N(0, diag(scales**2) / strength)``:
the text model's curve (or the mean curve), projected onto the basis, plus a deviation with the spread of real
curves (a text prior narrows it by ``prior_strength``; the mean curve is the population itself, strength 1). A
rating of a z-scored probe ``p`` is ``0.5 + 0.5 * r(p, u) + noise`` with ``r = p @ u / 40`` for z-scored curves,
as SocialEQ models ratings (linear in the band gains). That is linear in ``v``, so the posterior of ``v`` is
Gaussian in closed form. A rating of 0 or 1 is censored (the scale ends there): EM replaces it by the latent
rating's conditional mean.

Probes are Thompson samples of the posterior in antithetic pairs, ``est ± exploration * L @ eps``; of
``candidates`` such pairs the one kept lowers the posterior variance most once rated (A-optimal design). A
pair's rating difference measures the listener along an uncertain direction; ``exploration`` trades how much a
probe tells against how close it stays to the current estimate (what the listener would like to hear).
numpy only (plus pydantic for the settings): no torch, no scipy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lightning_eq.config import TuneSettings
from lightning_eq.curves import DEFAULT_MAX_GAIN_DB, N_BANDS, EqCurve
from lightning_eq.errors import ConfigError, DataError
from lightning_eq.tune.basis import CurveBasis, load_json
from lightning_eq.tune.ratings import Rating, zscore

TUNER_FILE = "tuner.json"
CENSORED_EPS = 1e-6  # a rating within this of 0 or 1 sits on the end of the scale
EM_STEPS = 8  # censored ratings: enough for the conditional means to settle (each step is a 10x10 solve)


@dataclass(frozen=True)
class TuneResult:
    """The current estimate ``curve_z`` (40,), the next ``probes`` (P, 40) to rate, and how many ratings it used."""

    curve_z: np.ndarray
    probes: np.ndarray
    n_ratings: int

    def to_dict(self, max_gain_db: float = DEFAULT_MAX_GAIN_DB) -> dict:
        """The JSON the CLI prints and the API returns: curve_z, gains_db (``EqCurve.to_db``), probes, n_ratings."""
        def curve(values: np.ndarray) -> dict:
            return {"curve_z": values.round(5).tolist(), "gains_db": EqCurve(values).to_db(max_gain_db).values.round(3).tolist()}

        return {**curve(self.curve_z), "probes": [curve(p) for p in self.probes], "n_ratings": self.n_ratings}


@dataclass(frozen=True)
class Posterior:
    """Deviations ``v`` from the priors in basis coordinates, for N listeners: mean (N, B), covariance (N, B, B)."""

    mean: np.ndarray
    cov: np.ndarray


def _mills(a: np.ndarray) -> np.ndarray:
    """The inverse Mills ratio pdf(a) / (1 - cdf(a)) of the standard normal, to 5e-4 relative: erfc by Abramowitz &
    Stegun 7.1.26 (erf to 1.5e-7; the exponentials cancel in closed form) below a = 4, Laplace's continued fraction
    a + 1/(a + 2/(a + 3/...)) above. numpy has no erf, and scipy is not needed here."""
    x = np.abs(a) / math.sqrt(2.0)
    t = 1.0 / (1.0 + 0.3275911 * x)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    pdf = np.exp(-0.5 * a * a) / math.sqrt(2 * math.pi)
    small = np.where(a >= 0, math.sqrt(2 / math.pi) / poly, pdf / (1.0 - 0.5 * poly * np.exp(-x * x)))
    tail = np.maximum(a, 4.0)
    fraction = tail
    for k in range(30, 0, -1):
        fraction = tail + k / fraction
    return np.where(a > 4.0, fraction, small)


class Tuner:
    """Estimate a listener's curve from ratings of probes, and propose the next probes (stateless).

    ``step`` serves one listener; ``estimate`` and ``propose`` work on N listeners at once (arrays with a
    leading N), which is what ``step`` calls with N = 1 and what the simulated listeners use."""

    def __init__(self, basis: CurveBasis, settings: TuneSettings | None = None) -> None:
        self.settings = settings or TuneSettings()
        self.basis = basis.truncate(self.settings.basis_size)

    def prior(self, prior_z: np.ndarray | None) -> np.ndarray:
        """The prior curve (40,): the text's (or the mean curve for None), z-scored, in the basis.

        The listener is modelled in the basis, so the prior is projected onto it: a part outside the basis could
        never be corrected by ratings, and real curves have little there (on the tuner study's listeners, the
        training words' records, with a 5-direction basis: r after 10 ratings 0.85 unprojected, 0.87 projected)."""
        prior = np.asarray(self.basis.mean_z if prior_z is None else prior_z, dtype=float)
        if prior.shape != (N_BANDS,) or not np.all(np.isfinite(prior)):
            raise DataError(f"The prior curve must be {N_BANDS} finite numbers, got shape {prior.shape}.")
        comps, mean = self.basis.components, self.basis.mean_z
        return zscore(mean + (zscore(prior) - mean) @ comps.T @ comps)

    def posterior(self, priors: np.ndarray, strengths: np.ndarray, probes: np.ndarray, y: np.ndarray) -> Posterior:
        """Closed-form posterior given priors (N, 40), prior strengths (N,), rated probes (N, n, 40) and ratings
        (N, n); ratings of 0 or 1 are censored (EM)."""
        s, comps = self.settings, self.basis.components
        precision0 = strengths[:, None] / self.basis.scales**2  # (N, B)
        probes = zscore(probes)
        x = 0.5 / N_BANDS * probes @ comps.T  # (N, n, B): d rating / d v
        offset = 0.5 + 0.5 / N_BANDS * np.einsum("nkd,nd->nk", probes, priors)  # the rating if u were the prior
        gram = np.einsum("nkb,nkc->nbc", x, x) / s.rating_noise**2
        cov = np.linalg.inv(gram + precision0[:, :, None] * np.eye(self.basis.size))
        top, bottom = y >= 1 - CENSORED_EPS, y <= CENSORED_EPS
        solve = lambda target: np.einsum("nbc,nkc,nk->nb", cov, x, target) / s.rating_noise**2  # noqa: E731
        mean = solve(y - offset)
        for _ in range(EM_STEPS if (top.any() or bottom.any()) else 0):
            mu = np.einsum("nkb,nb->nk", x, mean)
            a = (np.where(top, 1.0, 0.0) - offset - mu) / s.rating_noise
            up = mu + s.rating_noise * _mills(a)  # E[latent | latent >= 1]
            down = mu - s.rating_noise * _mills(-a)  # E[latent | latent <= 0]
            mean = solve(np.where(top, np.maximum(up, 1 - offset), np.where(bottom, np.minimum(down, -offset), y - offset)))
        return Posterior(mean, cov)

    def curve(self, priors: np.ndarray, deviations: np.ndarray) -> np.ndarray:
        """z-scored curves of priors (N, 40) plus deviations (N, ..., B) in basis coordinates."""
        shape = (len(priors),) + (1,) * (deviations.ndim - 2) + (N_BANDS,)
        return zscore(priors.reshape(shape) + deviations @ self.basis.components)

    def propose(self, priors: np.ndarray, post: Posterior, n_probes: int, rngs: list) -> np.ndarray:
        """(N, P, B) deviations of the next probes: antithetic pairs of Thompson samples, est ± exploration * L eps.

        With ``candidates`` > 1 each pair is the one of that many draws that most lowers the posterior's total
        variance once rated (A-optimal; the covariance after a rating does not depend on its value, so a batch of
        pairs is chosen greedily, each on the covariance the earlier ones leave)."""
        s, size, n = self.settings, self.basis.size, len(priors)
        cov, out = post.cov, []
        while len(out) < n_probes:
            chol = np.linalg.cholesky(cov + 1e-12 * np.eye(size))
            eps = np.stack([rng.standard_normal((s.candidates, size)) for rng in rngs])  # (N, K, B)
            eps = np.einsum("nkc,nbc->nkb", eps, chol) * s.exploration
            pairs = np.stack([post.mean[:, None] + eps, post.mean[:, None] - eps], axis=2)  # (N, K, 2, B)
            if s.candidates > 1:
                best = np.argmax(self._variance_drop(cov[:, None], self._design(priors, pairs)), axis=1)
                pairs = pairs[np.arange(n), best][:, None]
            chosen = pairs[:, 0, : n_probes - len(out)]  # (N, 2 or 1, B)
            cov = self._update(cov, self._design(priors, chosen))
            out.extend(np.moveaxis(chosen, 1, 0))
        return np.stack(out, axis=1) if out else np.zeros((n, 0, size))

    def _design(self, priors: np.ndarray, deviations: np.ndarray) -> np.ndarray:
        """(N, ..., P, B) d rating / d v of the z-scored probes of these deviations."""
        return 0.5 / N_BANDS * self.curve(priors, deviations) @ self.basis.components.T

    def _gain(self, cov: np.ndarray, x: np.ndarray) -> np.ndarray:
        """cov x' (noise + x cov x')^-1 x cov: what rating probes of design x (..., P, B) takes off cov (..., B, B)."""
        sx = cov @ np.swapaxes(x, -1, -2)
        gram = self.settings.rating_noise**2 * np.eye(x.shape[-2]) + x @ sx
        return sx @ np.linalg.solve(gram, np.swapaxes(sx, -1, -2))

    def _variance_drop(self, cov: np.ndarray, x: np.ndarray) -> np.ndarray:
        return np.trace(self._gain(cov, x), axis1=-2, axis2=-1)

    def _update(self, cov: np.ndarray, x: np.ndarray) -> np.ndarray:
        return cov - self._gain(cov, x)

    def step(self, prior_z: np.ndarray | None, ratings: list[Rating], n_probes: int = 2, seed: int = 0) -> TuneResult:
        """The estimate from ``ratings`` and ``n_probes`` probes to rate next; the same inputs give the same output."""
        if not 0 <= n_probes <= 16:
            raise ConfigError(f"n_probes must be between 0 and 16, got {n_probes}.")
        prior = self.prior(prior_z)[None]
        strength = np.array([self.settings.prior_strength if prior_z is not None else 1.0])
        probes = np.stack([r.curve_z for r in ratings])[None] if ratings else np.zeros((1, 0, N_BANDS))
        post = self.posterior(prior, strength, probes, np.array([[r.rating for r in ratings]]))
        deviations = self.propose(prior, post, n_probes, [step_rng(seed, len(ratings))])
        return TuneResult(self.curve(prior, post.mean)[0], self.curve(prior, deviations)[0], len(ratings))

    def to_dict(self) -> dict:
        return {"settings": self.settings.model_dump(), "basis": self.basis.to_dict()}


def prior_of(curve: EqCurve | None, confidence_scaling: bool = True) -> np.ndarray | None:
    """The tuner's prior from a predicted curve (``predict``): its shape, turned over for a negative amount ("less
    warm" is the opposite of "warm"); None (the mean curve, with the population's spread) without a curve, or for
    an unfamiliar description while the confidence counts, as it does everywhere (its curve is a guess, and a
    text prior would hold the listener near it). The CLI and the API share this rule."""
    if curve is None or (confidence_scaling and curve.unfamiliar):
        return None
    return -curve.curve_z if curve.amount < 0 else curve.curve_z


def step_rng(seed: int, step: int) -> np.random.Generator:
    """The probes' draws: seeded by the seed and the step, so a client that always sends seed 0 still gets fresh
    probes at each step."""
    return np.random.default_rng([int(seed) & 0xFFFFFFFF, step])


def tuner_from_dict(data: dict, where: str = "tuner") -> Tuner:
    from pydantic import ValidationError

    try:
        settings = TuneSettings(**(data.get("settings") or {}))
    except ValidationError as err:
        raise ConfigError(f"{where}: tuner settings are invalid: {err.errors()[0]['msg']}.") from err
    return Tuner(CurveBasis.from_dict(data.get("basis")), settings)


def default_basis() -> CurveBasis:
    """The basis of every English SocialEQ record (what the deployed tuner uses when no study stored one)."""
    from lightning_eq.data.socialeq import load_records

    return CurveBasis.fit(load_records(language="English").curves_z)


def load_tuner(models_dir: str | Path | None = None) -> Tuner:
    """The stored tuner (``models_dir/tuner.json``: basis + the study's settings), else the data's basis with defaults."""
    path = Path(models_dir or "models") / TUNER_FILE
    if path.is_file():
        return tuner_from_dict(load_json(path, "Tuner file"), str(path))
    return Tuner(default_basis(), TuneSettings())


def save_tuner(tuner: Tuner, models_dir: str | Path, extra: dict | None = None) -> Path:
    """Write ``models_dir/tuner.json``: the settings and the basis cut to their size, as ``load_tuner`` reads them."""
    import json

    path = Path(models_dir) / TUNER_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({**tuner.to_dict(), **(extra or {})}, indent=1) + "\n")
    return path
