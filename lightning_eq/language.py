"""Which language a description is in: English, Spanish, or unknown/mixed (None); accent folding.

>>> identify("less boomy"), identify("menos retumbante"), identify("metal")
('en', 'es', None)

Three offline signals, restricted to English and Spanish, the last two loaded on the first call (never at import):

1. Intensity, opposite and linking words (``describe``'s lists: "muy", "un poco", "más", "menos", "sin", "no tan"
   against "very", "a bit", "more", "less", "without"...) count for their language, so "un poco más brillante"
   is Spanish although "brillante" is also an English word. Words written alike ("no", "super") count for neither.
2. Dictionary evidence (simplemma's word lists, which hold inflected forms): a word known in one language
   only, or written with Spanish letters (á é í ó ú ñ ü ¿ ¡), is evidence for that language. Words of both
   lists ("metal", "normal", "no", "a") and unknown words are no evidence. Evidence (1 and 2 together) for one
   language only decides; evidence for both is a mixed description (None): "less brillante".
3. Without such evidence, lingua's character n-gram model decides when it is at least
   ``MIN_CONFIDENCE`` sure; single words rarely are, and then the answer is None.

None means "send it to the multilingual model". Loading both takes about a second (simplemma's two
dictionaries, low-memory backend); ``preload()`` does it ahead of time, e.g. on a thread while a model loads.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from functools import lru_cache
from typing import Iterable, Literal

Language = Literal["en", "es"]
LANGUAGES: tuple[Language, ...] = ("en", "es")
MIN_CONFIDENCE = 0.7  # lingua's confidence needed when the dictionaries say nothing (chosen on hand lists, not test words)
SPANISH_LETTERS = frozenset("áéíóúñü¿¡")
_TOKEN = re.compile(r"[^\W\d_]+")
_lock = threading.Lock()
_detector = None


def fold_accents(text: str) -> str:
    """Lower-cased ``text`` without diacritics: "Cálido" -> "calido", "Pingüino" -> "pinguino" (ñ -> n too)."""
    decomposed = unicodedata.normalize("NFD", text.lower())
    return unicodedata.normalize("NFC", "".join(c for c in decomposed if not unicodedata.combining(c)))


def _lingua():
    """The lingua detector for English and Spanish, built once (thread-safe)."""
    global _detector
    if _detector is None:
        with _lock:
            if _detector is None:
                from lingua import Language as LinguaLanguage, LanguageDetectorBuilder

                _detector = LanguageDetectorBuilder.from_languages(LinguaLanguage.ENGLISH, LinguaLanguage.SPANISH).build()
    return _detector


def _known(token: str, lang: Language) -> bool:
    import simplemma

    with _lock:  # simplemma fills its dictionary cache lazily; one thread at a time
        return simplemma.is_known(token, lang, low_memory=True)


def preload() -> None:
    """Load both detectors now (about a second) so that the first ``identify`` is fast."""
    _lingua()
    _known("warm", "en")
    _known("cálido", "es")


def dictionary_votes(text: str) -> tuple[int, int]:
    """(English, Spanish) counts of words that only one language's dictionary knows (Spanish letters count as Spanish)."""
    en = es = 0
    for token in _TOKEN.findall(text.lower()):
        in_en, in_es = _known(token, "en"), _known(token, "es")
        if SPANISH_LETTERS & set(token) and not in_en:
            in_es = True
        en += in_en and not in_es
        es += in_es and not in_en
    if SPANISH_LETTERS & set(text) and not es and not en:
        es = 1  # "¿" or an accent on an unknown word
    return en, es


def votes(text: str) -> tuple[int, int]:
    """(English, Spanish) evidence: the description's intensity, opposite and linking words by describe.py's lists
    ("un poco más", "menos", "very", "less"...), and its other words by ``dictionary_votes``."""
    from lightning_eq.describe import function_word_votes, function_words  # describe imports this module
    from lightning_eq.errors import LightningEqError

    try:
        function = function_words(text)
    except LightningEqError:  # nothing but modifiers ("very"): no phrase to tell apart
        function = []
    rest = _TOKEN.findall(text.lower())
    for word in function:
        rest.remove(word)
    fn_en, fn_es = function_word_votes(function)
    dict_en, dict_es = dictionary_votes(" ".join(rest))
    return fn_en + dict_en, fn_es + dict_es


def spanish_probability(text: str) -> float:
    """lingua's confidence that ``text`` is Spanish rather than English, 0..1."""
    values = {c.language.iso_code_639_1.name.lower(): c.value for c in _lingua().compute_language_confidence_values(text)}
    return float(values.get("es", 0.0))


@lru_cache(maxsize=4096)
def identify(text: str) -> Language | None:
    """"en", "es", or None when the evidence is weak or the description mixes both languages."""
    if not isinstance(text, str) or not _TOKEN.search(text):
        return None
    en, es = votes(text)
    if en and es:
        return None
    if en or es:
        return "en" if en else "es"
    p_es = spanish_probability(text)
    if p_es >= MIN_CONFIDENCE:
        return "es"
    if p_es <= 1.0 - MIN_CONFIDENCE:
        return "en"
    return None


def identify_many(texts: Iterable[str]) -> list[Language | None]:
    """``identify`` of each text."""
    return [identify(t) for t in texts]


class Vocabulary:
    """Known descriptors, looked up with or without accents: ``Vocabulary.of(["cálido"]).match("calido") == "cálido"``."""

    def __init__(self, words: Iterable[str]):
        self.words = frozenset(self.key(w) for w in words)
        self._folded: dict[str, str] = {}
        for word in sorted(self.words):  # where two words fold alike, the first in sorted order wins
            self._folded.setdefault(fold_accents(word), word)

    @staticmethod
    def key(word: str) -> str:
        """How a descriptor is stored: NFC, lower-cased, single spaces."""
        return " ".join(unicodedata.normalize("NFC", word).lower().split())

    @classmethod
    def of(cls, words: Iterable[str]) -> Vocabulary:
        return cls(words)

    def match(self, phrase: str) -> str:
        """The known descriptor ``phrase`` is (exactly, else once its accents are folded), else ``phrase`` as typed."""
        key = self.key(phrase)
        if key in self.words:
            return key
        return self._folded.get(fold_accents(key), phrase)

    def __len__(self) -> int:
        return len(self.words)
