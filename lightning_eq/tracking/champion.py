"""Load ``lightning-eq@champion``: the routes of the registered model, without Lightning and without the
pyfunc machinery (the bundle is read directly from the model version's artifacts)."""

from __future__ import annotations

import logging
from pathlib import Path

from lightning_eq.errors import ModelNotFound
from lightning_eq.tracking import CHAMPION, DEFAULT_TRACKING_URI, REGISTERED_MODEL

log = logging.getLogger(__name__)


def load_champion(tracking_uri: str | None = DEFAULT_TRACKING_URI) -> dict | None:
    """{route: StoredModel} of ``lightning-eq@champion``, or None when the store has no champion (or no store)."""
    if not tracking_uri:
        return None
    if tracking_uri.startswith("sqlite:///") and not Path(tracking_uri.removeprefix("sqlite:///")).is_file():
        return None  # never create an empty store just to look
    import mlflow
    from mlflow.exceptions import MlflowException

    from lightning_eq.tracking.pyfunc import read_bundle
    from lightning_eq.tracking.runs import tracking_client

    client = tracking_client(tracking_uri)
    try:
        version = client.get_model_version_by_alias(REGISTERED_MODEL, CHAMPION)
    except MlflowException:
        return None
    try:
        local = mlflow.artifacts.download_artifacts(artifact_uri=f"models:/{REGISTERED_MODEL}@{CHAMPION}",
                                                    tracking_uri=tracking_uri)
        bundle = next(Path(local).rglob("bundle.pkl"))
    except (MlflowException, StopIteration, OSError) as err:
        raise ModelNotFound(f"{REGISTERED_MODEL}@{CHAMPION} (version {version.version}) in {tracking_uri} cannot be "
                            f"loaded ({err}). Promote again with `lightning-eq promote`.") from err
    return read_bundle(bundle)
