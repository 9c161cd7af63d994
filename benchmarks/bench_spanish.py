"""Spanish, measured: each multilingual model (``catalog.multilingual_keys()``: the heads of the embedders the
registry flags multilingual) on the bilingual word-disjoint folds (the English HQ/HR test words plus every Spanish
word, each tested once), per test language, against the flat curve and the English and Spanish mean curves of
each fold's training records; its default sentences around a description against the bare text; and language
identification (accuracy on the training descriptors, warm latency per description).

Each Spanish test word has one rater: r per word is r against a single record there. Goal (issue 9): Spanish
r word >= 0.30, the Spanish mean curve the bar to beat.
"""

from __future__ import annotations

import logging
import statistics
import time

import numpy as np

from lightning_eq.config import Config, merge
from lightning_eq.data.socialeq import load_hq_words, load_records
from lightning_eq.models.catalog import multilingual_keys
from lightning_eq.embeddings.vectors import Vectors
from lightning_eq.search.selection import predict, scores_of
from lightning_eq.search.space import default_config
from lightning_eq.training.evaluate import fit_resolved, language_baselines, outer_parts



def bare(key: str, cfg: Config) -> dict:
    """The settings of embedder ``key`` that place a description in a sentence ("... {text} ..."), set to "{text}"."""
    settings = getattr(cfg.embedders, key).model_dump()
    return {f"embedders.{key}.{name}": "{text}" for name, value in settings.items()
            if isinstance(value, str) and "{text}" in value and value != "{text}"}


def cell(values: list[float], percent: bool = False) -> str:
    if percent:
        return f"{np.mean(values):.0%}"
    return f"{np.mean(values):5.2f} ± {np.std(values):.2f}"


def main() -> None:
    logging.getLogger("lightning_eq").setLevel(logging.WARNING)
    data, hq = load_records(language="all"), load_hq_words()
    vectors = Vectors(data.words)
    variants = []
    for key in multilingual_keys():
        base = default_config(key, Config())
        variants.append((key, f"{key}, default (sentences)", base))
        if bare(key, base):
            variants.append((key, f"{key}, bare text", merge(base, bare(key, base))))
    rows: dict[str, dict[str, list[float]]] = {}
    for fold in range(4):
        for name, metrics in language_baselines(data, hq, fold).items():
            for k, v in metrics.items():
                rows.setdefault(name, {}).setdefault(k, []).append(v)
        for key, name, cfg in variants:
            train, test = outer_parts(data, hq, cfg, fold)
            fitted = fit_resolved(key, cfg, train, vectors)
            for k, v in scores_of(predict(fitted.model, key, fitted.config, test, vectors), test).items():
                rows.setdefault(name, {}).setdefault(k, []).append(v)
    print("bilingual word-disjoint 4-fold CV; mean ± std over folds")
    print(f"{'':<26} {'r word ES':>12} {'ES r>0':>7} {'r word EN':>12} {'EN r>0':>7} {'MAE ES':>7}")
    for name, m in rows.items():
        print(f"{name:<26} {cell(m['test/es/r_word']):>12} {cell(m['test/es/r_word_pos'], True):>7} "
              f"{cell(m['test/en/r_word']):>12} {cell(m['test/en/r_word_pos'], True):>7} {np.mean(m['test/es/mae_unit']):7.4f}",
              flush=True)

    from lightning_eq.language import identify, preload

    start = time.perf_counter()
    preload()
    print(f"\nlanguage identification: loading {time.perf_counter() - start:.2f} s")
    for lang, words in (("en", [r.descriptor for r in data.records if r.lang == "English"]),
                        ("es", [r.descriptor for r in data.records if r.lang != "English"])):
        answers = [identify(w) for w in sorted(set(words))]
        print(f"  {lang} training descriptors: {answers.count(lang) / len(answers):.0%} right, "
              f"{answers.count(None) / len(answers):.0%} unknown (to the multilingual model), {len(answers)} words")
    phrases = [f"un poco más {w}" for w in ("cálido", "brillante", "oscuro")] + ["less boomy, more presence", "very warm"]
    times = []
    for i in range(200):
        text = f"{phrases[i % len(phrases)]} {i}"
        start = time.perf_counter()
        identify(text)
        times.append(1e6 * (time.perf_counter() - start))
    print(f"  warm latency per new description: median {statistics.median(times):.0f} µs, max {max(times):.0f} µs")


if __name__ == "__main__":
    main()
