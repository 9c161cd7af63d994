"""MLflow experiments a researcher is glad to open: training-run experiments, the data as a dataset input, and a
saved runs view that shows each study's scores as columns.

What the MLflow 3.17 UI reads (its bundle, checked in headless Chromium; see tests/test_mlflow_ui_browser.py):

- Whether an experiment opens on its runs or on the GenAI overview is decided in the browser, not by the
  experiment: the sidebar switch "GenAI | Model training", kept in localStorage (``mlflow.workflowType_v1``,
  GenAI by default) and overridden by ``?workflowType=machine_learning`` in the page's URL (``runs_page_url``).
  The experiment tag ``mlflow.experimentKind`` (``custom_model_development`` for training runs) is read only
  where the UI is built without that switch (3.17.2 is built with it); it is set anyway, as the declared kind.
- The runs table shows Run Name, Created, Dataset, Duration, Source and Models until columns are chosen; no
  tag changes that. A saved view does: experiment tag ``mlflow.sharedViewState.<key>`` holding the columns,
  sort and filter, listed under "Views" on the runs page and opened by ``&viewStateShareKey=<key>``.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Sequence
from urllib.parse import quote

import numpy as np
from mlflow import MlflowClient
from mlflow.entities import Dataset, DatasetInput, InputTag
from mlflow.exceptions import MlflowException
from mlflow.types import ColSpec, DataType, Schema
from mlflow.utils.mlflow_tags import MLFLOW_DATASET_CONTEXT

from lightning_eq.data.socialeq import BAND_COLUMNS, META_COLUMNS, SocialEQ
from lightning_eq.errors import ConfigError

KIND_TAG = "mlflow.experimentKind"
TRAINING_KIND = "custom_model_development"  # the UI's "Machine learning"; "genai_development" is the GenAI one
VIEW_TAG_PREFIX = "mlflow.sharedViewState."
PARENT_RUNS_FILTER = "tags.`mlflow.parentRunId` IS NULL"

DATASET_NAME = "socialeq"
DIGEST_CHARS = 16  # MLflow stores at most 36; the full sha256 goes into the profile
# What a study's parent run logs (tracking/figures.log_study): the chosen trial's validation score, then the
# single test score of the refitted config. Lower is better for the first, which sorts the view.
BEST_METRIC = "best/val_mae_unit"
STUDY_COLUMNS = (BEST_METRIC, "test/mae_unit", "test/word_mae_unit", "test/r_word", "test/r_word_pos", "trials/finished")
STUDIES_VIEW = "studies"
METRIC_COLUMN_PX = 150  # the UI's 100 cuts "test/word_mae_unit" and 10-digit values


def artifact_location(tracking_uri: str) -> str | None:
    """``<folder of the SQLite file>/artifacts`` as a file URI; None (the server decides) for other stores."""
    if not tracking_uri.startswith("sqlite:///"):
        return None
    return (Path(tracking_uri.removeprefix("sqlite:///")).resolve().parent / "artifacts").as_uri()


def get_or_create_experiment(client: MlflowClient, name: str, *, tags: dict[str, str] | None = None) -> str:
    """Id of experiment ``name``, created as a training-runs experiment if missing (artifacts next to a SQLite
    store); an existing one gets the kind tag and ``tags`` where they differ."""
    wanted = {KIND_TAG: TRAINING_KIND, **(tags or {})}
    found = client.get_experiment_by_name(name)
    if found is None:
        try:
            return client.create_experiment(name, artifact_location=artifact_location(client.tracking_uri), tags=wanted)
        except MlflowException:  # another worker created it first
            found = client.get_experiment_by_name(name)
            if found is None:
                raise
    if found.lifecycle_stage == "deleted":
        raise ConfigError(f"Experiment {name!r} (id {found.experiment_id}) is deleted in {client.tracking_uri}; restore it "
                          f"with `mlflow experiments restore --experiment-id {found.experiment_id}` or choose another name.")
    for key, value in wanted.items():
        if found.tags.get(key) != value:
            client.set_experiment_tag(found.experiment_id, key, value)
    return found.experiment_id


def records_sha256(data: SocialEQ, indices: Sequence[int] | None = None) -> str:
    """Checksum of the records used, in order: descriptor, language, stimulus, consistency and the 40 values."""
    h = hashlib.sha256()
    records = data.records if indices is None else [data.records[i] for i in indices]
    for r in records:
        h.update(f"{r.descriptor}\t{r.lang}\t{r.audio_id}\t{r.consistency!r}\n".encode())
        h.update(np.asarray(r.curve_z, dtype="<f8").tobytes())
    return h.hexdigest()


def dataset_of(data: SocialEQ, indices: Sequence[int] | None = None, *, name: str = DATASET_NAME,
               source: str | None = None) -> Dataset:
    """The records (all, or those at ``indices``) as an MLflow dataset: name, digest, source, schema, profile.
    ``source`` defaults to the file they were read from; an http(s) URL is logged as such."""
    records = data.records if indices is None else [data.records[i] for i in indices]
    if not records:
        raise ConfigError("No records to log as a dataset; pass the indices of at least one record.")
    sha = records_sha256(data, indices)
    if source is not None and source.startswith(("http://", "https://")):
        source_type, source_json = "http", {"url": source}
    else:
        source_type, source_json = "local", {"uri": source or Path(data.path).resolve().as_uri()}
    types = {"descriptor": DataType.string, "lang": DataType.string, "audio_id": DataType.long}
    schema = Schema([ColSpec(types.get(c, DataType.double), c) for c in META_COLUMNS + BAND_COLUMNS])
    profile = {"records": len(records), "words": len({r.descriptor for r in records}),
               "language": ", ".join(sorted({r.lang for r in records})), "sha256": sha}
    return Dataset(name=name, digest=sha[:DIGEST_CHARS], source_type=source_type, source=json.dumps(source_json),
                   schema=json.dumps({"mlflow_colspec": schema.to_dict()}), profile=json.dumps(profile))


def log_dataset(client: MlflowClient, run_id: str, data: SocialEQ, indices: Sequence[int] | None = None, *,
                context: str = "training", name: str = DATASET_NAME, source: str | None = None) -> Dataset:
    """Log the records as an input of ``run_id`` with ``mlflow.data.context`` = ``context`` (training, validation,
    test): the runs table's Dataset column and the run page show its name, digest and context."""
    dataset = dataset_of(data, indices, name=name, source=source)
    client.log_inputs(run_id, datasets=[DatasetInput(dataset, tags=[InputTag(MLFLOW_DATASET_CONTEXT, context)])])
    return dataset


def save_runs_view(client: MlflowClient, experiment_id: str, key: str, name: str, metrics: Sequence[str], *,
                   order_by: str | None = None, ascending: bool = True, parents_only: bool = False,
                   dataset_column: bool = True) -> str:
    """A saved view of the runs table, shared through the experiment: ``metrics`` (and the Dataset column) as
    columns, optionally sorted by one metric and limited to parent runs. Saving again under ``key`` replaces it.
    Returns ``key``."""
    tag = VIEW_TAG_PREFIX + key
    shown = [f"metrics.`{m}`" for m in metrics] + ["attributes.`Dataset`"] * dataset_column
    # Listed columns come right after Run Name and Created, in this order; a width applies only to a listed one.
    state: dict = {"selectedColumns": shown, "columnOrder": shown,
                   "columnWidths": {c: METRIC_COLUMN_PX for c in shown if c.startswith("metrics.")}}
    if order_by:
        state.update(orderByKey=f"metrics.`{order_by}`", orderByAsc=ascending)
    if parents_only:  # the UI nests trials under their study only when sorted by time without a filter
        state["searchFilter"] = PARENT_RUNS_FILTER
    now = int(time.time() * 1000)
    created = now
    old = client.get_experiment(experiment_id).tags.get(tag)
    if old:
        try:
            created = int(json.loads(old)["createdAt"])
        except (ValueError, KeyError, TypeError):
            pass  # not our format: replaced below
    envelope = {"name": name, "createdAt": created, "updatedAt": now, "state": json.dumps(state)}
    client.set_experiment_tag(experiment_id, tag, json.dumps(envelope))
    return key


def save_study_view(client: MlflowClient, experiment_id: str) -> str:
    """The view "Studies, best first": one row per study (parent run), its scores as columns, best first."""
    return save_runs_view(client, experiment_id, STUDIES_VIEW, "Studies, best first", STUDY_COLUMNS,
                          order_by=BEST_METRIC, ascending=True, parents_only=True)


def runs_page_url(ui_url: str, experiment_id: str, view: str | None = STUDIES_VIEW) -> str:
    """The experiment's runs table in the training-runs view, with saved view ``view`` open."""
    url = f"{ui_url.rstrip('/')}/#/experiments/{quote(str(experiment_id))}/runs?workflowType=machine_learning"
    return f"{url}&viewStateShareKey={quote(view)}" if view else url
