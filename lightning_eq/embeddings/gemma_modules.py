"""A sentence-transformers folder run without sentence-transformers: encoder, pooling, Dense, Normalize.

Reads the folder's ``modules.json`` and each module's config, as sentence-transformers does, for the modules an
embedding model such as EmbeddingGemma uses (Transformer, Pooling with mean / cls / last-token, Dense with an
identity or tanh activation, Normalize); any other module is an error rather than a silently different vector.
Importing sentence-transformers itself costs several seconds, which a cold ``predict`` cannot spare. EmbeddingGemma's
encoder runs in plain torch (``gemma_encoder.py``, the same hidden states without importing transformers' modelling
code); any other encoder through transformers' ``AutoModel``.

Gemma's tokenizer is read from its SentencePiece ``tokenizer.model`` (about 0.1 s) rather than the 33 MB
``tokenizer.json`` (about 1.2 s, holding the GIL): both give the same ids for every input the sweep builds; they
differ only on text that spells a special token ("<bos>"), which SentencePiece reads as plain text. Other models
use their ``tokenizer.json``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from lightning_eq.embeddings.bert import load_failure
from lightning_eq.errors import EmbedderError

MODULE = "sentence_transformers.models."
POOLING_MODES = ("pooling_mode_mean_tokens", "pooling_mode_cls_token", "pooling_mode_lasttoken")
ACTIVATIONS = ("torch.nn.modules.linear.Identity", "torch.nn.modules.activation.Tanh")


def _read_json(path: Path) -> dict | list:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise EmbedderError(f"Cannot read {path} ({err}); expected a sentence-transformers model folder.") from err


class PieceTokenizer:
    """Gemma's SentencePiece model with its BOS/EOS, as its fast tokenizer adds them: text -> ids."""

    def __init__(self, folder: Path, max_length: int):
        import sentencepiece

        self.model = sentencepiece.SentencePieceProcessor(model_file=str(folder / "tokenizer.model"))
        config = _read_json(folder / "tokenizer_config.json")
        self.bos = [self.model.bos_id()] if config.get("add_bos_token", True) else []
        self.eos = [self.model.eos_id()] if config.get("add_eos_token", False) else []
        self.room = max_length - len(self.bos) - len(self.eos)

    def __call__(self, inputs: list[str]) -> list[list[int]]:
        return [self.bos + ids[: self.room] + self.eos for ids in self.model.encode(inputs)]


class JsonTokenizer:
    """A ``tokenizer.json`` (fast tokenizer) with its own post-processing: text -> ids."""

    def __init__(self, folder: Path, max_length: int):
        from tokenizers import Tokenizer

        self.model = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.model.enable_truncation(max_length=max_length)

    def __call__(self, inputs: list[str]) -> list[list[int]]:
        return [e.ids for e in self.model.encode_batch(inputs)]


@dataclass
class Pipeline:
    """The loaded modules; ``encode`` runs them on a list of model inputs."""

    tokenize: object  # list of texts -> list of token id lists (special tokens added, truncated)
    pad_id: int
    encoder: object  # (ids, mask) -> (B, T, C) last hidden states
    pooling: str  # "mean", "cls" or "lasttoken"
    dense: list = field(default_factory=list)  # (weight (out, in), bias or None, "tanh" or None) per Dense module
    normalise: bool = False
    device: object = None

    def _batch(self, inputs: list[str]):
        import torch

        rows = self.tokenize(inputs)
        ids = torch.full((len(rows), max(map(len, rows))), self.pad_id, dtype=torch.long)
        mask = torch.zeros_like(ids)
        for i, row in enumerate(rows):  # padding on the right
            ids[i, : len(row)], mask[i, : len(row)] = torch.tensor(row), 1
        ids, mask = ids.to(self.device), mask.to(self.device)
        hidden = self.encoder(ids, mask)  # (B, T, C)
        if self.pooling == "mean":
            weights = mask.unsqueeze(-1).to(hidden.dtype)
            x = (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1e-9)
        elif self.pooling == "cls":
            x = hidden[:, 0]
        else:  # the last token that is not padding (padding is on the right)
            x = hidden[torch.arange(len(inputs), device=self.device), mask.sum(dim=1) - 1]
        for weight, bias, activation in self.dense:
            x = torch.nn.functional.linear(x, weight, bias)
            x = torch.tanh(x) if activation == "tanh" else x
        if self.normalise:
            x = torch.nn.functional.normalize(x, dim=-1)
        return x.float().cpu().numpy()

    def encode(self, inputs: list[str], batch_size: int = 32) -> np.ndarray:
        """(len(inputs), dim) float32, one row per input string; inputs are batched by length."""
        import torch

        order = sorted(range(len(inputs)), key=lambda i: len(inputs[i]))
        out = np.zeros((len(inputs), 0), dtype=np.float32)
        with torch.inference_mode():
            for start in range(0, len(order), batch_size):
                rows = order[start : start + batch_size]
                vectors = self._batch([inputs[i] for i in rows])
                if out.shape[1] == 0:
                    out = np.zeros((len(inputs), vectors.shape[1]), dtype=np.float32)
                out[rows] = vectors
        return out


def _load_dense(folder: Path):
    import torch
    from safetensors.torch import load_file

    config = _read_json(folder / "config.json")
    activation = config.get("activation_function", ACTIVATIONS[0])
    if activation not in ACTIVATIONS:
        raise EmbedderError(f"{folder}: Dense activation {activation!r} is not supported (identity or tanh).")
    weights_file = folder / "model.safetensors"
    if not weights_file.is_file():
        raise EmbedderError(f"{folder} has no model.safetensors; expected a sentence-transformers Dense module.")
    state = load_file(weights_file)
    bias = state.get("linear.bias") if config.get("bias", True) else None
    return state["linear.weight"].to(torch.float32), bias, "tanh" if activation.endswith("Tanh") else None


def _auto_encoder(folder: Path, device):
    """transformers' AutoModel of ``folder`` as a function (ids, mask) -> last hidden states."""
    from transformers import AutoModel
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # a per-load "Loading weights" bar on stderr tells a user nothing
    try:
        model = AutoModel.from_pretrained(folder).to(device).eval()
    except (OSError, ValueError, RuntimeError) as err:
        raise load_failure(str(folder), err) from err
    return lambda ids, mask: model(input_ids=ids, attention_mask=mask).last_hidden_state


def _load_transformer(folder: Path, device):
    """(tokenizer, pad id, encoder) of the folder's Transformer module."""
    from lightning_eq.embeddings.gemma_encoder import GemmaEncoder

    config = _read_json(folder / "config.json")
    if GemmaEncoder.supports(config) and device.type == "cpu" and (folder / "model.safetensors").is_file():
        try:
            encoder = GemmaEncoder(folder)
        except (OSError, ValueError, KeyError) as err:
            raise load_failure(str(folder), err) from err
    else:
        encoder = _auto_encoder(folder, device)
    settings = _read_json(folder / "sentence_bert_config.json") if (folder / "sentence_bert_config.json").is_file() else {}
    max_length = int(settings.get("max_seq_length") or config.get("max_position_embeddings", 512))
    if config.get("model_type", "").startswith("gemma") and (folder / "tokenizer.model").is_file():
        tokenizer = PieceTokenizer(folder, max_length)
    elif (folder / "tokenizer.json").is_file():
        tokenizer = JsonTokenizer(folder, max_length)
    else:
        raise EmbedderError(f"{folder} has no tokenizer.json; expected a sentence-transformers folder with a fast tokenizer.")
    pad_id = config.get("pad_token_id") if config.get("pad_token_id") is not None else 0
    return tokenizer, pad_id, encoder


def output_dim(folder: Path) -> int:
    """The folder's vector length, from its module configs (the last Dense's output, else the pooled width)."""
    modules = _read_json(folder / "modules.json")
    dim = None
    for module in modules[1:]:
        config_file = folder / module.get("path", "") / "config.json"
        if module.get("type", "").endswith(("Pooling", "Dense")) and config_file.is_file():
            config = _read_json(config_file)
            dim = config.get("out_features", config.get("word_embedding_dimension", dim))
    if dim is None:
        dim = _read_json(folder / modules[0].get("path", "") / "config.json")["hidden_size"]
    return int(dim)


def load_pipeline(folder: Path, device) -> Pipeline:
    """The folder's modules, loaded on ``device``."""
    modules = _read_json(folder / "modules.json")
    kinds = [m.get("type", "").removeprefix(MODULE) for m in modules]
    if not kinds or kinds[0] != "Transformer":
        raise EmbedderError(f"{folder}/modules.json must start with a Transformer module, got {kinds}.")
    tokenizer, pad_id, encoder = _load_transformer(folder / modules[0].get("path", ""), device)
    pipeline = Pipeline(tokenizer, pad_id, encoder, "mean", device=device)
    for module, kind in zip(modules[1:], kinds[1:]):
        path = folder / module.get("path", "")
        if kind == "Pooling":
            config = _read_json(path / "config.json")
            modes = [m for m in POOLING_MODES if config.get(m)]
            others = [k for k, v in config.items() if k.startswith("pooling_mode_") and v and k not in POOLING_MODES]
            if len(modes) != 1 or others:
                raise EmbedderError(f"{path}: pooling {modes + others} is not supported (one of mean, cls, last token).")
            pipeline.pooling = modes[0].removeprefix("pooling_mode_").removesuffix("_tokens").removesuffix("_token")
        elif kind == "Dense":
            pipeline.dense.append(tuple(t.to(device) if hasattr(t, "to") else t for t in _load_dense(path)))
        elif kind == "Normalize":
            pipeline.normalise = True
        else:
            raise EmbedderError(f"{folder}: sentence-transformers module {kind!r} is not supported here "
                                "(Transformer, Pooling, Dense, Normalize).")
    return pipeline
