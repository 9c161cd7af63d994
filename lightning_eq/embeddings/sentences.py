"""Each description in a sentence of its own language ("The sound is {text}." / "El sonido es {text}."), for the
multilingual embedders (e5, gemma).

The language of a text is ``language.identify``'s answer; a text of no clear language is embedded in both
sentences and gets the normalised mean of the two vectors. When every sentence is "{text}" the bare texts are
embedded and no language is identified.
"""

from __future__ import annotations

from typing import Callable, Mapping, Sequence

import numpy as np

from lightning_eq.errors import ConfigError

BARE = "{text}"


def check_sentence(sentence: str, example: str = "The sound is {text}.") -> str:
    """``sentence`` if it holds ``{text}`` exactly once, else a ValueError (pydantic turns it into a config error)."""
    if sentence.count(BARE) != 1:
        raise ValueError(f"a sentence must contain '{{text}}' exactly once, e.g. {example!r}, got {sentence!r}")
    return sentence


def fill(sentence: str, text: str) -> str:
    """The sentence with ``text`` in place of ``{text}``."""
    return sentence.replace(BARE, text)


def uses_language(sentences: Mapping[str, str]) -> bool:
    """True when some sentence differs from the bare text, so each text's language must be known."""
    return any(s != BARE for s in sentences.values())


def sentences_for(texts: Sequence[str], sentences: Mapping[str, str]) -> list[list[str]]:
    """For each text, the model inputs whose mean embeds it: one (its language's sentence) or, for a text of no
    clear language, one per language."""
    if not uses_language(sentences):
        return [[t] for t in texts]
    from lightning_eq.language import identify

    out = []
    for text in texts:
        language = identify(text)
        if language is not None and language not in sentences:
            raise ConfigError(f"No sentence for language {language!r}; expected one of {', '.join(sentences)}.")
        chosen = [language] if language is not None else list(sentences)
        out.append([fill(sentences[lang], text) for lang in chosen])
    return out


def combine(inputs: Sequence[Sequence[str]], rows: Mapping[str, np.ndarray]) -> np.ndarray:
    """(len(inputs), dim) float32 from ``sentences_for``'s groups and the vector of each model input: a text with
    one input gets its vector, a text of no clear language the unit-length mean of its two."""
    out = np.stack([rows[group[0]] for group in inputs]).astype(np.float32)
    for i, group in enumerate(inputs):
        if len(group) > 1:
            mean = np.sum([rows[s] for s in group], axis=0)
            out[i] = mean / max(float(np.linalg.norm(mean)), 1e-12)
    return out


def embed_in_sentences(texts: Sequence[str], sentences: Mapping[str, str],
                       encode: Callable[[list[str]], np.ndarray]) -> np.ndarray:
    """(len(texts), dim) float32: ``encode`` (model inputs -> rows) applied to each text in its language's
    sentence, every distinct input once (see ``combine``)."""
    inputs = sentences_for(texts, sentences)
    unique = sorted({s for group in inputs for s in group})
    return combine(inputs, dict(zip(unique, np.asarray(encode(unique), dtype=np.float32))))
