"""EmbeddingGemma's encoder (a Gemma 3 text model with bidirectional attention) in plain torch, read from its
``model.safetensors`` (memory-mapped): ``encoder(ids, mask) -> (B, T, C)``, the last hidden states.

Why not transformers' ``AutoModel``: importing its Gemma 3 modelling code pulls in torch.distributed, dynamo and
the generation utilities, about 2 s of a cold ``predict`` (the model itself loads in 0.3 s). This forward pass
follows transformers 5's ``Gemma3TextModel`` for inference: scaled token embeddings; per layer RMSNorm (x * (1 +
w), in float32), grouped-query attention with RMSNorm on queries and keys, RoPE (the local base for sliding
layers, the global one for full layers), attention within ``sliding_window`` on sliding layers, norms before and
after attention and the gated GELU-tanh MLP; a final norm. A slow test holds its vectors to sentence-transformers'.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import torch
import torch.nn.functional as F


def rms_norm(x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
    y = x.float()
    y = y * torch.rsqrt(y.pow(2).mean(-1, keepdim=True) + eps)
    return (y * (1.0 + weight.float())).type_as(x)


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


class GemmaEncoder:
    """The bidirectional Gemma 3 text encoder of ``folder`` (its config.json and model.safetensors)."""

    def __init__(self, folder: Path):
        from safetensors.torch import load_file

        self.config = config = json.loads((folder / "config.json").read_text())
        self.w = load_file(folder / "model.safetensors")  # memory-mapped: only the rows of the tokens read are paged in
        self.hidden = config["hidden_size"]
        self.heads, self.kv_heads, self.head_dim = config["num_attention_heads"], config["num_key_value_heads"], config["head_dim"]
        self.eps = config["rms_norm_eps"]
        self.scaling = config["query_pre_attn_scalar"] ** -0.5
        self.window = config["sliding_window"]
        self.layer_types = config["layer_types"]
        bases = {"full_attention": config.get("rope_theta", 1_000_000.0),
                 "sliding_attention": config.get("rope_local_base_freq", 10_000.0)}
        parameters = config.get("rope_parameters") or {}
        bases.update({k: v["rope_theta"] for k, v in parameters.items() if isinstance(v, dict) and "rope_theta" in v})
        steps = torch.arange(0, self.head_dim, 2, dtype=torch.float) / self.head_dim
        self.inv_freq = {kind: 1.0 / (base ** steps) for kind, base in bases.items()}

    @staticmethod
    def supports(config: dict) -> bool:
        """True for the configs this forward pass reproduces (EmbeddingGemma's)."""
        return (config.get("model_type") == "gemma3_text" and config.get("use_bidirectional_attention") is True
                and config.get("hidden_activation") == "gelu_pytorch_tanh" and not config.get("attention_bias")
                and config.get("attn_logit_softcapping") is None and not config.get("rope_scaling"))

    def _rope(self, length: int, kind: str) -> tuple[torch.Tensor, torch.Tensor]:
        freqs = torch.arange(length, dtype=torch.float)[:, None] * self.inv_freq[kind]
        emb = torch.cat((freqs, freqs), dim=-1)
        return emb.cos(), emb.sin()

    def _attention(self, x: torch.Tensor, i: int, rope, mask: torch.Tensor) -> torch.Tensor:
        w, p = self.w, f"layers.{i}.self_attn."
        B, T, _ = x.shape
        q = F.linear(x, w[p + "q_proj.weight"]).view(B, T, self.heads, self.head_dim).transpose(1, 2)
        k = F.linear(x, w[p + "k_proj.weight"]).view(B, T, self.kv_heads, self.head_dim).transpose(1, 2)
        v = F.linear(x, w[p + "v_proj.weight"]).view(B, T, self.kv_heads, self.head_dim).transpose(1, 2)
        q, k = rms_norm(q, w[p + "q_norm.weight"], self.eps), rms_norm(k, w[p + "k_norm.weight"], self.eps)
        cos, sin = rope
        q, k = q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=self.scaling, enable_gqa=True)  # (B, H, T, D)
        return F.linear(out.transpose(1, 2).reshape(B, T, -1), w[p + "o_proj.weight"])

    def _mlp(self, x: torch.Tensor, i: int) -> torch.Tensor:
        w, p = self.w, f"layers.{i}.mlp."
        gate = F.gelu(F.linear(x, w[p + "gate_proj.weight"]), approximate="tanh")
        return F.linear(gate * F.linear(x, w[p + "up_proj.weight"]), w[p + "down_proj.weight"])

    def __call__(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """(B, T, hidden) last hidden states of token ``ids`` (B, T); ``mask`` (B, T) is 1 on tokens, 0 on padding."""
        w = self.w
        T = ids.shape[1]
        x = F.embedding(ids, w["embed_tokens.weight"]) * torch.tensor(math.sqrt(self.hidden), dtype=torch.float32)
        keys = mask.bool()[:, None, None, :]  # (B, 1, 1, T): every token sees every real token
        distance = (torch.arange(T)[:, None] - torch.arange(T)[None, :]).abs()
        masks = {"full_attention": keys, "sliding_attention": keys & (distance < self.window)}
        ropes = {kind: self._rope(T, kind) for kind in set(self.layer_types)}
        for i, kind in enumerate(self.layer_types):
            p = f"layers.{i}."
            attended = self._attention(rms_norm(x, w[p + "input_layernorm.weight"], self.eps), i, ropes[kind], masks[kind])
            x = x + rms_norm(attended, w[p + "post_attention_layernorm.weight"], self.eps)
            fed = self._mlp(rms_norm(x, w[p + "pre_feedforward_layernorm.weight"], self.eps), i)
            x = x + rms_norm(fed, w[p + "post_feedforward_layernorm.weight"], self.eps)
        return rms_norm(x, w["norm.weight"], self.eps)
