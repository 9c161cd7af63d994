"""Text -> EqCurve with trained models: identify the description's language, route it to a model that handles
that language, embed it the way that model was trained, run the model, say how sure it is.

Routes: ``en`` (English descriptions) and ``multi`` (Spanish, mixed or unknown ones: a multilingual model); or one
route, ``all``, when the champion is multilingual (or ``en`` for one English model asked for by key): with one
model there is nothing to route, it answers everything. A phrase that is one of a route's training words gets
that word's stored curve (its records' mean shrunk toward the model's out-of-fold prediction by how many records
it has: one rater does not override the model); any other phrase the model's prediction. Inference imports
neither Lightning nor the training code: neural models predict with their numpy weights (torch loads only to
embed a new phrase with a transformer model).
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from lightning_eq.curves import EqCurve, unit_to_z
from lightning_eq.describe import describe, function_word_votes, function_words, parse_description
from lightning_eq.embeddings.base import clean_texts
from lightning_eq.errors import LightningEqError
from lightning_eq.models.store import DEFAULT_MODELS_DIR, StoredModel, load_model

DEFAULT_TRACKING_URI = "sqlite:///mlruns/mlflow.db"  # lightning_eq.tracking's, without importing mlflow


class Route:
    """One stored model with its embedders (whose pretrained weights load only on a cache miss)."""

    def __init__(self, stored: StoredModel, cache_dir: str | Path | None = None):
        from lightning_eq.embeddings import build_embedder

        from lightning_eq.language import Vocabulary

        self.stored = stored
        self.key = stored.key
        self.embedders = {k: build_embedder(k, stored.config.embedders, cache_dir) for k in stored.embedder_keys}
        self.vocabulary = Vocabulary(stored.words)
        # A known training word's curve (its records shrunk toward the model's out-of-fold prediction), z scale.
        self.known = {Vocabulary.key(w): unit_to_z(c) for w, c in (stored.known or {}).items()}

    def features(self, phrases: Sequence[str]) -> dict[str, np.ndarray]:
        texts = clean_texts(phrases)
        return {k: e.embed(texts) for k, e in self.embedders.items()}

    def predict_z(self, phrases: Sequence[str]) -> tuple[np.ndarray, np.ndarray | None]:
        """((N, 40) z-scale curves, (N,) confidence or None when the model has no coverage). A phrase that is one of
        the route's training words (as ``describe`` matched it) gets its stored curve, any other the model's."""
        features = self.features(phrases)
        curves = unit_to_z(self.stored.model.predict(features, len(phrases)))
        for i, phrase in enumerate(phrases):
            known = self.known.get(self.vocabulary.match(phrase))  # as typed, or with its accents folded
            if known is not None:
                curves[i] = known
        coverage = getattr(self.stored, "coverage", None)
        return curves, None if coverage is None else np.asarray(coverage.score(features), dtype=float)

    def warm_up(self) -> None:
        for cached in self.embedders.values():
            cached.embedder.embed(["warm"])  # past the cache on purpose: loads the model, writes nothing


class Predictor:
    """Routes each description to a model by its language; see the module docstring."""

    def __init__(self, routes: dict[str, StoredModel], cache_dir: str | Path | None = None):
        if not routes:
            raise LightningEqError("No model to predict with; train one with `lightning-eq run`.")
        self.routes = {name: Route(stored, cache_dir) for name, stored in routes.items()}
        self.primary = self.routes.get("en") or next(iter(self.routes.values()))
        self.key = self.primary.key
        self.routed = "en" in self.routes and "multi" in self.routes
        # The training words of each route, once: language() looks every phrase up in them.
        self.english_words = self.routes["en"].vocabulary.words if self.routed else frozenset()
        self.other_only = self.routes["multi"].vocabulary.words - self.english_words if self.routed else frozenset()

    @property
    def routes_keys(self) -> dict[str, str]:
        """{route: model key}."""
        return {name: route.key for name, route in self.routes.items()}

    @property
    def model_keys(self) -> list[str]:
        """The keys of the models that may answer, the primary one first."""
        return list(dict.fromkeys([self.key, *self.routes_keys.values()]))

    def warm_up(self) -> None:
        """Load every embedder's weights (and the language identifier) now, so a first request does not wait."""
        for route in self.routes.values():
            route.warm_up()
        if len(self.routes) > 1:
            self.language("warm")

    def language(self, text: str, terms: Sequence | None = None) -> str | None:
        """"en", "es" or None (mixed or unknown). Descriptions made only of words one route trained on (and the
        other did not), with no intensity or opposite word of the other language ("un poco más brillante" is not
        English although "brillante" is an English training word), are that route's language without asking the
        identifier, whose dictionaries take a second to load; anything else goes to ``language.identify``.
        ``terms``: ``text`` already parsed."""
        from lightning_eq.language import identify

        if self.routed:
            other = self.routes["multi"].vocabulary
            terms = parse_description(text) if terms is None else terms
            phrases = [t.phrase for t in terms]
            english, spanish = function_word_votes(function_words(text, terms))
            only_other = [other.match(p) in self.other_only for p in phrases]
            if not spanish and all(p in self.english_words for p in phrases) and not any(only_other):
                return "en"
            if not english and all(only_other):
                return "es"
        return identify(text)

    def route_for(self, language: str | None) -> Route:
        if len(self.routes) == 1:
            return self.primary
        return self.routes["en"] if language == "en" and "en" in self.routes else self.routes.get("multi", self.primary)

    def predict(self, texts: Sequence[str]) -> list[EqCurve]:
        """One z-scale EqCurve per description, with its language, the model that answered and its confidence.

        Descriptions go through ``describe``: several descriptors, intensity words and "less X" are handled
        there; a plain word or phrase gets the model's own curve."""
        if isinstance(texts, str):
            texts = [texts]
        out = []
        for text in texts:
            terms = parse_description(text)
            language = self.language(text, terms)
            route = self.route_for(language)
            confidences: list = []

            def predict_z(phrases: list[str]) -> np.ndarray:
                curves, confidence = route.predict_z(phrases)
                confidences.append(confidence)
                return curves

            curve = describe(text, predict_z, route.key, route.vocabulary, terms)
            confidence = _combine(terms, confidences[0]) if confidences and confidences[0] is not None else None
            out.append(EqCurve(curve.values, "z", model=route.key, text=text, amount=curve.amount,
                               confidence=confidence, language=language))
        return out


def _combine(terms, confidences: np.ndarray) -> float:
    """A description's confidence from its clauses' (see ``models.confidence.combine_clauses``)."""
    from lightning_eq.models.confidence import combine_clauses

    return combine_clauses(confidences, [t.weight for t in terms])


def load_predictor(model: str | None = None, models_dir: str | Path = DEFAULT_MODELS_DIR,
                   cache_dir: str | Path | None = None, tracking_uri: str | None = DEFAULT_TRACKING_URI) -> Predictor:
    """The trained model ``model`` from ``models_dir``; by default the registry's ``lightning-eq@champion`` when
    ``tracking_uri`` has one (``lightning-eq promote``), else the best model of the last run in ``models_dir``."""
    if model is None and tracking_uri:
        from lightning_eq.tracking.champion import load_champion

        routes = load_champion(tracking_uri)
        if routes is not None:
            return Predictor(routes, cache_dir)
    stored = load_model(models_dir, model)
    return Predictor({"en" if stored.config.data.language == "English" else "all": stored}, cache_dir)


def predict_curves(texts: Sequence[str], model: str | None = None, models_dir: str | Path = DEFAULT_MODELS_DIR,
                   cache_dir: str | Path | None = None, tracking_uri: str | None = DEFAULT_TRACKING_URI) -> list[EqCurve]:
    """Convenience: load a predictor (the champion by default, see ``load_predictor``) and predict z-scale curves."""
    if not texts:
        raise LightningEqError("Expected at least one description, such as 'warm' or 'bright and airy'.")
    return load_predictor(model, models_dir, cache_dir, tracking_uri).predict(list(texts))
