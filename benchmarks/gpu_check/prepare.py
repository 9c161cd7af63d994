"""Write ``vectors.npz`` beside this file: what ``gpu_check.py`` needs to run the batched objective on a machine
with only torch, lightning and numpy (no network, no optuna, no mlflow).

It holds the English records' descriptors and unit-scale curves and the default gpt embedding (SmolLM2-135M,
middle layer, "The sound is {text}.", mean pooling) of every word, as float16: about 0.5 MB. Run it here
(`make gpu-check` does, then runs the check), then copy the folder with the repository to the GPU machine.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lightning_eq.config import Config
from lightning_eq.data.socialeq import load_records
from lightning_eq.data.table import Table
from lightning_eq.embeddings.vectors import Vectors

HERE = Path(__file__).resolve().parent


def main() -> Path:
    data = load_records()
    table = Table.from_records(data.records)
    vectors = Vectors(data.words)
    gpt = vectors.matrix("gpt", Config().embedders)
    out = HERE / "vectors.npz"
    np.savez_compressed(out, words=np.array(vectors.texts), gpt=gpt.astype(np.float16),
                        record_words=np.array(table.words), curves_unit=table.curves_unit.astype(np.float32))
    print(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB): {len(vectors.texts)} words, {len(table)} records")
    return out


if __name__ == "__main__":
    main()
