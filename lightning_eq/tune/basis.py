"""CurveBasis: the principal directions of real curves (PCA of z-scored SocialEQ records) and their spread."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lightning_eq.curves import N_BANDS
from lightning_eq.errors import DataError


@dataclass(frozen=True)
class CurveBasis:
    """mean_z (40,), components (B, 40) orthonormal rows, scales (B,) the std of real curves along each."""

    mean_z: np.ndarray
    components: np.ndarray
    scales: np.ndarray
    n_curves: int = 0

    def __post_init__(self) -> None:
        mean, comps, scales = (np.asarray(a, dtype=float) for a in (self.mean_z, self.components, self.scales))
        if mean.shape != (N_BANDS,) or comps.ndim != 2 or comps.shape[1] != N_BANDS or scales.shape != (comps.shape[0],):
            raise DataError(f"A curve basis needs mean_z ({N_BANDS},), components (B, {N_BANDS}) and scales (B,); "
                            f"got {mean.shape}, {comps.shape}, {scales.shape}.")
        if not all(np.all(np.isfinite(a)) for a in (mean, comps, scales)) or np.any(scales <= 0):
            raise DataError("A curve basis must hold finite numbers and positive scales.")
        for name, value in (("mean_z", mean), ("components", comps), ("scales", scales)):
            object.__setattr__(self, name, value)

    @property
    def size(self) -> int:
        return len(self.scales)

    @classmethod
    def fit(cls, curves_z: np.ndarray, size: int = N_BANDS - 1) -> CurveBasis:
        """PCA of (N, 40) z-scored curves, keeping the ``size`` directions of largest spread."""
        curves_z = np.asarray(curves_z, dtype=float)
        if curves_z.ndim != 2 or curves_z.shape[1] != N_BANDS or len(curves_z) < 3:
            raise DataError(f"A curve basis is learned from at least 3 curves of {N_BANDS} bands; got {curves_z.shape}.")
        mean = curves_z.mean(axis=0)
        _, singular, vt = np.linalg.svd(curves_z - mean, full_matrices=False)
        scales = singular / np.sqrt(len(curves_z) - 1)
        # z-scored curves sum to zero across bands, so at most 39 directions carry spread
        keep = min(size, int(np.sum(scales > 1e-8 * scales[0])))
        signs = np.where(vt[:keep].sum(axis=1) < 0, -1.0, 1.0)[:, None]  # a fixed sign per direction: same data, same basis
        return cls(mean, vt[:keep] * signs, scales[:keep], len(curves_z))

    def truncate(self, size: int) -> CurveBasis:
        """The first ``size`` directions (all when ``size`` is larger)."""
        return CurveBasis(self.mean_z, self.components[:size], self.scales[:size], self.n_curves)

    def to_dict(self) -> dict:
        return {"mean_z": self.mean_z.tolist(), "components": self.components.tolist(),
                "scales": self.scales.tolist(), "n_curves": self.n_curves}

    @classmethod
    def from_dict(cls, data: dict) -> CurveBasis:
        if not isinstance(data, dict) or not {"mean_z", "components", "scales"} <= set(data):
            raise DataError("A curve basis in JSON needs 'mean_z', 'components' and 'scales'.")
        try:
            return cls(np.asarray(data["mean_z"], dtype=float), np.asarray(data["components"], dtype=float),
                       np.asarray(data["scales"], dtype=float), int(data.get("n_curves", 0)))
        except (TypeError, ValueError) as err:
            raise DataError(f"A curve basis in JSON must hold lists of numbers: {err}.") from err


def load_json(path: Path, what: str) -> dict:
    """A JSON object from ``path``, or a DataError that names the file."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as err:
        raise DataError(f"{what} {path} cannot be read as JSON ({err}); run `lightning-eq run` to write it again.") from err
    if not isinstance(data, dict):
        raise DataError(f"{what} {path} must hold a JSON object; run `lightning-eq run` to write it again.")
    return data
