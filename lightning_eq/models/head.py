"""EqHead: the LightningModule that trains M members of ``StackedNet`` at once (the study's head, MAE loss, SGD).

Member m trains on the rows its weights mark (0 = not its row): in a trial, the members are the inner folds
(times seeds) of the objective; a final fit is one member. The rows' features and curves stay on the device
as tensors; a mini-batch is only row indices (M, B) and weights (M, B), one per member drawn from its own
shuffled rows. The loss is each member's weighted mean absolute error, summed over members (their parameters
are separate, so each gets its own gradient). Each epoch, ``val/mae_unit`` is the mean over members of their
MAE on their validation rows (the running mean over inner folds that the pruner watches), and
``val_history`` keeps every member's value.

One Lightning "batch" is a whole epoch of mini-batches (S, M, B), stepped through with manual optimisation:
these networks take a millisecond per mini-batch, and Lightning's per-batch bookkeeping (hooks, logging,
device transfer) cost several times that.
"""

from __future__ import annotations

import logging
from typing import Iterator

import lightning.pytorch as pl
import torch

from lightning_eq.models.net import StackedNet

# Every Trainer announces the hardware and a tip at INFO, and a sweep builds one per trial: keep Lightning's
# warnings, drop those announcements. (Lightning sets its logger to INFO when imported, so this is done here.)
logging.getLogger("lightning.pytorch.utilities.rank_zero").setLevel(logging.WARNING)


class EpochBatches:
    """One item per epoch: every member's rows shuffled and padded to one length, cut into mini-batches:
    (rows (S, M, B), weights (S, M, B)); padding has weight 0."""

    def __init__(self, weights: torch.Tensor, batch_size: int, seed: int = 0):
        self.weights, self.batch_size = weights, batch_size
        self.generator = torch.Generator().manual_seed(seed)
        self.rows = [torch.nonzero(w > 0).squeeze(1) for w in weights]
        self.steps = -(-max(len(r) for r in self.rows) // batch_size)

    def __len__(self) -> int:
        return 1

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        members, length = len(self.rows), self.steps * self.batch_size
        index = torch.zeros(members, length, dtype=torch.long)
        weight = torch.zeros(members, length)
        for m, rows in enumerate(self.rows):
            order = rows[torch.randperm(len(rows), generator=self.generator)]
            index[m, : len(rows)] = order
            weight[m, : len(rows)] = self.weights[m, order]
        shape = (members, self.steps, self.batch_size)
        yield index.view(shape).transpose(0, 1), weight.view(shape).transpose(0, 1)


class Once:
    """A one-item loader: validation scores every validation row of every member in one step."""

    def __len__(self) -> int:
        return 1

    def __iter__(self):
        yield torch.zeros(1)


class EqHead(pl.LightningModule):
    """Train ``net`` on rows ``x`` (N, D), ``y`` (N, 40) with member weights (M, N); optional validation rows."""

    def __init__(self, net: StackedNet, x: torch.Tensor, y: torch.Tensor, head: dict,
                 x_val: torch.Tensor | None = None, y_val: torch.Tensor | None = None, val_weights: torch.Tensor | None = None):
        super().__init__()
        self.automatic_optimization = False  # an epoch of mini-batches per training_step (see the module docstring)
        self.net, self.head = net, head
        self.save_hyperparameters(ignore=["net", "x", "y", "x_val", "y_val", "val_weights"])
        self.register_buffer("x", x, persistent=False)
        self.register_buffer("y", y, persistent=False)
        if x_val is not None:
            # Each member scores only its own validation rows: (M, Lv) row indices, padded, with weights.
            rows = [torch.nonzero(w > 0).squeeze(1) for w in val_weights]
            length = max(len(r) for r in rows)
            index, weight = torch.zeros(len(rows), length, dtype=torch.long), torch.zeros(len(rows), length)
            for m, r in enumerate(rows):
                index[m, : len(r)], weight[m, : len(r)] = r, val_weights[m, r]
            self.register_buffer("x_val", x_val, persistent=False)
            self.register_buffer("y_val", y_val, persistent=False)
            self.register_buffer("val_rows", index, persistent=False)
            self.register_buffer("val_weights", weight / weight.sum(1, keepdim=True).clamp_min(1e-12), persistent=False)
        self.steps_per_epoch = 1  # set by fit_members: optimiser steps in one epoch (for the cosine schedule)
        self.val_history: list[torch.Tensor] = []  # per epoch, (M,) validation MAE of each member
        self.best_val_pred: torch.Tensor | None = None  # (M, Lv, 40) at the epoch with the lowest mean so far

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        optimizer = self.optimizers()
        scheduler = self.lr_schedulers()
        total = torch.zeros((), device=self.x.device)
        for rows, weights in zip(*batch):  # (M, B) each
            error = (self.net(self.x[rows]) - self.y[rows]).abs().mean(dim=-1)  # (M, B)
            per_member = (error * weights).sum(dim=1) / weights.sum(dim=1).clamp_min(1e-12)
            optimizer.zero_grad()
            self.manual_backward(per_member.sum())
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
            total += per_member.detach().mean()
        self.log("train/mae_unit", total / len(batch[0]), on_step=False, on_epoch=True, batch_size=1)

    def validation_step(self, batch, batch_idx: int) -> None:
        pred = self.net(self.x_val[self.val_rows])  # (M, Lv, 40)
        error = (pred - self.y_val[self.val_rows]).abs().mean(dim=-1)  # (M, Lv)
        per_member = (error * self.val_weights).sum(dim=1)
        if not self.val_history or per_member.mean() < min(h.mean() for h in self.val_history):
            self.best_val_pred = pred.detach().cpu()
        self.val_history.append(per_member.detach().cpu())
        self.log("val/mae_unit", per_member.mean(), on_step=False, on_epoch=True, batch_size=1)

    def configure_optimizers(self):
        cfg = self.head
        if cfg["optimizer"] == "sgd":
            opt = torch.optim.SGD(self.net.parameters(), lr=cfg["lr"], momentum=cfg["momentum"], weight_decay=cfg["weight_decay"])
        else:
            opt = torch.optim.AdamW(self.net.parameters(), lr=cfg["lr"], weight_decay=cfg["weight_decay"])
        if cfg["scheduler"] == "none":
            return opt
        if cfg["scheduler"] == "step":
            sched = torch.optim.lr_scheduler.StepLR(opt, step_size=cfg["lr_step_updates"], gamma=cfg["lr_gamma"])
        else:
            total = max(1, self.trainer.max_epochs * self.steps_per_epoch)
            sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}
