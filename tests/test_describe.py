import numpy as np
import pytest

from lightning_eq.curves import EqCurve
from lightning_eq.describe import Term, combine, describe, parse_description
from lightning_eq.errors import LightningEqError


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
