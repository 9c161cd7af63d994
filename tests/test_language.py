import subprocess
import sys
import threading

import pytest

from lightning_eq import language
from lightning_eq.language import fold_accents, identify, identify_many


@pytest.mark.parametrize("text", ["warm", "less boomy", "bright and airy", "a bit more presence", "thin and cold",
                                  "sounds like a telephone", "tinny"])
def test_english(text):
    assert identify(text) == "en"


@pytest.mark.parametrize("text", ["cálido", "calido", "brillante", "menos retumbante", "muy cálido", "un poquito más oscuro",
                                  "brillante y aireado", "sin barro", "¿como es esto"])
def test_spanish(text):
    assert identify(text) == "es"


@pytest.mark.parametrize("text, expected", [("sin graves", "es"), ("no tan brillante", "es"), ("more bass", "en"),
                                            ("un poco más brillante", "es"), ("less brillante", None)])
def test_intensity_and_opposite_words_count_for_their_language(text, expected):
    """Regression: "sin" and "tan" are English dictionary words too, so "sin graves" and "no tan brillante" were
    unknown (None); as describe.py's opposite and intensity words they are Spanish."""
    assert identify(text) == expected


@pytest.mark.parametrize("text", ["metal", "normal", "nasal", "warm y brillante", "muy warm", "", "  ", "42", "!!"])
def test_ambiguous_mixed_and_empty_are_none(text):
    """Words of both dictionaries, mixed descriptions and texts without letters go to the multilingual model."""
    assert identify(text) is None


def test_identify_many_keeps_order():
    assert identify_many(["warm", "cálido", "metal"]) == ["en", "es", None]


def test_fold_accents():
    assert fold_accents("Cálido") == "calido"
    assert fold_accents("PINGÜINO año") == "pinguino ano"
    assert fold_accents("warm") == "warm"
    assert fold_accents("Ca\u0301lido") == "calido"  # combining accent (NFD)


@pytest.mark.slow
def test_import_loads_no_detector():
    """The CLI's cold start: importing the module must not load lingua or simplemma."""
    code = "import sys, lightning_eq.language; print('lingua' in sys.modules or 'simplemma' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "False"


def test_concurrent_first_calls_agree(monkeypatch):
    """Threads racing on the first call build one detector and all get the same answers."""
    monkeypatch.setattr(language, "_detector", None)
    identify.cache_clear()
    texts = ["warm", "cálido", "metal", "menos brillante", "bright and airy", "no tan brillante"] * 5
    expected = [identify.__wrapped__(t) for t in texts]
    monkeypatch.setattr(language, "_detector", None)
    identify.cache_clear()
    results: dict[int, list] = {}
    detectors = []

    def work(i):
        results[i] = identify_many(texts)
        detectors.append(language._detector)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert all(results[i] == expected for i in range(4))
    assert len({id(d) for d in detectors}) == 1
