"""EqHead: the study's dense network as a LightningModule, for one embedding or an ensemble encoder.

Dense layers with ReLU and dropout, 40 sigmoid outputs on the unit scale, MAE loss, SGD at 0.1 with a
stepped decay every ``lr_step_updates`` optimiser updates (the study's settings are the defaults).
"""

from __future__ import annotations

import dataclasses

import lightning.pytorch as pl
import torch
from torch import nn

from lightning_eq.config import HeadConfig
from lightning_eq.curves import N_BANDS
from lightning_eq.models.ensemble import AttentionEnsemble, Concat


class DenseNet(nn.Module):
    """in_dim -> [Linear, ReLU, Dropout] * len(hidden_sizes) -> Linear(40) -> sigmoid."""

    def __init__(self, in_dim: int, hidden_sizes: list[int], dropout: float):
        super().__init__()
        layers: list[nn.Module] = []
        for width in hidden_sizes:
            layers += [nn.Linear(in_dim, width), nn.ReLU(), nn.Dropout(dropout)]
            in_dim = width
        layers.append(nn.Linear(in_dim, N_BANDS))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.net(x))  # (B, 40) on the unit scale


class EqHead(pl.LightningModule):
    """Embeddings (B, sum of dims) -> curve (B, 40), unit scale. ``kind``: head, ensemble or attention."""

    def __init__(self, input_dims: dict[str, int], head: dict | HeadConfig, kind: str = "head", key: str = "head"):
        super().__init__()
        cfg = head if isinstance(head, HeadConfig) else HeadConfig(**head)
        self.save_hyperparameters({"input_dims": input_dims, "head": dataclasses.asdict(cfg), "kind": kind, "key": key})
        self.cfg = cfg
        total = sum(input_dims.values())
        # Per-feature standardisation, set from the training data by `standardize_from` (LM hidden states
        # have a few huge dimensions that otherwise swamp SGD); kept in the checkpoint as buffers.
        self.register_buffer("feature_mean", torch.zeros(total))
        self.register_buffer("feature_std", torch.ones(total))
        self.input_dropout = nn.Dropout(cfg.input_dropout)
        if kind == "attention":
            self.encoder: nn.Module = AttentionEnsemble(input_dims, cfg.attention_dim, cfg.dropout)
        else:
            self.encoder = Concat(input_dims)
        self.net = DenseNet(self.encoder.out_dim, cfg.hidden_sizes, cfg.dropout)
        self.loss = nn.L1Loss()

    def standardize_from(self, x: torch.Tensor) -> None:
        """Use the mean and std of training inputs x (N, D) to standardise every input."""
        self.feature_mean.copy_(x.mean(dim=0))
        self.feature_std.copy_(x.std(dim=0).clamp_min(1e-6))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = (x - self.feature_mean) / self.feature_std
        return self.net(self.encoder(self.input_dropout(x)))

    def _step(self, batch: tuple[torch.Tensor, torch.Tensor], stage: str) -> torch.Tensor:
        x, y = batch
        loss = self.loss(self(x), y)
        self.log(f"{stage}/mae_unit", loss, on_step=False, on_epoch=True, prog_bar=stage == "val", batch_size=len(x))
        return loss

    def training_step(self, batch, batch_idx):
        return self._step(batch, "train")

    def validation_step(self, batch, batch_idx):
        return self._step(batch, "val")

    def configure_optimizers(self):
        cfg = self.cfg
        if cfg.optimizer == "sgd":
            opt = torch.optim.SGD(self.parameters(), lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
        else:
            opt = torch.optim.AdamW(self.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        if cfg.scheduler == "none":
            return opt
        if cfg.scheduler == "step":
            sched = torch.optim.lr_scheduler.StepLR(opt, step_size=cfg.lr_step_updates, gamma=cfg.lr_gamma)
        else:
            total = max(1, int(self.trainer.estimated_stepping_batches))
            sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}
