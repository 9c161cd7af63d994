"""Load ``lightning-eq@champion``: the routes of the registered model (``predict.Predictor``'s input).

For a SQLite store the alias is read with ``sqlite3`` from MLflow's registry tables and the bundle from the
model version's local artifact folder: no MLflow import, so a cold `lightning-eq predict` costs a fraction of
a second more than the model itself. Any other store, or a registry schema this reader does not know, goes
through MLflow's client (the same answer, about 2.5 s slower here); tests hold the two paths equal.
"""

from __future__ import annotations

import logging
import pickle
import sqlite3
from pathlib import Path
from urllib.parse import unquote, urlparse

from lightning_eq.errors import ModelNotFound
from lightning_eq.tracking import CHAMPION, DEFAULT_TRACKING_URI, REGISTERED_MODEL

log = logging.getLogger(__name__)
BUNDLE_FILE = "bundle.pkl"
ALIAS_QUERY = """SELECT v.version, v.storage_location FROM registered_model_aliases a JOIN model_versions v
                 ON v.name = a.name AND v.version = a.version AND v.workspace = a.workspace
                 WHERE a.name = ? AND a.alias = ? AND a.workspace = 'default'"""


BUNDLE_FORMAT = 1  # what tracking.registry.register writes


def read_bundle(path: str | Path) -> dict:
    """{route: StoredModel} from a bundle file written by ``tracking.registry.register``: ``en`` and ``multi``, or
    ``all`` alone (a multilingual champion)."""
    again = "register the champion again with `lightning-eq promote`"
    try:
        with Path(path).open("rb") as f:
            bundle = pickle.load(f)
    except (ModuleNotFoundError, AttributeError, pickle.UnpicklingError, EOFError) as err:
        raise ModelNotFound(f"{path} cannot be read by this version of lightning-eq ({err}); {again}.") from err
    if not isinstance(bundle, dict) or bundle.get("format") != BUNDLE_FORMAT or not _known_routes(bundle.get("routes")):
        raise ModelNotFound(f"{path} was written by another version of lightning-eq; {again}.")
    return bundle["routes"]


def _known_routes(routes) -> bool:
    """The two route layouts ``predict.Predictor`` knows: {"en", "multi"} and {"all"}."""
    return isinstance(routes, dict) and set(routes) in ({"en", "multi"}, {"all"})


def _bundle_in(folder: Path) -> Path | None:
    return next(folder.rglob(BUNDLE_FILE), None) if folder.is_dir() else None


def local_champion(db_path: Path) -> tuple[int, Path] | None:
    """(version, bundle file) of the champion, read straight from a SQLite store; None where that cannot be
    done (no champion, another schema, artifacts not on this disk): the caller then asks MLflow."""
    try:
        with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True) as db:
            row = db.execute(ALIAS_QUERY, (REGISTERED_MODEL, CHAMPION)).fetchone()
    except sqlite3.Error:
        return None
    if row is None or not str(row[1]).startswith("file://"):
        return None
    bundle = _bundle_in(Path(unquote(urlparse(row[1]).path)))
    return (int(row[0]), bundle) if bundle is not None else None


def load_champion(tracking_uri: str | None = DEFAULT_TRACKING_URI) -> dict | None:
    """{route: StoredModel} of ``lightning-eq@champion``, or None when the store has no champion (or no store)."""
    if not tracking_uri:
        return None
    if tracking_uri.startswith("sqlite:///"):
        db = Path(tracking_uri.removeprefix("sqlite:///"))
        if not db.is_file():
            return None  # never create an empty store just to look
        found = local_champion(db)
        if found is not None:
            return read_bundle(found[1])
    return read_bundle(download_champion(tracking_uri)) if _has_champion(tracking_uri) else None


def _has_champion(tracking_uri: str) -> bool:
    from mlflow.exceptions import MlflowException

    from lightning_eq.tracking.runs import tracking_client

    try:
        tracking_client(tracking_uri).get_model_version_by_alias(REGISTERED_MODEL, CHAMPION)
    except MlflowException:
        return False
    return True


def download_champion(tracking_uri: str) -> Path:
    """The champion's bundle file, through MLflow (any store)."""
    import mlflow
    from mlflow.exceptions import MlflowException

    try:
        # The registry too: left out, MLflow asks the process's global one (the last store anything registered in).
        local = mlflow.artifacts.download_artifacts(artifact_uri=f"models:/{REGISTERED_MODEL}@{CHAMPION}",
                                                    tracking_uri=tracking_uri, registry_uri=tracking_uri)
    except (MlflowException, OSError) as err:
        raise ModelNotFound(f"{REGISTERED_MODEL}@{CHAMPION} in {tracking_uri} cannot be loaded ({err}). Promote again "
                            "with `lightning-eq promote`.") from err
    bundle = _bundle_in(Path(local))
    if bundle is None:
        raise ModelNotFound(f"{REGISTERED_MODEL}@{CHAMPION} in {tracking_uri} has no {BUNDLE_FILE}: it was registered by "
                            "another version of lightning-eq. Promote again with `lightning-eq promote`.")
    return bundle
