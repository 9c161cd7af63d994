"""Neural models behind the same fit/predict interface as the baselines; ``fit_members`` trains M at once.

Training goes through Lightning (``models/head.py``, imported when a fit starts). A fitted model keeps its
weights as numpy arrays and predicts with the same arithmetic in numpy (``forward``), so a saved model loads
and predicts without torch or Lightning: a cold `lightning-eq predict` spends its time on the description, not
on imports. ``torch_net()`` rebuilds the torch network (checkpoints, GPU inference); tests hold the two equal.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

if TYPE_CHECKING:  # only numpy at import: benchmarks/gpu_check runs this module where pydantic is not installed
    from lightning_eq.config import HeadConfig, TrainerConfig

log = logging.getLogger(__name__)
Features = dict[str, np.ndarray]


def stack_features(features: Features, keys: Sequence[str]) -> np.ndarray:
    """(N, sum of dims) float32, embeddings side by side in ``keys`` order."""
    return np.concatenate([np.asarray(features[k], dtype=np.float32) for k in keys], axis=1)


@dataclass
class MemberFit:
    """What ``fit_members`` returns: the trained members and, with validation rows, their MAE per epoch."""

    net: object  # StackedNet
    val_mae: np.ndarray  # (epochs run, M); empty without validation rows
    epochs: int  # epochs trained
    best_val_pred: np.ndarray | None = None  # (M, Nv, 40) at the epoch with the lowest mean validation MAE; rows
    # outside a member's validation rows are 0


def fit_members(x: np.ndarray, y: np.ndarray, weights: np.ndarray, input_dims: dict[str, int], kind: str,
                head: HeadConfig, trainer: TrainerConfig, *, x_val: np.ndarray | None = None,
                y_val: np.ndarray | None = None, val_weights: np.ndarray | None = None, callbacks: Sequence = (),
                early_stopping: bool = False, seed: int | None = None) -> MemberFit:
    """Train M = len(weights) members of the study's network together, for ``head.max_epochs`` epochs.

    x (N, D), y (N, 40) unit scale; weights (M, N): member m's weight of each row (0 = not in its training).
    With validation rows (x_val, y_val, val_weights (M, Nv)) every epoch logs ``val/mae_unit``, the mean over
    members; ``early_stopping`` stops once it has not improved for ``head.patience`` epochs."""
    import lightning.pytorch as pl
    import torch

    from lightning_eq.models.head import EpochBatches, EqHead, Once
    from lightning_eq.models.net import StackedNet

    seed = trainer.seed if seed is None else seed
    pl.seed_everything(seed, workers=True, verbose=False)
    if trainer.num_threads:
        torch.set_num_threads(trainer.num_threads)
    w = torch.from_numpy(np.asarray(weights, dtype=np.float32))
    xt = torch.from_numpy(np.asarray(x, dtype=np.float32))
    net = StackedNet(len(w), input_dims, head.hidden_sizes, head.dropout, kind, head.attention_dim, head.input_dropout)
    if head.standardize:
        net.standardize_from(xt, (w > 0).float())
    val = None
    if x_val is not None:
        val = (torch.from_numpy(np.asarray(x_val, dtype=np.float32)), torch.from_numpy(np.asarray(y_val, dtype=np.float32)),
               torch.from_numpy(np.asarray(val_weights, dtype=np.float32)))
    settings = head.model_dump() if hasattr(head, "model_dump") else dict(vars(head))
    module = EqHead(net, xt, torch.from_numpy(np.asarray(y, dtype=np.float32)), settings, *(val or (None, None, None)))
    batches = EpochBatches(w, head.batch_size, seed)
    module.steps_per_epoch = batches.steps
    extra = list(callbacks)
    if early_stopping and val is not None:
        extra.append(pl.callbacks.EarlyStopping("val/mae_unit", patience=head.patience, mode="min"))
    fit = pl.Trainer(
        max_epochs=head.max_epochs, accelerator=trainer.accelerator, devices=trainer.devices, logger=False,
        callbacks=extra, enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
        num_sanity_val_steps=0, deterministic=True,
    )
    with warnings.catch_warnings():
        # In-memory index batches on the device; Lightning's DataLoader hints (workers, batch size) do not apply.
        warnings.filterwarnings("ignore", message=".*(num_workers|does not have many workers|batch_size|no `val_dataloader`|LeafSpec|isinstance).*")
        fit.fit(module, batches, Once() if val is not None else None)
    history = torch.stack(module.val_history).numpy() if module.val_history else np.zeros((0, len(w)))
    best = None
    if module.best_val_pred is not None:  # back from each member's own rows to (M, Nv, 40)
        best = np.zeros((len(w), len(val[0]), y.shape[1]))
        rows, pred = module.val_rows.cpu().numpy(), module.best_val_pred.numpy()
        for m in range(len(w)):
            keep = module.val_weights[m].cpu().numpy() > 0
            best[m, rows[m][keep]] = pred[m][keep]
    return MemberFit(net.cpu().eval(), history, fit.current_epoch, best)


def _layer_norm(x: np.ndarray, eps: float = 1e-5) -> np.ndarray:
    mean = x.mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(x.var(axis=-1, keepdims=True) + eps)


def forward(weights: dict[str, np.ndarray], dims: dict[str, int], kind: str, x: np.ndarray) -> np.ndarray:
    """``StackedNet``'s forward pass in eval mode, member 0, in numpy: x (N, sum of dims) -> (N, 40) unit scale."""
    w = {k: v[0] for k, v in weights.items()}  # member 0; keys as in StackedNet.state_dict()
    h = (x - w["feature_mean"][0]) / w["feature_std"][0]
    if kind == "attention":
        parts = np.split(h, np.cumsum(list(dims.values()))[:-1], axis=-1)
        projected = []
        for i, e in enumerate(parts):
            e = _layer_norm(e) * w[f"encoder.norm_weight.{i}"][0] + w[f"encoder.norm_bias.{i}"][0]
            projected.append(np.tanh(e @ w[f"encoder.projections.{i}.weight"] + w[f"encoder.projections.{i}.bias"][0]))
        stacked = np.stack(projected, axis=1)  # (N, E, A)
        logits = (stacked * w["encoder.score"][0]).sum(-1)
        logits -= logits.max(axis=1, keepdims=True)
        attention = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
        h = (attention[..., None] * stacked).sum(axis=1)
    layer = 0
    while f"hidden.{layer}.weight" in w:
        h = np.maximum(h @ w[f"hidden.{layer}.weight"] + w[f"hidden.{layer}.bias"][0], 0.0)
        layer += 1
    out = h @ w["output.weight"] + w["output.bias"][0]
    return 0.5 * (1.0 + np.tanh(0.5 * out))  # the sigmoid, without overflow warnings for large negative outputs


@dataclass
class NeuralModel:
    """A head (one embedder), ``ensemble`` (several side by side) or ``attention`` model."""

    key: str
    embedder_keys: tuple[str, ...]
    kind: str
    head: Any  # HeadConfig
    trainer: Any = None  # TrainerConfig
    weights: dict[str, np.ndarray] = field(default_factory=dict, repr=False)  # StackedNet's state, one member
    dims: dict[str, int] = field(default_factory=dict)

    def input_dims(self, features: Features) -> dict[str, int]:
        return {k: int(np.asarray(features[k]).shape[1]) for k in self.embedder_keys}

    def fit(self, features: Features, curves_unit: np.ndarray, words: Sequence[str] = (), weights: np.ndarray | None = None,
            callbacks: Sequence = ()) -> None:
        """Train one member for ``head.max_epochs`` epochs on every row (weighted by ``weights``)."""
        n = len(curves_unit)
        w = np.ones((1, n), dtype=np.float32) if weights is None else np.asarray(weights, dtype=np.float32)[None, :]
        self.dims = self.input_dims(features)
        fit = fit_members(stack_features(features, self.embedder_keys), curves_unit, w, self.dims,
                          self.kind, self.head, self.trainer, callbacks=callbacks)
        self.weights = {k: v.detach().cpu().numpy().astype(np.float64) for k, v in fit.net.state_dict().items()}

    def predict(self, features: Features, n: int | None = None) -> np.ndarray:
        """(N, 40) unit-scale curves."""
        return forward(self.weights, self.dims, self.kind, stack_features(features, self.embedder_keys).astype(np.float64))

    def torch_net(self):
        """The fitted network as a torch ``StackedNet`` (one member)."""
        import torch

        from lightning_eq.models.net import StackedNet

        net = StackedNet(1, self.dims, self.head.hidden_sizes, self.head.dropout, self.kind, self.head.attention_dim,
                         self.head.input_dropout)
        net.load_state_dict({k: torch.from_numpy(v.astype(np.float32)) for k, v in self.weights.items()})
        return net.eval()
