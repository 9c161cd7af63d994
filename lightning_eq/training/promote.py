"""Promote: choose the routes (``search.selection.choose_routes``), refit them on all the data from their stored
configurations, fit each one's confidence, and register them as ``lightning-eq@champion`` (``tracking.registry``).

Routes: ``{"en": champion, "multi": multilingual model}``, or ``{"all": champion}`` when the champion is
multilingual and answers every language itself."""

from __future__ import annotations

import logging
from typing import Collection

from lightning_eq.config import Config
from lightning_eq.data.socialeq import SocialEQ, load_records
from lightning_eq.embeddings.vectors import Vectors
from lightning_eq.models.store import StoredModel
from lightning_eq.search import DEFAULT_STORAGE
from lightning_eq.search.selection import Choice, choose_routes, refit
from lightning_eq.training.evaluate import fit_final, table_for

log = logging.getLogger(__name__)


def fit_confidence(key: str, cfg: Config, table, vectors: Vectors):
    """The model's confidence (``models.confidence``), fitted on its training words in its own embedding space;
    None for a model that reads no text (flat, mean)."""
    from lightning_eq.embeddings import embed_vocabulary
    from lightning_eq.models.catalog import embedder_keys
    from lightning_eq.models.confidence import fit_coverage

    keys = embedder_keys(key, cfg)
    if not keys:
        return None
    words = table.vocabulary
    return fit_coverage(vectors.features(cfg, keys, words), words,
                        embed=lambda texts: embed_vocabulary(keys, texts, cfg.embedders, vectors.cache_dir, progress=False))


def stored_model(key: str, cfg: Config, model, table, vectors: Vectors, metrics: dict | None = None,
                 known: dict | None = None) -> StoredModel:
    """A fitted model with its confidence and its training words' curves (``known``, else ``known_word_curves``)."""
    from lightning_eq.search.objective import known_word_curves

    if known is None:
        known = known_word_curves(key, cfg, table, vectors)
    return StoredModel(key, cfg, model, metrics or {}, fit_confidence(key, cfg, table, vectors), tuple(table.vocabulary),
                       known)


def refit_choice(choice: Choice, data: SocialEQ, vectors: Vectors) -> StoredModel:
    """The chosen configuration trained on every record of its language(s)."""
    table = table_for(data, choice.config)
    if choice.resolved:
        cfg, model = choice.config, refit(choice.key, choice.config, table, vectors)
    else:
        fitted = fit_final(choice.key, choice.config, table, vectors)
        cfg, model = fitted.config, fitted.model
    return stored_model(choice.key, cfg, model, table, vectors, {"cv/mae_unit": choice.value})


def promote(cfg: Config, *, model: str | None = None, storage: str | None = DEFAULT_STORAGE, tracking_uri: str,
            data: SocialEQ | None = None, vectors: Vectors | None = None, cache_dir: str | None = None,
            studies: Collection[str] | None = None):
    """Register the champion (and, unless it is multilingual, the multilingual model for the other languages) as one
    routing pyfunc; returns the Promotion.

    ``studies`` limits the choice to these ``all`` studies (default: the newest current one of each model)."""
    from lightning_eq.tracking.registry import register

    data = data or load_records(cfg.data.path or None, "all")
    vectors = vectors or Vectors(data.words, cache_dir)
    checksums = {lang: table_for(data, cfg.model_copy(update={"data": cfg.data.model_copy(update={"language": lang})})).checksum()
                 for lang in ("English", "all")}
    champion, multilingual = choose_routes(cfg, storage, checksums, model, studies)
    if multilingual is None:
        log.info("promoting %s for every language (%s)", champion.key, champion.reason)
        routes = {"all": refit_choice(champion, data, vectors)}
    else:
        log.info("promoting %s (%s) and, for other languages, %s (%s)", champion.key, champion.reason, multilingual.key,
                 multilingual.reason)
        routes = {"en": refit_choice(champion, data, vectors), "multi": refit_choice(multilingual, data, vectors)}
    return register(routes, champion.reason, tracking_uri)


def routes_line(routes: dict[str, str]) -> str:
    """Who answers what, in words, from {route: model key} (a Promotion's ``routes``)."""
    if "en" in routes and "multi" in routes:
        return f"English descriptions go to {routes['en']}, other languages to {routes['multi']}"
    return f"every language goes to {next(iter(routes.values()))}"
