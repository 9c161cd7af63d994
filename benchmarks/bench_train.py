"""Training time per fold per model (word-disjoint protocol, fold 0): selection fit plus the refit,
on the cached embeddings of the vocabulary, one torch thread."""

from __future__ import annotations

import logging
import time

from lightning_eq.config import MODEL_KEYS, Config
from lightning_eq.data.folds import word_folds
from lightning_eq.data.socialeq import load_hq_words, load_records
from lightning_eq.models.catalog import embedder_keys
from lightning_eq.pipeline import embed_words
from lightning_eq.training.evaluate import fit_selected, inner_split, take


def main() -> None:
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    cfg = Config()
    data, hq = load_records(), load_hq_words()
    keys = sorted({k for m in MODEL_KEYS for k in embedder_keys(m, cfg)})
    emb = embed_words(data.words, keys, cfg)
    split = word_folds(data, hq)[0]
    inner, val = inner_split(data, hq, split)
    print(f"{'model':<10} {'seconds per fold':>16}")
    for key in MODEL_KEYS:
        ks = embedder_keys(key, cfg)
        start = time.perf_counter()
        fit_selected(key, cfg, take(data, emb, split.train, ks), take(data, emb, inner, ks), take(data, emb, val, ks))
        print(f"{key:<10} {time.perf_counter() - start:>16.2f}", flush=True)


if __name__ == "__main__":
    main()
