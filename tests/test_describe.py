import numpy as np
import pytest

from lightning_eq.curves import EqCurve
from lightning_eq.describe import Term, combine, describe, parse_description
from lightning_eq.errors import LightningEqError
from lightning_eq.language import Vocabulary


@pytest.mark.parametrize("text, terms", [
    ("warm", [("warm", 1.0)]),
    ("Bright and airy", [("bright", 1.0), ("airy", 1.0)]),
    ("warm, punchy and a bit airy", [("warm", 1.0), ("punchy", 1.0), ("airy", 0.5)]),
    ("less boomy, more presence", [("boomy", -1.0), ("presence", 1.0)]),
    ("not very harsh", [("harsh", -1.5)]),
    ("without mud", [("mud", -1.0)]),
    ("slightly less boomy", [("boomy", -0.5)]),
    ("much more sparkle with less bass", [("sparkle", 1.5), ("bass", -1.0)]),
    ("menos grave", [("grave", -1.0)]),
    ("muy brillante y un poco cálido", [("brillante", 1.5), ("cálido", 0.5)]),
    ("a warm sound", [("warm", 1.0)]),
])
def test_parse_description(text, terms):
    assert parse_description(text) == [Term(p, w) for p, w in terms]


def test_a_lone_modifier_is_a_phrase_not_an_error():
    assert parse_description("more") == [Term("more", 1.0)]


@pytest.mark.parametrize("text", ["", "   ", ", and ,"])
def test_empty_descriptions_are_rejected(text):
    with pytest.raises(LightningEqError, match="Expected a description|No descriptor"):
        parse_description(text)


TILT = np.linspace(-1.7, 1.7, 40)  # a z shape rising with frequency, like "bright"


def fake_model(phrases):
    return np.stack([TILT if p == "bright" else -TILT if p == "boomy" else np.sin(np.arange(40.0)) for p in phrases])


def test_less_x_flips_the_direction_and_intensity_scales_the_amount():
    bright, less = describe("bright", fake_model), describe("less bright", fake_model)
    very, bit = describe("very bright", fake_model), describe("a bit bright", fake_model)
    assert np.allclose(less.curve_z, -bright.curve_z / bright.curve_z.std())
    assert very.amount == 1.5 and bit.amount == 0.5 and bright.amount == 1.0
    db_bright, db_very = bright.to_db(5.0).values, very.to_db(5.0).values
    assert np.max(np.abs(db_very)) == pytest.approx(7.5) and np.max(np.abs(db_bright)) == pytest.approx(5.0)
    assert np.allclose(less.to_db().values, -bright.to_db().values)


def test_several_descriptors_mix_their_shapes():
    shape, amount = combine([Term("bright", 1.0), Term("boomy", -1.0)], fake_model(["bright", "boomy"]))
    assert np.corrcoef(shape, TILT)[0, 1] > 0.99 and amount == 1.0
    assert shape.std() == pytest.approx(1.0)


def test_amount_survives_json(tmp_path):
    curve = EqCurve(TILT, "z", text="very bright", amount=1.5)
    curve.save(tmp_path / "c.json")
    assert EqCurve.load(tmp_path / "c.json").amount == 1.5


@pytest.mark.parametrize("text, terms", [
    ("un poquito más brillante", [("brillante", 0.5)]),
    ("un poco más de brillo", [("brillo", 0.5)]),
    ("un poco menos retumbante", [("retumbante", -0.5)]),
    ("bastante oscuro", [("oscuro", 1.25)]),
    ("algo aireado", [("aireado", 0.5)]),
    ("ligeramente cálido", [("cálido", 0.5)]),
    ("apenas metálico", [("metálico", 0.25)]),
    ("muy muy cálido", [("cálido", 2.25)]),
    ("demasiado brillante", [("brillante", 1.5)]),
    ("extremadamente brillante", [("brillante", 2.0)]),
    ("mucho más brillo", [("brillo", 1.5)]),
    ("mucho menos retumbante", [("retumbante", -1.5)]),
    ("más cálido, menos retumbante", [("cálido", 1.0), ("retumbante", -1.0)]),
    ("nada brillante", [("brillante", -1.0)]),
    ("nada de graves", [("graves", -1.0)]),
    ("no tan brillante", [("brillante", -1.0)]),
    ("no muy áspero", [("áspero", -1.5)]),
    ("poco brillante", [("brillante", -0.5)]),
    ("cálido sin barro", [("cálido", 1.0), ("barro", -1.0)]),
    ("warm without mud", [("warm", 1.0), ("mud", -1.0)]),
    ("suena cálido", [("cálido", 1.0)]),
    ("mas calido", [("calido", 1.0)]),
    ("súper brillante e increiblemente aireado", [("brillante", 2.0), ("aireado", 2.0)]),
])
def test_parse_spanish_description(text, terms):
    assert parse_description(text) == [Term(p, w) for p, w in terms]


def test_spanish_modifiers_mirror_the_english_ones():
    for english, spanish in [("very", "muy"), ("quite", "bastante"), ("slightly", "ligeramente"), ("a little bit", "un poquito"),
                             ("barely", "apenas"), ("too", "demasiado"), ("extremely", "extremadamente"), ("less", "menos"),
                             ("more", "más"), ("without", "sin"), ("not", "no"), ("somewhat", "algo")]:
        assert parse_description(f"{english} x")[0].weight == parse_description(f"{spanish} x")[0].weight


def recording_model(seen):
    def predict(phrases):
        seen.extend(phrases)
        return np.stack([TILT * (1 + len(p)) if p.startswith("c") else -TILT for p in phrases])
    return predict


@pytest.mark.parametrize("typed", ["calido", "Calido", "CÁLIDO", "cálido", "ca\u0301lido"])
def test_a_word_without_its_accents_is_the_known_word(typed):
    seen = []
    vocabulary = Vocabulary.of(["cálido", "brillante", "warm"])
    curve = describe(typed, recording_model(seen), vocabulary=vocabulary)
    reference = describe("cálido", recording_model([]), vocabulary=vocabulary)
    assert seen == ["cálido"]
    assert np.array_equal(curve.curve_z, reference.curve_z) and curve.amount == reference.amount
    very = describe(f"muy {typed}", recording_model([]), vocabulary=vocabulary)
    assert np.array_equal(very.curve_z, describe("muy cálido", recording_model([]), vocabulary=vocabulary).curve_z)


def test_unknown_words_stay_as_typed_and_known_words_are_never_remapped():
    vocabulary = Vocabulary.of(["cálido", "calido ", "armónico", "guitarra eléctrica"])
    assert vocabulary.match("calido") == "calido"  # an exact match wins over a folded one
    assert vocabulary.match("armonico") == "armónico"
    assert vocabulary.match("guitarra   electrica") == "guitarra eléctrica"
    assert vocabulary.match("retumbante") == "retumbante"
    assert vocabulary.match("Retumbánte") == "Retumbánte"  # unknown: as typed
    seen = []
    describe("armonico y retumbante", recording_model(seen), vocabulary=["armónico"])
    assert seen == ["armónico", "retumbante"]


def test_menos_flips_and_muy_scales_as_in_english():
    def model(phrases):
        return np.stack([TILT if p == "brillante" else np.sin(np.arange(40.0)) for p in phrases])
    plain, less, very = (describe(t, model) for t in ("brillante", "menos brillante", "muy brillante"))
    assert np.allclose(less.curve_z, -plain.curve_z / plain.curve_z.std())
    assert np.allclose(very.curve_z, plain.curve_z / plain.curve_z.std()) and very.amount == 1.5
