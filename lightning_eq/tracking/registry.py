"""The model registry: ``register`` logs the routes of a predictor as the pyfunc ``lightning-eq`` and moves the
alias ``champion`` to the new version (older versions stay). Which models those are is decided elsewhere
(``search.selection.choose_routes``; ``training.promote`` refits them)."""

from __future__ import annotations

import json
import logging
import pickle
import tempfile
from dataclasses import dataclass
from pathlib import Path

from lightning_eq.models.store import StoredModel
from lightning_eq.tracking import CHAMPION, DEFAULT_TRACKING_URI, REGISTERED_MODEL
from lightning_eq.tracking.champion import BUNDLE_FILE, BUNDLE_FORMAT

log = logging.getLogger(__name__)
PROMOTE_EXPERIMENT = "lightning-eq-registry"


@dataclass
class Promotion:
    version: int
    routes: dict[str, str]  # route -> model key
    reason: str
    run_id: str


def register(routes: dict[str, StoredModel], reason: str, tracking_uri: str = DEFAULT_TRACKING_URI) -> Promotion:
    """Log ``routes`` as the pyfunc ``lightning-eq``, register a new version and move ``champion`` to it."""
    import mlflow
    import pandas as pd
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema
    from mlflow.types.schema import Array

    from lightning_eq.tracking.pyfunc import BUNDLE, CurveModel
    from lightning_eq.tracking.runs import experiment_id, git_commit, log_config, tracking_client

    client = tracking_client(tracking_uri)
    signature = ModelSignature(
        inputs=Schema([ColSpec("string", "text")]),
        outputs=Schema([ColSpec("string", "text"), ColSpec("string", "language"), ColSpec("string", "model"),
                        ColSpec("double", "confidence"), ColSpec("double", "amount"), ColSpec(Array("double"), "curve_z")]))
    mlflow.set_tracking_uri(tracking_uri)  # log_model goes through MLflow's fluent API, which reads the global URI
    keys = {name: stored.key for name, stored in routes.items()}
    with tempfile.TemporaryDirectory() as tmp:
        bundle = Path(tmp) / BUNDLE_FILE
        with bundle.open("wb") as f:
            pickle.dump({"format": BUNDLE_FORMAT, "routes": routes}, f)
        tags = {"routes": json.dumps(keys), "reason": reason, "git_commit": git_commit()}
        with mlflow.start_run(experiment_id=experiment_id(client, PROMOTE_EXPERIMENT),
                              run_name="promote-" + "+".join(keys.values()), tags=tags) as run:
            for name, stored in routes.items():
                client.log_dict(run.info.run_id, {"key": stored.key, "config": stored.config.model_dump(mode="json")},
                                f"routes/{name}.json")
            log_config(client, run.info.run_id, routes["en"].config if "en" in routes else next(iter(routes.values())).config)
            info = mlflow.pyfunc.log_model(
                name="model", python_model=CurveModel(), artifacts={BUNDLE: str(bundle)}, signature=signature,
                input_example=pd.DataFrame({"text": ["warm", "bright and airy"]}), registered_model_name=REGISTERED_MODEL,
                pip_requirements=_requirements(),
                metadata={"routes": keys, "output": "one row per description: language, model, confidence, amount, "
                          "curve_z (40 bands, 20 Hz to 19682 Hz)"})
    version = int(info.registered_model_version)
    client.set_registered_model_alias(REGISTERED_MODEL, CHAMPION, str(version))
    for name, key in keys.items():
        client.set_model_version_tag(REGISTERED_MODEL, str(version), f"route.{name}", key)
    log.info("registered %s version %d (%s) as @%s", REGISTERED_MODEL, version, keys, CHAMPION)
    return Promotion(version, keys, reason, run.info.run_id)


def _requirements() -> list[str]:
    """Pinned versions of what the pyfunc imports (lightning-eq itself must be installed: `pip install -e .`)."""
    from importlib.metadata import version

    names = ("mlflow", "torch", "numpy", "pandas", "pyyaml", "pydantic")
    return [f"{n}=={version(n).split('+')[0]}" for n in names]
