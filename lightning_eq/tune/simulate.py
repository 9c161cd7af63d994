"""Simulated listeners: a real SocialEQ record rates probes by how well they match its curve, with noise.

A simulated listener rates a probe ``clip(0.5 + 0.5 * r(probe, listener) + N(0, 0.15), 0, 1)``, r the Pearson
r of the two curves: SocialEQ's own model (ratings linear in the band gains) with the noise the issue states.
It is not a person: its taste is one fixed curve, it never tires, and it rates every probe on the same
scale. The tuner's study (``search.tune_study``) and ``benchmarks/bench_tune.py`` both score with ``simulate``.

Beside the tuner, two references with the same ``step`` signature: ``RandomProbes`` (the tuner's estimate,
from probes drawn at random from the spread of real curves) and ``CrudeSearch`` (the issue's rating-weighted
search over 10 principal components).
"""

from __future__ import annotations

from typing import Protocol, Sequence

import numpy as np

from lightning_eq.curves import N_BANDS
from lightning_eq.tune.basis import CurveBasis
from lightning_eq.tune.ratings import Rating, zscore
from lightning_eq.tune.tuner import TuneResult, Tuner, step_rng

CHECKPOINTS = (0, 3, 5, 10, 20)  # ratings after which the estimate is scored
RATING_NOISE = 0.15  # the simulated listener's noise (the issue's)


class Proposer(Protocol):
    def step(self, prior_z: np.ndarray | None, ratings: list[Rating], n_probes: int = 2, seed: int = 0) -> TuneResult: ...


def pearson(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson r of curves along the last axis (a flat curve has r 0)."""
    return (zscore(a) * zscore(b)).mean(axis=-1)


def rate(probe_z: np.ndarray, listener_z: np.ndarray, rng: np.random.Generator, noise: float = RATING_NOISE) -> float:
    """The simulated listener's rating of one probe, in [0, 1]."""
    return float(np.clip(0.5 + 0.5 * pearson(probe_z, listener_z) + rng.normal(0.0, noise), 0.0, 1.0))


def simulate_one(tuner: Proposer, listener_z: np.ndarray, prior_z: np.ndarray | None, checkpoints: Sequence[int],
                 seed: int, n_probes: int = 2) -> np.ndarray:
    """(len(checkpoints),) r of the estimate to the listener after each number of ratings."""
    rng = np.random.default_rng([seed, 7])  # the listener's noise; the tuner draws its probes from ``seed``
    ratings: list[Rating] = []
    out = {}
    for k in sorted(set(checkpoints) | {max(checkpoints)}):
        while len(ratings) < k:
            result = tuner.step(prior_z, ratings, n_probes, seed)
            ratings += [Rating(p, rate(p, listener_z, rng)) for p in result.probes[: k - len(ratings)]]
        out[k] = float(pearson(tuner.step(prior_z, ratings, 0, seed).curve_z, listener_z))
    return np.array([out[k] for k in checkpoints])


def simulate(tuner: Proposer, listeners_z: np.ndarray, priors_z: Sequence[np.ndarray | None],
             checkpoints: Sequence[int] = CHECKPOINTS, seed: int = 0, n_probes: int = 2) -> np.ndarray:
    """(N, len(checkpoints)) r after each number of ratings, for every listener (listener i draws seed + i).
    A Tuner runs every listener at once (the same numbers as ``simulate_one``, listener by listener)."""
    if isinstance(tuner, Tuner):
        return _simulate_tuner(tuner, np.asarray(listeners_z, dtype=float), priors_z, checkpoints, seed, n_probes)
    return np.stack([simulate_one(tuner, u, p, checkpoints, seed + i, n_probes)
                     for i, (u, p) in enumerate(zip(listeners_z, priors_z))])


def _simulate_tuner(tuner: Tuner, listeners: np.ndarray, priors_z: Sequence[np.ndarray | None],
                    checkpoints: Sequence[int], seed: int, n_probes: int) -> np.ndarray:
    n = len(listeners)
    priors = np.stack([tuner.prior(p) for p in priors_z])
    strengths = np.array([tuner.settings.prior_strength if p is not None else 1.0 for p in priors_z])
    noise = [np.random.default_rng([seed + i, 7]) for i in range(n)]
    probes, y = np.zeros((n, 0, N_BANDS)), np.zeros((n, 0))
    out = {}
    for k in sorted(set(checkpoints)):
        while y.shape[1] < k:
            post = tuner.posterior(priors, strengths, probes, y)
            rngs = [step_rng(seed + i, y.shape[1]) for i in range(n)]
            new = tuner.curve(priors, tuner.propose(priors, post, n_probes, rngs))[:, : k - y.shape[1]]
            eps = np.stack([g.normal(0.0, RATING_NOISE, new.shape[1]) for g in noise])
            probes = np.concatenate([probes, new], axis=1)
            y = np.concatenate([y, np.clip(0.5 + 0.5 * pearson(new, listeners[:, None]) + eps, 0.0, 1.0)], axis=1)
        out[k] = pearson(tuner.curve(priors, tuner.posterior(priors, strengths, probes, y).mean), listeners)
    return np.stack([out[k] for k in checkpoints], axis=1)


class RandomProbes:
    """The tuner's estimate from probes drawn at random from the spread of real curves (no active choice)."""

    def __init__(self, tuner: Tuner) -> None:
        self.tuner = tuner

    def step(self, prior_z: np.ndarray | None, ratings: list[Rating], n_probes: int = 2, seed: int = 0) -> TuneResult:
        estimate = self.tuner.step(prior_z, ratings, 0, seed)
        basis = self.tuner.basis
        rng = np.random.default_rng([seed, len(ratings), 1])
        probes = zscore(basis.mean_z + (rng.standard_normal((n_probes, basis.size)) * basis.scales) @ basis.components)
        return TuneResult(estimate.curve_z, probes.reshape(n_probes, N_BANDS), len(ratings))


class CrudeSearch:
    """The issue's baseline: probes scattered around the estimate over 10 principal components, the estimate the
    rating-weighted centroid (softmax of the ratings) of the prior and every probe rated so far. Its step (in
    spreads of real curves) and temperature are the best of a grid of 8 on the never-tested words' records."""

    def __init__(self, basis: CurveBasis, size: int = 10, temperature: float = 0.1, step: float = 4.0) -> None:
        self.basis, self.temperature, self.step_size = basis.truncate(size), temperature, step

    def step(self, prior_z: np.ndarray | None, ratings: list[Rating], n_probes: int = 2, seed: int = 0) -> TuneResult:
        b = self.basis
        prior = zscore(b.mean_z if prior_z is None else prior_z)
        points = [prior] + [zscore(r.curve_z) for r in ratings]
        scores = np.array([np.mean([r.rating for r in ratings]) if ratings else 0.5] + [r.rating for r in ratings])
        weights = np.exp((scores - scores.max()) / self.temperature)
        estimate = zscore(weights @ np.stack(points))
        rng = np.random.default_rng([seed, len(ratings), 2])
        spread = self.step_size / np.sqrt(1.0 + len(ratings) / 4)  # narrower as ratings accumulate
        probes = zscore(estimate + (rng.standard_normal((n_probes, b.size)) * b.scales * spread) @ b.components)
        return TuneResult(estimate, probes.reshape(n_probes, N_BANDS), len(ratings))
