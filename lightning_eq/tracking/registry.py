"""The model registry: promote the best configuration to ``lightning-eq@champion``, and load the champion.

The champion is chosen from the sweeps in the study storage: the model key with the lowest mean test MAE over
its swept folds (the cross-validated estimate, as the evaluation picks its best model), with the parameters of
its trial with the lowest *validation* MAE -- unless the evaluation's best model (``models/best.json``), with its
default config, has the lower mean word-disjoint test MAE: then that one. Without sweeps, the evaluation's pick. It is retrained on all the data (``fit_final``) and registered; older versions stay.
"""

from __future__ import annotations

import json
import logging
import math
import tempfile
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from lightning_eq.config import Config, check_model_key, to_dict
from lightning_eq.data.socialeq import SocialEQ, load_hq_words, load_records
from lightning_eq.errors import ModelNotFound
from lightning_eq.models.catalog import embedder_keys
from lightning_eq.models.store import DEFAULT_MODELS_DIR, StoredModel, best_model_key, best_model_score, save_model
from lightning_eq.tracking import CHAMPION, DEFAULT_TRACKING_URI, REGISTERED_MODEL
from lightning_eq.training.evaluate import Embeddings, fit_final
from lightning_eq.training.space import load_spec
from lightning_eq.tracking.studies import DEFAULT_STORAGE
from lightning_eq.training.sweep import config_of

log = logging.getLogger(__name__)
PROMOTE_EXPERIMENT = "lightning-eq-registry"


@dataclass
class Choice:
    key: str
    config: Config
    reason: str
    params: dict


@dataclass
class Promotion:
    version: int
    key: str
    reason: str
    params: dict
    run_id: str


def choose_champion(cfg: Config, storage: str | None = DEFAULT_STORAGE, model: str | None = None,
                    models_dir: str | Path = DEFAULT_MODELS_DIR, sweeps_dir: str | Path | None = None) -> Choice:
    """Which model key and config to promote (see the module docstring)."""
    studies = _swept(storage) if storage else {}
    if model is not None:
        check_model_key(model)
    candidates = {k: v for k, v in studies.items() if model in (None, k)}
    evaluated = best_model_score(models_dir) if model is None else None
    if candidates:
        key = min(candidates, key=lambda k: sum(s[0] for s in candidates[k]) / len(candidates[k]))
        test_mae = sum(s[0] for s in candidates[key]) / len(candidates[key])
        if evaluated is not None and evaluated[1] < test_mae:
            return Choice(evaluated[0], cfg, f"evaluation: lowest mean test MAE {evaluated[1]:.4f} with its default config, "
                          f"below the best sweep ({key}, {test_mae:.4f})", {})
        best = min((s[1] for s in candidates[key]), key=lambda t: t.value)
        reason = (f"sweeps: lowest mean test MAE {test_mae:.4f} over {len(candidates[key])} fold(s); "
                  f"params of trial {best.number} (validation MAE {best.value:.4f})")
        return Choice(key, config_of(best, cfg, load_spec(key, sweeps_dir)), reason, dict(best.params))
    key = model or best_model_key(models_dir)
    if key is None:
        raise ModelNotFound("Nothing to promote: no finished sweep in the study storage and no models/best.json. "
                            "Run `lightning-eq sweep` or `lightning-eq run` first, or pass --model KEY.")
    return Choice(key, cfg, "no sweep for it: default config" if model else "evaluation's best model, default config", {})


def _swept(storage: str) -> dict[str, list]:
    """{model key: [(test MAE, best trial)]} over studies that finished with a test score."""
    import optuna

    from lightning_eq.tracking.studies import open_storage
    from lightning_eq.training.space import SweepConfig

    if storage.startswith("sqlite:///") and not Path(storage.removeprefix("sqlite:///")).is_file():
        return {}
    rdb = open_storage(storage, SweepConfig())
    out: dict[str, list] = defaultdict(list)
    for summary in optuna.get_all_study_summaries(rdb, include_best_trial=True):
        test = summary.user_attrs.get("test", {})
        key = summary.study_name.rsplit("-fold", 1)[0]
        if "test/mae_unit" in test and summary.best_trial is not None and math.isfinite(test["test/mae_unit"]):
            out[key].append((test["test/mae_unit"], summary.best_trial))
    return dict(out)


def embed_for(key: str, cfg: Config, data: SocialEQ, cache_dir: str | None = None) -> Embeddings:
    """Every word of ``data`` through the embedders model ``key`` reads (cached on disk)."""
    keys = embedder_keys(key, cfg)
    if not keys:
        return Embeddings(data.words, {})
    from lightning_eq.embeddings import embed_vocabulary

    return Embeddings(data.words, embed_vocabulary(keys, data.words, cfg.embedders, cache_dir))


def promote(cfg: Config, *, model: str | None = None, storage: str | None = DEFAULT_STORAGE,
            tracking_uri: str = DEFAULT_TRACKING_URI, data: SocialEQ | None = None, hq_words: list[str] | None = None,
            emb: Embeddings | None = None, models_dir: str | Path = DEFAULT_MODELS_DIR,
            sweeps_dir: str | Path | None = None) -> Promotion:
    """Train the chosen config on all the data, register it as ``lightning-eq`` and point ``champion`` at it."""
    import mlflow
    import numpy as np
    import pandas as pd
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema, TensorSpec

    from lightning_eq.curves import N_BANDS
    from lightning_eq.tracking.pyfunc import CurveModel
    from lightning_eq.tracking.runs import experiment_id, git_commit, log_config, run_tags, tracking_client
    from lightning_eq.tracking.sweeps import one_device

    choice = choose_champion(cfg, storage, model, models_dir, sweeps_dir)
    log.info("promoting %s (%s)", choice.key, choice.reason)
    data = data or load_records(cfg.data_path or None, cfg.language)
    hq_words = hq_words or load_hq_words()
    if emb is None or not set(embedder_keys(choice.key, choice.config)) <= set(emb.vectors):
        emb = embed_for(choice.key, choice.config, data, cfg.embedders.cache_dir)
    trained = fit_final(choice.key, one_device(choice.config, 0), data, hq_words, emb)
    client = tracking_client(tracking_uri)
    signature = ModelSignature(inputs=Schema([ColSpec("string", "text")]),
                               outputs=Schema([TensorSpec(np.dtype("float64"), (-1, N_BANDS))]))
    mlflow.set_tracking_uri(tracking_uri)  # log_model goes through MLflow's fluent API, which reads the global URI
    with tempfile.TemporaryDirectory() as tmp:
        pkl = save_model(StoredModel(choice.key, choice.config, trained), tmp)
        config_path = Path(tmp) / "config.json"
        config_path.write_text(json.dumps(to_dict(choice.config), indent=1))
        tags = {**run_tags(choice.key, choice.config, -1, git_commit()), "reason": choice.reason}
        tags.pop("fold")
        with mlflow.start_run(experiment_id=experiment_id(client, PROMOTE_EXPERIMENT), run_name=f"promote-{choice.key}",
                              tags=tags) as run:
            log_config(client, run.info.run_id, choice.config, {"chosen": json.dumps(trained.chosen)})
            info = mlflow.pyfunc.log_model(
                name="model", python_model=CurveModel(), artifacts={"model": str(pkl), "config": str(config_path)},
                signature=signature, input_example=pd.DataFrame({"text": ["warm", "bright and airy"]}),
                registered_model_name=REGISTERED_MODEL, pip_requirements=_requirements(),
                metadata={"model_key": choice.key, "output": "z-scale curve, 40 bands (20 Hz to 19682 Hz)"})
    version = int(info.registered_model_version)
    client.set_registered_model_alias(REGISTERED_MODEL, CHAMPION, str(version))
    client.set_model_version_tag(REGISTERED_MODEL, str(version), "model_key", choice.key)
    log.info("registered %s version %d (%s) as @%s", REGISTERED_MODEL, version, choice.key, CHAMPION)
    return Promotion(version, choice.key, choice.reason, choice.params, run.info.run_id)


def _requirements() -> list[str]:
    """Pinned versions of what the pyfunc imports (lightning-eq itself must be installed: `pip install -e .`)."""
    from importlib.metadata import version

    names = ("mlflow", "torch", "lightning", "numpy", "pandas", "scikit-learn", "scipy", "pyyaml")
    return [f"{n}=={version(n).split('+')[0]}" for n in names]


def load_champion(tracking_uri: str | None = DEFAULT_TRACKING_URI) -> StoredModel | None:
    """The model behind ``lightning-eq@champion``, or None when the store has none (or does not exist)."""
    if not tracking_uri:
        return None
    if tracking_uri.startswith("sqlite:///") and not Path(tracking_uri.removeprefix("sqlite:///")).is_file():
        return None  # never create an empty store just to look
    import mlflow
    from mlflow.exceptions import MlflowException

    from lightning_eq.tracking.runs import tracking_client

    client = tracking_client(tracking_uri)
    try:
        version = client.get_model_version_by_alias(REGISTERED_MODEL, CHAMPION)
    except MlflowException:
        return None
    mlflow.set_tracking_uri(tracking_uri)  # models:/ URIs resolve through the global registry URI
    try:
        model = mlflow.pyfunc.load_model(f"models:/{REGISTERED_MODEL}@{CHAMPION}")
    except MlflowException as err:
        raise ModelNotFound(f"{REGISTERED_MODEL}@{CHAMPION} (version {version.version}) in {tracking_uri} cannot be "
                            f"loaded: {err.message.splitlines()[0]}. Promote again with `lightning-eq promote`.") from err
    return model.unwrap_python_model().stored
