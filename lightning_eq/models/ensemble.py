"""Encoders that turn one or several embeddings into one feature vector for the head.

Inputs arrive concatenated, (B, sum of dims), in the order of ``input_dims``; encoders split them.
"""

from __future__ import annotations

import torch
from torch import nn


class Concat(nn.Module):
    """A single embedding, or several side by side (the ``ensemble`` model): the identity."""

    def __init__(self, input_dims: dict[str, int]):
        super().__init__()
        self.out_dim = sum(input_dims.values())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


class AttentionEnsemble(nn.Module):
    """The study's attention ensemble: one projection per embedding, attention weights over them.

    Each embedding e_i (B, d_i) is projected to h_i = tanh(W_i e_i) (B, A); a shared scoring vector gives
    one logit per embedding, softmax over embeddings gives weights a_i (B, E), and the output is
    sum_i a_i h_i (B, A). ``last_weights`` keeps the weights of the latest batch for inspection.
    """

    def __init__(self, input_dims: dict[str, int], attention_dim: int = 64, dropout: float = 0.0):
        super().__init__()
        self.names = list(input_dims)
        self.sizes = list(input_dims.values())
        self.norms = nn.ModuleList(nn.LayerNorm(d) for d in self.sizes)
        self.projections = nn.ModuleList(nn.Linear(d, attention_dim) for d in self.sizes)
        self.score = nn.Linear(attention_dim, 1, bias=False)
        self.dropout = nn.Dropout(dropout)
        self.out_dim = attention_dim
        self.last_weights: torch.Tensor | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        parts = torch.split(x, self.sizes, dim=1)
        h = torch.stack([torch.tanh(p(n(e))) for e, n, p in zip(parts, self.norms, self.projections)], dim=1)  # (B, E, A)
        weights = torch.softmax(self.score(self.dropout(h)).squeeze(-1), dim=1)  # (B, E)
        self.last_weights = weights.detach()
        return (weights.unsqueeze(-1) * h).sum(dim=1)  # (B, A)
