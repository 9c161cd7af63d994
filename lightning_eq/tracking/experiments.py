"""MLflow experiments of the project: created as training-runs experiments, artifacts beside a SQLite store."""

from __future__ import annotations

from pathlib import Path


def get_or_create_experiment(client, name: str) -> str:
    """Get or create experiment ``name``; with a SQLite store its artifacts go next to the database."""
    from mlflow.exceptions import MlflowException

    found = client.get_experiment_by_name(name)
    if found is not None:
        return found.experiment_id
    uri = client.tracking_uri
    location = None
    if uri.startswith("sqlite:///"):
        location = (Path(uri.removeprefix("sqlite:///")).resolve().parent / "artifacts").as_uri()
    try:
        return client.create_experiment(name, artifact_location=location)
    except MlflowException:  # another worker created it first
        return client.get_experiment_by_name(name).experiment_id
