"""Summaries of an evaluation: mean and spread over folds or seeds, as JSON and a Markdown table."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lightning_eq.config import flatten

COLUMNS = (  # (metric key, header, format)
    ("train/mae_unit", "train MAE", "{:.4f}"),
    ("test/mae_unit", "test MAE", "{:.4f}"),
    ("test/mape_unit", "test MAPE %", "{:.1f}"),
    ("test/word_mae_unit", "word MAE", "{:.4f}"),
    ("test/r_record", "r record", "{:.2f}"),
    ("test/r_word", "r word", "{:.2f}"),
    ("test/r_word_pos", "words r>0", "{:.0%}"),
)
PROTOCOL_TITLES = {"words": "Word-disjoint 4-fold cross-validation (HQ/HR test words)", "random": "Random 80/20 split of records"}


def summarise(results: list[dict]) -> list[dict]:
    """One row per (protocol, model): mean and std of every metric over its splits."""
    groups: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for r in results:
        groups[(r["protocol"], r["model"])].append(r)
    rows = []
    for (protocol, model), runs in groups.items():
        metrics = [k for k in runs[0] if "/" in k]
        row = {"protocol": protocol, "model": model, "n_splits": len(runs)}
        for k in metrics:
            values = np.array([r[k] for r in runs], dtype=float)
            row[k] = float(values.mean())
            row[f"{k}_std"] = float(values.std())
        rows.append(row)
    return rows


def best_model(summary: list[dict], candidates: list[str], protocol: str = "words", metric: str = "test/mae_unit") -> str:
    """The candidate with the lowest mean ``metric`` under ``protocol``."""
    rows = [r for r in summary if r["protocol"] == protocol and r["model"] in candidates]
    return min(rows, key=lambda r: r[metric])["model"]


def markdown(summary: list[dict], descriptions: dict[str, str] | None = None) -> str:
    """Tables per protocol, sorted by test MAE; cells are mean ± std over folds or seeds."""
    out = []
    for protocol, title in PROTOCOL_TITLES.items():
        rows = sorted((r for r in summary if r["protocol"] == protocol), key=lambda r: r["test/mae_unit"])
        if not rows:
            continue
        columns = [c for c in COLUMNS if c[0] in rows[0]]  # a rescored predictions file has no train/* figures
        out += [f"### {title}", "", "| model | " + " | ".join(h for _, h, _ in columns) + " |",
                "|---|" + "---:|" * len(columns)]
        for r in rows:
            cells = []
            for key, _, fmt in columns:
                cell = fmt.format(r[key])
                if r["n_splits"] > 1 and not fmt.endswith("%}"):
                    cell += " ± " + fmt.format(r[f"{key}_std"])
                cells.append(cell)
            name = r["model"] + (f" ({descriptions[r['model']]})" if descriptions else "")
            out.append(f"| {name} | " + " | ".join(cells) + " |")
        out.append("")
    return "\n".join(out)


def write_reports(out_dir: str | Path, results: list[dict], summary: list[dict], meta: dict, table: str) -> tuple[Path, Path]:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out_dir / "evaluation.json", out_dir / "evaluation.md"
    json_path.write_text(json.dumps({"meta": meta, "summary": summary, "results": results}, indent=1) + "\n")
    md_path.write_text(f"# lightning-eq evaluation\n\n{table}\n")
    return json_path, md_path


PROCEDURE_LABEL = "**procedure** (what `lightning-eq run` gives you: each fold's champion chosen by the inner objective)"


def nested_table(outcomes: list, descriptions: dict[str, str] | None = None) -> str:
    """Markdown: per model, the nested test scores of the default and of the swept configuration on the English
    test words, mean ± std over the outer folds (each fold's study searched inside its training words; test words
    scored once). The ``procedure`` row (``training.procedure``) comes first; the models follow by swept MAE."""
    by_model: dict[str, list] = defaultdict(list)
    for o in outcomes:
        by_model[o.key].append(o)
    metrics = (("test/mae_unit", "test MAE", "{:.4f}"), ("test/r_word", "r word", "{:.2f}"), ("test/r_word_pos", "words r>0", "{:.0%}"))
    header = " | ".join(f"{h} default | {h} swept" for _, h, _ in metrics)
    lines = [f"| model | folds | {header} | swept − default MAE |", "|---|---:|" + "---:|" * (2 * len(metrics) + 1)]

    def cell(values: list[float], fmt: str) -> str:
        text = fmt.format(np.mean(values))
        return text + (f" ± {fmt.format(np.std(values))}" if len(values) > 1 and not fmt.endswith("%}") else "")

    def english(test: dict, name: str) -> float:  # a multilingual model's English test words, to compare like with like
        return test.get(name.replace("test/", "test/en/"), test[name])

    order = sorted(by_model, key=lambda k: (k != "procedure", np.mean([english(o.swept_test, "test/mae_unit") for o in by_model[k]])))
    for key in order:
        runs = by_model[key]
        cells = []
        for name, _, fmt in metrics:
            cells += [cell([english(o.default_test, name) for o in runs], fmt), cell([english(o.swept_test, name) for o in runs], fmt)]
        diff = [english(o.swept_test, "test/mae_unit") - english(o.default_test, "test/mae_unit") for o in runs]
        label = key + (f" ({descriptions[key]})" if descriptions and key in descriptions else "")
        if key == "procedure":
            label = PROCEDURE_LABEL
        elif "test/en/mae_unit" in runs[0].swept_test:
            label += ", trained on English and Spanish"
        lines.append(f"| {label} | {len(runs)} | " + " | ".join(cells) + f" | {np.mean(diff):+.4f} ± {np.std(diff):.4f} |")
    return "\n".join(lines)


@dataclass
class _Scored:
    key: str
    default_test: dict
    swept_test: dict


def nested_rescored(results: list[dict], descriptions: dict[str, str] | None = None) -> str:
    """``nested_table`` of the ``nested`` rows of ``training.evaluate.rescore``'s output (a predictions file
    rescored): the report's nested table, recomputed from the predictions and the data alone."""
    scores = {(r["model"], r["split"], r["config"]): {k: v for k, v in r.items() if k.startswith("test/")}
              for r in results if r["protocol"] == "nested"}
    splits = sorted({(m, s) for m, s, _ in scores})
    return nested_table([_Scored(m, scores.get((m, s, "default"), scores[(m, s, "swept")]), scores[(m, s, "swept")])
                         for m, s in splits], descriptions)


def study_table(rows: list[dict]) -> str:
    """Markdown: one row per study: trials, the objective of trial 0 (default) and of the best trial, ± s.e."""
    lines = ["| study | trials (complete, pruned, failed) | default: CV MAE | best: CV MAE | best trial | best − default |",
             "|---|---|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['study']} | {r['complete'] + r['pruned']} ({r['complete']}, {r['pruned']}, {r['failed']}) | "
                     f"{r['default_value']:.4f} ± {r['default_se']:.4f} | {r['best_value']:.4f} ± {r['best_se']:.4f} | "
                     f"{r['best_trial']} | {r['best_value'] - r['default_value']:+.4f} |")
    lines += ["", "CV MAE: the objective, mean validation MAE over the inner word-disjoint folds of the study's training "
              "words, ± its standard error over folds. A difference smaller than the standard errors is noise."]
    return "\n".join(lines)


def _setting(value) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_setting(v) for v in value) + "]"
    return f'"{value}"' if isinstance(value, str) else str(value)


RUNTIME = ("sweep.", "trainer.")  # how a study ran (budget, devices), not what the model is


def changes(default_config: dict | None, best_config: dict) -> dict[str, tuple]:
    """{dotted field: (default value, best value)} for each resolved model setting the best trial changed."""
    if not default_config:
        return {}
    before, after = flatten(default_config), flatten(best_config)
    return {k: (before.get(k), v) for k, v in after.items() if before.get(k) != v and not k.startswith(RUNTIME)}


def choices_table(rows: list[dict]) -> str:
    """Markdown: per study, what its best trial changed from the default (trial 0), in resolved settings."""
    lines = ["| study | CV MAE default → best | what the best trial changed (default → chosen) |", "|---|---:|---|"]
    for r in rows:
        changed = changes(r.get("default_config"), r["best_config"])
        what = "; ".join(f"{k} {_setting(a)} → {_setting(b)}" for k, (a, b) in changed.items()) or "nothing: the default won"
        lines.append(f"| {r['study']} | {r['default_value']:.4f} → {r['best_value']:.4f} ± {r['best_se']:.4f} | {what} |")
    lines += ["", "head.max_epochs, baseline.ridge_alpha and baseline.knn_k are what the inner folds chose for the refit."]
    return "\n".join(lines)


def language_table(outcomes: list, baselines: list[dict[str, dict[str, float]]]) -> str:
    """Markdown: the multilingual model's nested test scores per test language (default and swept configuration)
    beside the reference curves of the same folds (``training.evaluate.language_baselines``), mean ± std over folds."""
    rows: dict[str, list[dict]] = defaultdict(list)
    for o in outcomes:
        name = "procedure (each fold's routes)" if o.key == "procedure" else o.key
        rows[f"{name}, default configuration"].append(o.default_test)
        rows[f"{name}, swept configuration"].append(o.swept_test)
    for per_fold in baselines:
        for name, metrics in per_fold.items():
            rows[f"{name} curve"].append(metrics)

    def cell(runs: list[dict], key: str, percent: bool = False) -> str:
        values = [r[key] for r in runs if key in r]
        if not values:
            return "–"
        return f"{np.mean(values):.0%}" if percent else f"{np.mean(values):.2f} ± {np.std(values):.2f}"

    lines = ["| model | Spanish r word | Spanish words r>0 | English r word | English words r>0 |", "|---|---:|---:|---:|---:|"]
    for name, runs in rows.items():
        lines.append(f"| {name} | {cell(runs, 'test/es/r_word')} | {cell(runs, 'test/es/r_word_pos', True)} | "
                     f"{cell(runs, 'test/en/r_word')} | {cell(runs, 'test/en/r_word_pos', True)} |")
    lines += ["", "Bilingual word-disjoint folds: the English HQ/HR test words and every Spanish word, each tested once. "
              "Each Spanish test word has a single rater, so its r is against one record."]
    return "\n".join(lines)


def routing_table(routed: dict[str, list[dict]], champion: str, multilingual: str | None = None) -> str:
    """Markdown: the champion's nested English figures alone and behind the language router."""
    lines = ["| English test words | test MAE | r word | words r>0 |", "|---|---:|---:|---:|"]
    for name in ("champion alone", "routed"):
        runs = routed[name]
        mae, r, pos = ([m[k] for m in runs] for k in ("test/mae_unit", "test/r_word", "test/r_word_pos"))
        lines.append(f"| {champion}, {name} | {np.mean(mae):.4f} ± {np.std(mae):.4f} | {np.mean(r):.2f} ± {np.std(r):.2f} | "
                     f"{np.mean(pos):.0%} |")
    share = np.mean([m["test/share"] for m in routed["routed away"]])
    lines += ["", f"Routed: a test word identified as English goes to {champion}, any other to the multilingual model"
              f"{f' ({multilingual})' if multilingual else ''} ({share:.0%} of the English test words did)."]
    return "\n".join(lines)
