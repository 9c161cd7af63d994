"""The nested estimate of the whole procedure: what `lightning-eq run` gives you on words it never saw.

Inside each outer fold, `run` has already done what it does over all words: every model's study on the fold's
training words. The champion is then chosen from those fold studies by the same rule as the real one
(``search.selection.route_models``: the lowest objective over the English validation records; a multilingual
champion answers every language, otherwise the multilingual model with the lowest objective answers the others).
The chosen models' refits (already made and scored by ``search.selection.score_fold``) answer the fold's test
words, each record by its language: nothing is refitted and no test word takes part in the choice. ``default``
applies the rule to every study's trial 0 (``run`` without a search), ``swept`` to the best trials.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Collection, Sequence

import numpy as np

from lightning_eq.search.selection import FoldOutcome, Routes, route_models, scores_of

PROCEDURE = "procedure"  # the model key of the procedure's rows (reports, predictions.json)
LABELS = ("default", "swept")


@dataclass
class ProcedureFold:
    """One outer fold of the procedure: its scored outcome and, per label, which models answered."""

    outcome: FoldOutcome
    routes: dict[str, Routes] = field(default_factory=dict)  # "default"/"swept" -> Routes

    def chosen(self, label: str = "swept") -> str:
        """"gpt", or "gpt + e5" when a second model answers the other languages."""
        r = self.routes[label]
        return r.champion + (f" + {r.multilingual}" if r.multilingual else "")


def _other_answerer(routes: Routes, multilingual: Collection[str]) -> str | None:
    """The model that answers the records in other languages: the champion when it is multilingual."""
    return routes.champion if routes.champion in multilingual else routes.multilingual


def _answers(outcomes: dict[str, FoldOutcome], routes: Routes, label: str, test, multilingual: Collection[str]) -> np.ndarray:
    """(len(test), 40): each test record answered by the route of its language, from that model's fold refit."""
    other = _other_answerer(routes, multilingual)
    where = {k: {r: i for i, r in enumerate(outcomes[k].test.ids)} for k in {routes.champion, other} - {None}}
    pred = np.zeros((len(test), 40))
    for i, (record, lang) in enumerate(zip(test.ids, test.langs)):
        key = routes.champion if lang == "en" else other
        pred[i] = outcomes[key].predictions[label][where[key][record]]
    return pred


def _test_rows(outcomes: dict[str, FoldOutcome], multilingual: Collection[str]):
    """The fold's test rows the procedure answers: a multilingual model's (English and Spanish test words of the
    bilingual folds) when there is one, else the English test rows."""
    for key in multilingual:
        if key in outcomes:
            return outcomes[key].test
    test = next(iter(outcomes.values())).test
    return test.take(np.flatnonzero(np.array(test.langs) == "en"))


def procedure_fold(outcomes: Sequence[FoldOutcome], multilingual: Collection[str] | None = None) -> ProcedureFold:
    """The procedure on one outer fold, from every model's ``FoldOutcome`` of that fold (with predictions and test)."""
    from lightning_eq.models.catalog import multilingual_keys

    multilingual = multilingual_keys() if multilingual is None else tuple(multilingual)
    by_key = {o.key: o for o in outcomes}
    fold = outcomes[0].fold
    test = _test_rows(by_key, multilingual)
    routes, preds, scores, values = {}, {}, {}, {}
    for label in LABELS:
        routes[label] = route_models({k: o.candidate(label) for k, o in by_key.items()}, multilingual)
        preds[label] = _answers(by_key, routes[label], label, test, multilingual)
        scores[label] = scores_of(preds[label], test)
        values[label] = by_key[routes[label].champion].candidate(label)
    outcome = FoldOutcome(PROCEDURE, fold, f"{PROCEDURE}-fold{fold}", values["default"].english, values["swept"].english,
                          values["swept"].english_se, -1, scores["default"], scores["swept"],
                          {"champion": routes["swept"].champion, "multilingual": routes["swept"].multilingual},
                          preds, {}, values["default"].english_se,
                          {label: (values[label].english, values[label].english_se) for label in LABELS}, test)
    return ProcedureFold(outcome, routes)


def procedure_folds(outcomes: Sequence[FoldOutcome], multilingual: Collection[str] | None = None) -> list[ProcedureFold]:
    """``procedure_fold`` for each outer fold that every model's outcomes reach (a model's fold whose study has no
    English value, or no test rows, cannot take part)."""
    by_fold: dict[int, list[FoldOutcome]] = defaultdict(list)
    for o in outcomes:
        if o.test is not None and o.predictions and math.isfinite(o.english.get("swept", (math.nan,))[0]):
            by_fold[o.fold].append(o)
    return [procedure_fold(by_fold[k], multilingual) for k in sorted(by_fold)]


def chosen_line(folds: Sequence[ProcedureFold]) -> str:
    """One sentence: which model each outer fold's choice took (swept configurations)."""
    return ("The procedure chose, by the inner objective on each fold's training words: "
            + "; ".join(f"fold {p.outcome.fold} {p.chosen('swept')}" for p in folds) + ".")


def headline(folds: Sequence[ProcedureFold]) -> str:
    """The procedure's swept figures on the English test words (mean ± std over the outer folds), and on the Spanish
    test words where the folds hold them: the first thing `lightning-eq run` prints."""
    def figures(lang: str) -> str:
        def values(name: str) -> list[float]:  # test/en/* where the fold holds several languages, else test/*
            return [r.get(f"test/{lang}/{name}", r[f"test/{name}"] if lang == "en" else math.nan)
                    for r in (p.outcome.swept_test for p in folds)]

        mae, r, pos = values("mae_unit"), values("r_word"), values("r_word_pos")
        return (f"test MAE {np.mean(mae):.4f} ± {np.std(mae):.4f}, r word {np.mean(r):.2f} ± {np.std(r):.2f}, "
                f"words r>0 {np.mean(pos):.0%}")

    line = f"English test words: {figures('en')}"
    if all("test/es/mae_unit" in p.outcome.swept_test for p in folds):
        line += f"; Spanish test words: {figures('es')}"
    return f"{line}. {chosen_line(folds)}"
