"""The study's network in plain torch, as M independent members run together (one batched trial, or M = 1).

Member m sees inputs x[m] (B, D): the embeddings side by side, standardised with member m's own training
statistics, then either used as they are (a head on one embedding, or the ``ensemble`` of several) or
weighed by the study's attention layer (``attention``), then dense layers with ReLU and dropout and 40
sigmoid outputs on the unit scale. Every weight has a leading member axis and every product is a batched
matrix product, so M members cost one forward pass and their gradients never mix: training M members
together is the same as training each alone. Inference needs only this module (no Lightning).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from lightning_eq.curves import N_BANDS

KINDS = ("head", "ensemble", "attention")


def _uniform(members: int, fan_in: int, *shape: int) -> nn.Parameter:
    """nn.Linear's default initialisation, U(-1/sqrt(fan_in), 1/sqrt(fan_in)), drawn for each member."""
    bound = 1.0 / math.sqrt(fan_in)
    return nn.Parameter(torch.empty(members, *shape).uniform_(-bound, bound))


class StackedLinear(nn.Module):
    """M linear layers: (M, B, in) -> (M, B, out)."""

    def __init__(self, members: int, in_dim: int, out_dim: int):
        super().__init__()
        self.weight = _uniform(members, in_dim, in_dim, out_dim)
        self.bias = _uniform(members, in_dim, 1, out_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.baddbmm(self.bias, x, self.weight)


class StackedAttention(nn.Module):
    """The study's attention ensemble, per member: each embedding e_i (B, d_i) is layer-normalised and projected
    to h_i = tanh(W_i e_i) (B, A); a scoring vector gives one logit per embedding, a softmax over embeddings gives
    weights a_i (B, E), and the output is sum_i a_i h_i (B, A). ``last_weights`` (M, B, E) keeps the latest."""

    def __init__(self, members: int, sizes: list[int], attention_dim: int, dropout: float):
        super().__init__()
        self.sizes = sizes
        self.norm_weight = nn.ParameterList(nn.Parameter(torch.ones(members, 1, d)) for d in sizes)
        self.norm_bias = nn.ParameterList(nn.Parameter(torch.zeros(members, 1, d)) for d in sizes)
        self.projections = nn.ModuleList(StackedLinear(members, d, attention_dim) for d in sizes)
        self.score = _uniform(members, attention_dim, 1, attention_dim)  # (M, 1, A)
        self.dropout = nn.Dropout(dropout)
        self.out_dim = attention_dim
        self.last_weights: torch.Tensor | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        parts = torch.split(x, self.sizes, dim=-1)
        h = []
        for e, w, b, project in zip(parts, self.norm_weight, self.norm_bias, self.projections):
            e = nn.functional.layer_norm(e, e.shape[-1:]) * w + b
            h.append(torch.tanh(project(e)))
        h = torch.stack(h, dim=2)  # (M, B, E, A)
        logits = (self.dropout(h) * self.score.unsqueeze(2)).sum(-1)  # (M, B, E)
        weights = torch.softmax(logits, dim=-1)
        self.last_weights = weights.detach()
        return (weights.unsqueeze(-1) * h).sum(dim=2)  # (M, B, A)


class StackedNet(nn.Module):
    """Embeddings (M, B, sum of dims) -> curves (M, B, 40) on the unit scale, for M members.

    ``input_dims`` orders the embeddings as they are concatenated; ``kind`` is head, ensemble or attention."""

    def __init__(self, members: int, input_dims: dict[str, int], hidden_sizes: list[int], dropout: float,
                 kind: str = "head", attention_dim: int = 64, input_dropout: float = 0.0):
        super().__init__()
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
        self.members, self.input_dims, self.kind = members, dict(input_dims), kind
        total = sum(input_dims.values())
        # Per-member standardisation from the member's training rows (LM hidden states have a few huge
        # dimensions that otherwise swamp SGD); buffers, so they travel with the weights.
        self.register_buffer("feature_mean", torch.zeros(members, 1, total))
        self.register_buffer("feature_std", torch.ones(members, 1, total))
        self.input_dropout = nn.Dropout(input_dropout)
        self.encoder = StackedAttention(members, list(input_dims.values()), attention_dim, dropout) if kind == "attention" else None
        width = self.encoder.out_dim if self.encoder is not None else total
        layers = []
        for out in hidden_sizes:
            layers.append(StackedLinear(members, width, out))
            width = out
        self.hidden = nn.ModuleList(layers)
        self.output = StackedLinear(members, width, N_BANDS)
        self.dropout = nn.Dropout(dropout)

    def standardize_from(self, x: torch.Tensor, weights: torch.Tensor) -> None:
        """Mean and std of each member's training inputs: x (N, D) shared rows, weights (M, N) of 0/1 (or more)."""
        w = weights / weights.sum(dim=1, keepdim=True).clamp_min(1e-12)  # (M, N)
        mean = w @ x  # (M, D)
        var = w @ (x * x) - mean * mean
        self.feature_mean.copy_(mean.unsqueeze(1))
        self.feature_std.copy_(var.clamp_min(0).sqrt().clamp_min(1e-6).unsqueeze(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.input_dropout((x - self.feature_mean) / self.feature_std)
        if self.encoder is not None:
            h = self.encoder(h)
        for layer in self.hidden:
            h = self.dropout(torch.relu(layer(h)))
        return torch.sigmoid(self.output(h))

    @torch.inference_mode()
    def predict(self, x: torch.Tensor, member: int | None = None) -> torch.Tensor:
        """(N, D) -> (M, N, 40), or (N, 40) for one ``member``; eval mode (no dropout)."""
        was_training = self.training
        self.eval()
        out = self(x.unsqueeze(0).expand(self.members, *x.shape))
        self.train(was_training)
        return out if member is None else out[member]
