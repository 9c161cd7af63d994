"""Descriptions in Spanish, measured: per-word Pearson r of held-out words described in English and in
Spanish (data/translations/socialeq_es.tsv), for the multilingual e5 head and the English-only gpt head."""

from __future__ import annotations

import logging

from lightning_eq.config import Config
from lightning_eq.data.socialeq import load_hq_words, load_records
from lightning_eq.pipeline import embed_words
from lightning_eq.training.multilingual import all_texts, load_translations, score_translations


def main() -> None:
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    data, hq, cfg, translations = load_records(), load_hq_words(), Config(), load_translations()
    emb = embed_words(all_texts(data, translations), ["e5", "gpt"], cfg)
    print(f"{'model':<6} {'words':>5} {'r English':>9} {'r Spanish':>9} {'Spanish r>0':>11} {'r EN~ES':>7} {'r mean curve':>12}")
    for key in ("e5", "gpt"):
        s = score_translations(data, hq, emb, cfg, key, translations)
        print(f"{s.model:<6} {s.n_words:>5} {s.r_english:>9.2f} {s.r_translated:>9.2f} {s.pos_translated:>11.0%} "
              f"{s.r_between:>7.2f} {s.r_mean_curve:>12.2f}", flush=True)


if __name__ == "__main__":
    main()
