"""Read SocialEQ curves into validated records.

Accepts the project's copy (``data/socialeq/socialeq_en.csv``, 44 named columns) and the upstream SocialFX
file whose header names 43 columns while every row has 44 (``lang`` is missing after ``descriptor``).
Descriptors are lower-cased, stripped and NFC-normalised; records are filtered to one language (English by
default), Spanish (``Español``; also ``Espanol``, ``es``, ``spanish``) or ``all``. Without a path, each language
reads its own file of ``data/socialeq/`` (``all`` reads both, English first).
"""

from __future__ import annotations

import csv
import math
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lightning_eq.curves import BAND_CENTRES_HZ, N_BANDS
from lightning_eq.errors import DataError

DEFAULT_DATA_DIR = Path(__file__).resolve().parents[2] / "data" / "socialeq"
META_COLUMNS = ("descriptor", "lang", "audio_id", "ratings_consistency")
BAND_COLUMNS = tuple(f"RSC_{f}Hz_band" for f in BAND_CENTRES_HZ)
COLUMNS = META_COLUMNS + BAND_COLUMNS
ALL_LANGUAGES = "all"
# Canonical language (as the files spell it) -> the names a user may give for it, compared case-insensitively.
LANGUAGE_ALIASES: dict[str, tuple[str, ...]] = {
    "English": ("english", "en"),
    "Español": ("español", "espanol", "es", "spanish"),
}
LANGUAGE_FILES = {"English": "socialeq_en.csv", "Español": "socialeq_es_train.csv"}


@dataclass(frozen=True)
class Record:
    """One participant's curve. ``row`` is the 1-based line number in the file (the header is line 1)."""

    descriptor: str
    lang: str
    audio_id: int
    consistency: float
    curve_z: np.ndarray
    row: int


@dataclass(frozen=True)
class SocialEQ:
    """All records of one language, with arrays aligned to ``records``."""

    records: tuple[Record, ...]
    path: Path

    @property
    def descriptors(self) -> list[str]:
        return [r.descriptor for r in self.records]

    @property
    def curves_z(self) -> np.ndarray:
        """(N, 40) z-scored curves."""
        return np.stack([r.curve_z for r in self.records])

    @property
    def words(self) -> list[str]:
        """Unique descriptors, sorted."""
        return sorted(set(self.descriptors))

    def __len__(self) -> int:
        return len(self.records)


def canonical_language(name: str) -> str:
    """``"English"``, ``"Español"``, ``"all"`` for their aliases (any case, accents optional); else ``name`` stripped."""
    key = unicodedata.normalize("NFC", name.strip()).lower()
    if key == ALL_LANGUAGES:
        return ALL_LANGUAGES
    for canonical, aliases in LANGUAGE_ALIASES.items():
        if key in aliases:
            return canonical
    return name.strip()


def _check_header(header: list[str], path: Path) -> None:
    """Accept the 44 named columns, or the upstream 43 that omit ``lang``; else say what differs."""
    names = [h.strip() for h in header]
    if names == list(COLUMNS) or names == [c for c in COLUMNS if c != "lang"]:
        return
    missing = [c for c in COLUMNS if c not in names]
    extra = [c for c in names if c not in COLUMNS]
    detail = []
    if missing:
        detail.append(f"missing {', '.join(missing[:4])}{' ...' if len(missing) > 4 else ''}")
    if extra:
        detail.append(f"unexpected {', '.join(extra[:4])}{' ...' if len(extra) > 4 else ''}")
    if not detail:
        detail.append("columns out of order")
    raise DataError(
        f"{path}, line 1: header has {len(names)} columns ({'; '.join(detail)}); expected descriptor, lang, "
        f"audio_id, ratings_consistency and the {N_BANDS} RSC_<f>Hz_band columns."
    )


def _number(text: str, column: str, path: Path, line: int) -> float:
    try:
        value = float(text)
    except ValueError:
        raise DataError(f"{path}, line {line}: column {column} is {text!r}, expected a number.") from None
    if not math.isfinite(value):
        raise DataError(f"{path}, line {line}: column {column} is {text!r}, expected a finite number.")
    return value


def _parse_row(fields: list[str], path: Path, line: int) -> Record:
    if len(fields) != len(COLUMNS):
        n_bands = len(fields) - len(META_COLUMNS)
        raise DataError(
            f"{path}, line {line}: {len(fields)} fields ({n_bands} bands); expected {len(COLUMNS)} "
            f"(4 metadata columns and {N_BANDS} bands)."
        )
    descriptor = unicodedata.normalize("NFC", fields[0]).strip().lower()
    if not descriptor:
        raise DataError(f"{path}, line {line}: descriptor is empty; every record needs a word.")
    audio_id = _number(fields[2], "audio_id", path, line)
    consistency = _number(fields[3], "ratings_consistency", path, line)
    curve = np.array([_number(v, c, path, line) for v, c in zip(fields[4:], BAND_COLUMNS)])
    return Record(descriptor, fields[1].strip(), int(audio_id), consistency, curve, line)


def _read_file(path: Path) -> list[Record]:
    """Every record of one file, checked."""
    if not path.is_file():
        raise DataError(f"Data file {path} does not exist; expected a SocialEQ CSV such as data/socialeq/socialeq_en.csv.")
    try:
        with path.open(newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f))
    except UnicodeDecodeError as err:
        raise DataError(f"{path} is not a UTF-8 text CSV file ({err.reason} at byte {err.start}).") from err
    rows = [(i + 1, r) for i, r in enumerate(rows) if any(cell.strip() for cell in r)]
    if not rows:
        raise DataError(f"{path} is empty; expected a header and one record per line.")
    _check_header(rows[0][1], path)  # the upstream header omits `lang`, its rows still carry it
    if len(rows) == 1:
        raise DataError(f"{path} has a header but no records.")
    return [_parse_row(fields, path, line) for line, fields in rows[1:]]


def load_records(path: str | Path | None = None, language: str = "English") -> SocialEQ:
    """Read a SocialEQ/SocialFX EQ file and keep the records of ``language`` (see the module docstring).

    Without ``path`` the language picks the file(s) of ``data/socialeq/``; for ``all`` the result's ``path`` is
    that folder and a record's ``row`` is its line in its own language's file.
    """
    wanted = canonical_language(language)
    if path is None and wanted in LANGUAGE_FILES:
        path = DEFAULT_DATA_DIR / LANGUAGE_FILES[wanted]
    if path is None and wanted == ALL_LANGUAGES:
        records = [r for name in LANGUAGE_FILES.values() for r in _read_file(DEFAULT_DATA_DIR / name)]
        return SocialEQ(tuple(records), DEFAULT_DATA_DIR)
    path = Path(path) if path is not None else DEFAULT_DATA_DIR / LANGUAGE_FILES["English"]
    records = _read_file(path)
    if wanted == ALL_LANGUAGES:
        return SocialEQ(tuple(records), path)
    kept = tuple(r for r in records if canonical_language(r.lang).lower() == wanted.lower())
    if not kept:
        languages = sorted({r.lang for r in records})
        raise DataError(
            f"{path}: no records in language {language!r}; the file has {', '.join(languages)}. "
            f"Choose one of them or 'all'."
        )
    return SocialEQ(kept, path)


def load_hq_words(path: str | Path | None = None) -> list[str]:
    """The 32 HQ words of the study, lower-cased, in file order."""
    path = Path(path) if path is not None else DEFAULT_DATA_DIR / "hq_words.txt"
    if not path.is_file():
        raise DataError(f"HQ word list {path} does not exist; expected one word per line.")
    return [w.strip().lower() for w in path.read_text().splitlines() if w.strip()]
