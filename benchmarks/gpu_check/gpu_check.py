"""The batched objective on a GPU against the CPU: one prepared script, under 8 minutes, that needs only torch,
lightning and numpy plus ``vectors.npz`` beside it (written by ``prepare.py``).

It runs the objective of the default gpt head (4 inner word-disjoint folds over every English word, trained at
once as 4 members of one LightningModule, the project's own ``fit_members``) several times on each device,
prints seconds per trial and trials per minute on each, the GPU's speed-up, and the largest difference between
the two devices' mean validation curves (the same training, so it should be small).

    python benchmarks/gpu_check/gpu_check.py [--repeats 5] [--members 4]
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))  # the repository, for lightning_eq.models (torch, lightning, numpy only)

HEAD = dict(hidden_sizes=[256, 128], dropout=0.2, optimizer="sgd", lr=0.1, momentum=0.9, weight_decay=0.0,
            scheduler="step", lr_step_updates=10000, lr_gamma=0.5, batch_size=32, max_epochs=60, patience=10,
            attention_dim=64, input_dropout=0.0, standardize=True)  # lightning_eq.config.HeadConfig's defaults


def folds(words: list[str], k: int) -> dict[str, int]:
    """lightning_eq.search.objective.inner_fold_of, repeated here so this script needs no pydantic."""
    return {w: int(hashlib.sha256(w.encode()).hexdigest(), 16) % k for w in set(words)}


def trial(x, y, record_words, k: int, accelerator: str) -> tuple[float, np.ndarray]:
    from lightning_eq.models.neural import fit_members

    fold_of = folds(list(record_words), k)
    fold = np.array([fold_of[w] for w in record_words])
    weights = np.stack([(fold != i).astype(np.float32) for i in range(k)])
    val_weights = np.stack([(fold == i).astype(np.float32) for i in range(k)])
    trainer = SimpleNamespace(accelerator=accelerator, devices=1, seed=0, num_threads=1 if accelerator == "cpu" else 0)
    start = time.perf_counter()
    fit = fit_members(x, y, weights, {"gpt": x.shape[1]}, "head", SimpleNamespace(**HEAD), trainer, x_val=x, y_val=y,
                      val_weights=val_weights, early_stopping=True)
    return time.perf_counter() - start, fit.val_mae.mean(axis=1)


def main() -> None:
    import logging

    import torch

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--members", type=int, default=4, help="inner folds trained at once")
    args = parser.parse_args()
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    data = np.load(HERE / "vectors.npz")
    index = {w: i for i, w in enumerate(data["words"])}
    x = data["gpt"].astype(np.float32)[[index[w] for w in data["record_words"]]]
    y, words = data["curves_unit"], list(data["record_words"])
    devices = ["cpu"] + (["gpu"] if torch.cuda.is_available() else [])
    print(f"{len(words)} records, {x.shape[1]}-d; {args.members} inner folds per trial; devices: {devices}; "
          f"{torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'no GPU'}")
    curves, medians = {}, {}
    for device in devices:
        trial(x, y, words, args.members, device)  # warm-up: kernels, allocator
        times = []
        for _ in range(args.repeats):
            seconds, curves[device] = trial(x, y, words, args.members, device)
            times.append(seconds)
        medians[device] = statistics.median(times)
        print(f"{device}: median {medians[device]:.2f} s per trial (min {min(times):.2f}, max {max(times):.2f}) = "
              f"{60 / medians[device]:.1f} trials per minute", flush=True)
    if "gpu" in medians:
        n = min(len(curves["cpu"]), len(curves["gpu"]))
        print(f"GPU speed-up: {medians['cpu'] / medians['gpu']:.1f}x; largest difference between the devices' mean "
              f"validation MAE per epoch: {np.abs(curves['cpu'][:n] - curves['gpu'][:n]).max():.4f}")


if __name__ == "__main__":
    main()
