"""NeuralModel: an EqHead trained with Lightning behind the same fit/predict interface as the baselines."""

from __future__ import annotations

import copy
import logging
import warnings
from dataclasses import dataclass, field
from typing import Iterator, Sequence

import lightning.pytorch as pl
import numpy as np
import torch

from lightning_eq.config import HeadConfig, TrainerConfig
from lightning_eq.models.baselines import Features, Validation
from lightning_eq.models.head import EqHead

log = logging.getLogger(__name__)


class TensorBatches:
    """In-memory mini-batches, reshuffled every epoch: (x (B, D), y (B, 40)). Far cheaper than a DataLoader."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor, batch_size: int, shuffle: bool, seed: int = 0):
        self.x, self.y, self.batch_size, self.shuffle = x, y, batch_size, shuffle
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        return -(-len(self.x) // self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        order = torch.randperm(len(self.x), generator=self.generator) if self.shuffle else torch.arange(len(self.x))
        for start in range(0, len(self.x), self.batch_size):
            idx = order[start : start + self.batch_size]
            yield self.x[idx], self.y[idx]


class History(pl.Callback):
    """Per-epoch metrics, and the weights of the epoch with the lowest ``monitor`` value."""

    def __init__(self, monitor: str = "val/mae_unit"):
        self.monitor = monitor
        self.epochs: list[dict[str, float]] = []
        self.best_score = float("inf")
        self.best_epoch = -1
        self.best_state: dict | None = None

    def on_train_epoch_end(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        metrics = {k: float(v) for k, v in trainer.callback_metrics.items() if "/" in k}
        metrics["epoch"] = trainer.current_epoch
        self.epochs.append(metrics)
        score = metrics.get(self.monitor)
        if score is not None and score < self.best_score:
            self.best_score, self.best_epoch = score, trainer.current_epoch
            self.best_state = copy.deepcopy(module.state_dict())


def stack_features(features: Features, keys: Sequence[str]) -> np.ndarray:
    """(N, sum of dims) float32, embeddings side by side in ``keys`` order."""
    return np.concatenate([np.asarray(features[k], dtype=np.float32) for k in keys], axis=1)


@dataclass
class NeuralModel:
    """A head (one embedder), ``ensemble`` (all side by side) or ``attention`` model."""

    key: str
    embedder_keys: tuple[str, ...]
    kind: str
    head: HeadConfig
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    module: EqHead | None = None
    chosen: dict = field(default_factory=dict)
    history: list[dict] = field(default_factory=list)

    def build(self, features: Features) -> EqHead:
        dims = {k: int(np.asarray(features[k]).shape[1]) for k in self.embedder_keys}
        return EqHead(dims, self.head, kind=self.kind, key=self.key)

    def fit(self, features: Features, curves_unit: np.ndarray, words: list[str], val: Validation | None = None,
            callbacks: Sequence[pl.Callback] = (), logger=False, checkpoint_dir: str | None = None) -> None:
        """Train for ``head.max_epochs``; with ``val``, keep the weights of the best validation epoch."""
        pl.seed_everything(self.trainer.seed, workers=True, verbose=False)
        if self.trainer.num_threads:
            torch.set_num_threads(self.trainer.num_threads)
        self.module = self.build(features)
        x = torch.from_numpy(stack_features(features, self.embedder_keys))
        y = torch.from_numpy(np.asarray(curves_unit, dtype=np.float32))
        if self.head.standardize:
            self.module.standardize_from(x)
        train = TensorBatches(x, y, self.head.batch_size, shuffle=True, seed=self.trainer.seed)
        val_batches = None
        if val is not None:
            xv = torch.from_numpy(stack_features(val.features, self.embedder_keys))
            val_batches = TensorBatches(xv, torch.from_numpy(np.asarray(val.curves_unit, dtype=np.float32)), 4096, False)
        history = History()
        trainer = pl.Trainer(
            max_epochs=self.head.max_epochs,
            accelerator=self.trainer.accelerator,
            devices=self.trainer.devices,
            logger=logger,
            callbacks=[history, *callbacks],
            enable_checkpointing=any(isinstance(c, pl.callbacks.ModelCheckpoint) for c in callbacks),
            enable_progress_bar=False,
            enable_model_summary=False,
            num_sanity_val_steps=0,
            default_root_dir=checkpoint_dir,
            deterministic=True,
        )
        with warnings.catch_warnings():
            # One in-memory batch iterator; Lightning's worker and batch-size hints do not apply to it.
            warnings.filterwarnings("ignore", message=".*(num_workers|does not have many workers|LeafSpec|batch_size|no `val_dataloader`).*")
            trainer.fit(self.module, train, val_batches)
        self.history = history.epochs
        if history.best_state is not None:
            self.module.load_state_dict(history.best_state)
            self.chosen = {"best_epoch": history.best_epoch}
        self.module.eval()

    @torch.inference_mode()
    def predict(self, features: Features, n: int | None = None) -> np.ndarray:
        x = torch.from_numpy(stack_features(features, self.embedder_keys)).to(self.module.device)
        return self.module.eval()(x).cpu().numpy().astype(float)
