"""A Lightning callback that logs a trial's epoch curves to its MLflow child run (step = epoch)."""

from __future__ import annotations

import time

import lightning.pytorch as pl


class EpochLogger(pl.Callback):
    """Logs ``train/*`` at each training epoch end and ``val/*`` (the mean over inner folds) at each validation end."""

    def __init__(self, client, run_id: str, flush_every: int = 25):
        self.client, self.run_id, self.flush_every = client, run_id, flush_every
        self.pending: list = []

    def _add(self, trainer: pl.Trainer, prefix: str) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        for k, v in trainer.callback_metrics.items():
            if k.startswith(prefix):
                self.pending.append(Metric(f"epoch/{k}", float(v), now, trainer.current_epoch))
        if prefix == "train/" and trainer.optimizers:
            self.pending.append(Metric("epoch/train/lr", trainer.optimizers[0].param_groups[0]["lr"], now, trainer.current_epoch))
        if len(self.pending) >= 3 * self.flush_every:
            self.flush()

    def flush(self) -> None:
        for start in range(0, len(self.pending), 900):
            self.client.log_batch(self.run_id, metrics=self.pending[start : start + 900])
        self.pending = []

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        self._add(trainer, "train/")

    def on_validation_end(self, trainer, pl_module) -> None:
        if not trainer.sanity_checking:
            self._add(trainer, "val/")

    def on_train_end(self, trainer, pl_module) -> None:
        self.flush()

    def on_exception(self, trainer, pl_module, exception) -> None:
        self.flush()
