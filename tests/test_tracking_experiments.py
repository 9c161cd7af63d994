"""Experiments created for training runs, the data logged as a dataset input, saved runs views: on a SQLite store
in tmp_path (no server; tests/test_mlflow_ui_browser.py checks what the UI makes of them)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mlflow import MlflowClient
from mlflow.entities import Metric

from lightning_eq.errors import ConfigError
from lightning_eq.tracking.experiments import (BEST_METRIC, DATASET_NAME, KIND_TAG, STUDY_COLUMNS,
                                               TRAINING_KIND, VIEW_TAG_PREFIX, dataset_of, get_or_create_experiment,
                                               log_dataset, records_sha256, runs_page_url, save_runs_view,
                                               save_study_view)


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    """One SQLite store for the module (creating one costs seconds); each test names its own experiments."""
    return tmp_path_factory.mktemp("tracking") / "store" / "mlflow.db"


@pytest.fixture
def client(store) -> MlflowClient:
    store.parent.mkdir(exist_ok=True)
    return MlflowClient(f"sqlite:///{store}")


def test_a_new_experiment_is_for_training_runs_with_artifacts_next_to_the_store(client, store):
    exp_id = get_or_create_experiment(client, "lightning-eq-sweeps")
    exp = client.get_experiment(exp_id)
    assert exp.tags[KIND_TAG] == TRAINING_KIND == "custom_model_development"
    assert exp.artifact_location == (store.parent / "artifacts").as_uri()
    assert get_or_create_experiment(client, "lightning-eq-sweeps") == exp_id


def test_an_existing_experiment_gets_its_kind_fixed_and_keeps_its_other_tags(client):
    exp_id = client.create_experiment("old", tags={KIND_TAG: "genai_development", "team": "eq"})
    client.create_experiment("untagged")
    assert get_or_create_experiment(client, "old", tags={"project": "lightning-eq"}) == exp_id
    tags = client.get_experiment(exp_id).tags
    assert tags[KIND_TAG] == TRAINING_KIND and tags["team"] == "eq" and tags["project"] == "lightning-eq"
    untagged = client.get_experiment(get_or_create_experiment(client, "untagged"))
    assert untagged.tags[KIND_TAG] == TRAINING_KIND


def test_a_deleted_experiment_is_one_line_saying_how_to_restore_it(client):
    client.delete_experiment(client.create_experiment("gone"))
    with pytest.raises(ConfigError, match=r"is deleted .*`mlflow experiments restore --experiment-id \d+") as err:
        get_or_create_experiment(client, "gone")
    assert "\n" not in str(err.value)


def test_the_dataset_input_carries_name_digest_source_schema_profile_and_context(client, data):
    run_id = client.create_run(get_or_create_experiment(client, "one-input")).info.run_id
    logged = log_dataset(client, run_id, data)
    [item] = client.get_run(run_id).inputs.dataset_inputs
    ds = item.dataset
    assert ds.name == DATASET_NAME and ds.digest == logged.digest == records_sha256(data)[:16]
    assert {t.key: t.value for t in item.tags} == {"mlflow.data.context": "training"}
    assert ds.source_type == "local" and json.loads(ds.source) == {"uri": Path(data.path).resolve().as_uri()}
    columns = json.loads(ds.schema)["mlflow_colspec"]
    assert len(columns) == 44 and columns[0] == {"type": "string", "name": "descriptor", "required": True}
    assert {c["name"]: c["type"] for c in columns}["RSC_20Hz_band"] == "double"
    profile = json.loads(ds.profile)
    assert profile == {"records": 918, "words": 388, "language": "English", "sha256": records_sha256(data)}


def test_the_digest_is_a_checksum_of_the_records_used(data):
    whole = dataset_of(data)
    assert dataset_of(data).digest == whole.digest  # deterministic
    first = dataset_of(data, range(10))
    assert first.digest != whole.digest and json.loads(first.profile)["records"] == 10
    assert dataset_of(data, list(range(10))).digest == first.digest
    assert dataset_of(data, [1, 0, *range(2, 10)]).digest != first.digest  # order of the records counts


def test_training_and_test_records_of_one_run_are_two_inputs(client, data):
    run_id = client.create_run(get_or_create_experiment(client, "two-inputs")).info.run_id
    log_dataset(client, run_id, data, range(0, 600))
    log_dataset(client, run_id, data, range(600, 918), context="test",
                source="https://github.com/seungheondoh/fx-processor")
    inputs = client.get_run(run_id).inputs.dataset_inputs
    contexts = {i.tags[0].value: i.dataset for i in inputs}
    assert set(contexts) == {"training", "test"}
    assert contexts["test"].source_type == "http" and "url" in json.loads(contexts["test"].source)


def test_no_records_is_an_error_not_an_empty_dataset(data):
    with pytest.raises(ConfigError, match="at least one record"):
        dataset_of(data, [])


def _study(client: MlflowClient, exp_id: str, name: str, best: float, trials: int = 2) -> str:
    parent = client.create_run(exp_id, run_name=name).info.run_id
    for t in range(trials):
        child = client.create_run(exp_id, run_name=f"{name}-trial{t}", tags={"mlflow.parentRunId": parent})
        client.log_metric(child.info.run_id, "val/mae_unit", best + 0.01 * t)
    client.log_batch(parent, metrics=[Metric(BEST_METRIC, best, 0, 0), Metric("test/mae_unit", best + 0.01, 0, 0)])
    return parent


def test_the_study_view_lists_the_study_columns_best_first_and_filters_valid_mlflow_search(client):
    exp_id = get_or_create_experiment(client, "view-sweeps")
    parents = [_study(client, exp_id, "gpt-fold0", 0.09), _study(client, exp_id, "gpt-fold1", 0.08)]
    assert save_study_view(client, exp_id) == "studies"
    envelope = json.loads(client.get_experiment(exp_id).tags[VIEW_TAG_PREFIX + "studies"])
    assert envelope["name"] == "Studies, best first" and envelope["createdAt"] <= envelope["updatedAt"]
    state = json.loads(envelope["state"])
    columns = [f"metrics.`{m}`" for m in STUDY_COLUMNS] + ["attributes.`Dataset`"]
    assert state["selectedColumns"] == state["columnOrder"] == columns
    assert state["columnWidths"] == {c: 150 for c in columns[:-1]}
    assert state["orderByKey"] == "metrics.`best/val_mae_unit`" and state["orderByAsc"] is True
    # The UI sends the view's filter and order to search-runs: MLflow itself must accept them.
    runs = client.search_runs([exp_id], state["searchFilter"], order_by=[f"metrics.`{BEST_METRIC}` ASC"])
    assert [r.info.run_id for r in runs] == parents[::-1]


def test_saving_a_view_again_replaces_it_and_keeps_when_it_was_created(client):
    exp_id = get_or_create_experiment(client, "view-again")
    save_runs_view(client, exp_id, "v", "V", ["a/b"])
    first = json.loads(client.get_experiment(exp_id).tags[VIEW_TAG_PREFIX + "v"])
    save_runs_view(client, exp_id, "v", "V2", ["c/d"], order_by="c/d", ascending=False, dataset_column=False)
    second = json.loads(client.get_experiment(exp_id).tags[VIEW_TAG_PREFIX + "v"])
    assert second["createdAt"] == first["createdAt"] and second["name"] == "V2"
    assert json.loads(second["state"]) == {"selectedColumns": ["metrics.`c/d`"], "columnOrder": ["metrics.`c/d`"],
                                           "columnWidths": {"metrics.`c/d`": 150}, "orderByKey": "metrics.`c/d`",
                                           "orderByAsc": False}


def test_the_runs_page_url_asks_for_the_training_runs_view():
    assert runs_page_url("http://127.0.0.1:5000/", "3") == \
        "http://127.0.0.1:5000/#/experiments/3/runs?workflowType=machine_learning&viewStateShareKey=studies"
    assert runs_page_url("http://h:1", "3", None) == "http://h:1/#/experiments/3/runs?workflowType=machine_learning"
