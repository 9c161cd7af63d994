import json

import numpy as np
import pytest

from lightning_eq.curves import BAND_CENTRES_HZ, BAND_Q, unit_to_z, z_to_unit
from lightning_eq.data.socialeq import DEFAULT_DATA_DIR, load_records
from lightning_eq.errors import DataError


def test_real_file_has_the_documented_shape(data):
    assert len(data) == 918
    assert len(data.words) == 388
    assert data.curves_z.shape == (918, 40)
    assert all(w == w.strip().lower() for w in data.words)
    # rows are z-scored shapes
    assert np.allclose(data.curves_z.mean(axis=1), 0, atol=1e-6)
    assert np.allclose(data.curves_z.std(axis=1), 1, atol=1e-2)
    assert data.records[0].row == 2 and data.records[0].descriptor == "hot"


def test_band_centres_match_the_data_files():
    meta = json.loads((DEFAULT_DATA_DIR / "band_centres_hz.json").read_text())
    assert tuple(meta["centres_hz"]) == BAND_CENTRES_HZ
    assert meta["q"] == BAND_Q


def test_unit_scale_round_trips():
    z = np.array([-4.0, 0.0, 4.0, 1.5])
    assert np.allclose(z_to_unit(z), [0.0, 0.5, 1.0, 0.6875])
    assert np.allclose(unit_to_z(z_to_unit(z)), z)


def test_upstream_header_without_lang_is_accepted(csv_lines, write_csv):
    header = csv_lines[0].replace("descriptor,lang,", "descriptor,")
    spanish = csv_lines[2].replace(",English,", ",Spanish,", 1)
    path = write_csv([header, *csv_lines[1:4], spanish])
    assert len(load_records(path)) == 3
    es = load_records(path, language="spanish")
    assert [r.row for r in es.records] == [5]


def test_descriptors_are_lower_cased_and_stripped(csv_lines, write_csv):
    path = write_csv([csv_lines[0], "  Warm ," + csv_lines[1].split(",", 1)[1]])
    assert load_records(path).records[0].descriptor == "warm"


def with_field(line: str, index: int, value: str) -> str:
    fields = line.split(",")
    fields[index] = value
    return ",".join(fields)


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda h, r: ([], ), "is empty"),
        (lambda h, r: ([h], ), "no records"),
        (lambda h, r: ([h.replace(",RSC_20Hz_band", "")] + r, ), "missing RSC_20Hz_band"),
        (lambda h, r: ([h + ",extra"] + r, ), "unexpected extra"),
        (lambda h, r: ([h, r[0] + ",0.5"] + r[1:], ), "line 2: 45 fields (41 bands)"),
        (lambda h, r: ([h, ",".join(r[0].split(",")[:-1])] + r[1:], ), "line 2: 43 fields (39 bands)"),
        (lambda h, r: ([h, r[0], with_field(r[1], 8, "loud")] + r[2:], ), "line 3: column RSC_161Hz_band is 'loud'"),
        (lambda h, r: ([h, r[0], with_field(r[1], 8, "nan")] + r[2:], ), "expected a finite number"),
        (lambda h, r: ([h, with_field(r[0], 0, " ")] + r[1:], ), "descriptor is empty"),
    ],
)
def test_broken_files_name_the_file_line_and_problem(csv_lines, write_csv, mutate, message):
    (lines,) = mutate(csv_lines[0], csv_lines[1:5])
    path = write_csv(lines)
    with pytest.raises(DataError) as err:
        load_records(path)
    assert str(path) in str(err.value)
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_unknown_language_lists_the_languages(csv_lines, write_csv):
    with pytest.raises(DataError, match="no records in language 'Klingon'; the file has English"):
        load_records(write_csv(csv_lines[:5]), language="Klingon")


def test_missing_and_binary_files(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        load_records(tmp_path / "nope.csv")
    binary = tmp_path / "eq.csv"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(DataError, match="not a UTF-8"):
        load_records(binary)


@pytest.mark.parametrize("language", ["Español", "español", "Espanol", "ES", "spanish", " Spanish "])
def test_spanish_reads_its_own_file(language):
    es = load_records(language=language)
    assert es.path == DEFAULT_DATA_DIR / "socialeq_es_train.csv"
    assert len(es) == 289 and len(es.words) == 289  # one record per word
    assert {r.lang for r in es.records} == {"Español"}
    assert "cálido" in es.words  # accents kept as typed
    assert es.curves_z.shape == (289, 40)


def test_all_reads_both_files_english_first(data):
    both = load_records(language="all")
    assert both.path == DEFAULT_DATA_DIR
    assert len(both) == 918 + 289
    assert [r.lang for r in both.records[:918]] == ["English"] * 918
    assert [(r.descriptor, r.row) for r in both.records[:918]] == [(r.descriptor, r.row) for r in data.records]
    assert both.records[918].row == 2 and both.records[918].lang == "Español"
    assert len(both.words) == 388 + 289 - 7  # 7 strings are descriptors in both languages (hot, cool, ...)


def test_language_aliases_filter_a_given_file(csv_lines, write_csv):
    spanish = csv_lines[2].replace(",English,", ",Español,", 1)
    path = write_csv([csv_lines[0], csv_lines[1], spanish])
    assert [r.row for r in load_records(path, language="es").records] == [3]
    assert [r.row for r in load_records(path, language="ESPANOL").records] == [3]
    assert [r.row for r in load_records(path, language="en").records] == [2]
    assert [r.row for r in load_records(path, language="All").records] == [2, 3]


def test_descriptors_are_nfc_normalised(csv_lines, write_csv):
    """A descriptor typed with a combining accent (NFD) is the same word as the precomposed one."""
    path = write_csv([csv_lines[0], "Ca\u0301lido," + csv_lines[1].split(",", 1)[1]])
    assert load_records(path).records[0].descriptor == "cálido"
