"""Save and load trained models (neural or baseline) with the config that built them.

A model file is a pickle of {"format", "key", "config", "model", "metrics", "coverage", "words", "known"}:
everything predict needs to embed new text the same way, run the model and answer its training words. Model files are written by `evaluate`/`run` under
``models/`` (git-ignored); only load files you made yourself, as with any pickle.
"""

from __future__ import annotations

import json
import os
import pickle
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from lightning_eq.config import Config, from_dict, to_dict
from lightning_eq.errors import ModelNotFound

FORMAT = 3  # 3: neural models hold numpy weights (models.neural.forward: no torch or Lightning to load or predict)
DEFAULT_MODELS_DIR = Path("models")
BEST_FILE = "best.json"


@dataclass
class StoredModel:
    key: str
    config: Config
    model: object
    metrics: dict = field(default_factory=dict)
    coverage: object = None  # models.confidence.Coverage fitted on the training words' vectors, or None
    words: tuple[str, ...] = ()  # the training descriptors (a phrase typed without accents is matched to them)
    # {training word: (40,) unit curve}: what predict answers for a known word, its records' mean shrunk toward
    # the model's out-of-fold prediction by how many records it has (``search.objective.known_word_curves``)
    known: dict | None = None

    @property
    def embedder_keys(self) -> tuple[str, ...]:
        return tuple(self.model.embedder_keys)


def save_model(stored: StoredModel, models_dir: str | Path) -> Path:
    """Write ``<models_dir>/<key>.pkl`` atomically; returns the path."""
    models_dir = Path(models_dir)
    models_dir.mkdir(parents=True, exist_ok=True)
    path = models_dir / f"{stored.key}.pkl"
    payload = {"format": FORMAT, "key": stored.key, "config": to_dict(stored.config), "model": stored.model,
               "metrics": stored.metrics, "coverage": stored.coverage, "words": list(stored.words),
               "known": stored.known}
    fd, tmp = tempfile.mkstemp(dir=models_dir, suffix=".tmp")
    with os.fdopen(fd, "wb") as f:
        pickle.dump(payload, f)
    os.replace(tmp, path)
    return path


def available_models(models_dir: str | Path) -> list[str]:
    return sorted(p.stem for p in Path(models_dir).glob("*.pkl"))


def best_model_key(models_dir: str | Path) -> str | None:
    path = Path(models_dir) / BEST_FILE
    return json.loads(path.read_text())["model"] if path.is_file() else None


def set_best_model(models_dir: str | Path, key: str, reason: str, cv_mae_unit: float | None = None) -> None:
    """Record which saved model predict uses by default, and why (never a test score)."""
    Path(models_dir).mkdir(parents=True, exist_ok=True)
    best = {"model": key, "reason": reason}
    if cv_mae_unit is not None:
        best["cv/mae_unit"] = cv_mae_unit
    (Path(models_dir) / BEST_FILE).write_text(json.dumps(best, indent=1) + "\n")


def load_model(models_dir: str | Path, key: str | None = None) -> StoredModel:
    """Load model ``key`` (default: the best one by the last evaluation) from ``models_dir``."""
    models_dir = Path(models_dir)
    key = key or best_model_key(models_dir)
    have = available_models(models_dir)
    if key is None or key not in have:
        hint = f"Trained models there: {', '.join(have)}." if have else "Run `lightning-eq run` (or `make run`) to train them."
        what = f"model {key!r}" if key else "best model"
        raise ModelNotFound(f"No trained {what} in {models_dir}/. {hint}")
    try:
        with (models_dir / f"{key}.pkl").open("rb") as f:
            payload = pickle.load(f)
    except (ModuleNotFoundError, AttributeError, pickle.UnpicklingError, EOFError) as err:
        raise ModelNotFound(f"{models_dir / key}.pkl cannot be read by this version of lightning-eq ({err}); retrain it "
                            "with `lightning-eq run`.") from err
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ModelNotFound(f"{models_dir / key}.pkl was written by another version of lightning-eq; retrain it with `lightning-eq run`.")
    return StoredModel(payload["key"], from_dict(payload["config"], str(models_dir / f"{key}.pkl")), payload["model"], payload["metrics"],
                       payload.get("coverage"), tuple(payload.get("words", ())), payload.get("known"))
