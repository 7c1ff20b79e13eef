"""SimilarityMap: parsing, validation, feature order, transform output and TF-IDF fitting."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lossmatch.errors import InputError
from lossmatch.similarity import SimilarityMap


@pytest.fixture
def tables():
    left = pd.DataFrame({"given_name": ["anna", "bob", None], "address_1": ["1 main st", "", "9 high st"]})
    right = pd.DataFrame({"given_name": ["ana", "bob", "cy"], "street": ["1 main street", "2 low rd", np.nan]})
    return left, right


MAP = {"given_name": ["jaro_winkler", "exact"], "address_1~street": ["levenshtein", {"name": "gaussian", "scale": 5}]}


def test_keys_bare_and_tilde():
    sm = SimilarityMap(MAP)
    # A bare key is the same column on both sides; "a~b" pairs different names, in map order.
    assert sm.column_pairs == [("given_name", "given_name"), ("address_1", "street")]
    assert sm.left_columns == ["given_name", "address_1"]
    assert sm.right_columns == ["given_name", "street"]


def test_feature_names_order():
    sm = SimilarityMap(MAP)
    # Per pair: its similarities in list order, then its missing indicator; parameters in the name.
    assert sm.feature_names == [
        "given_name~given_name:jaro_winkler",
        "given_name~given_name:exact",
        "given_name~given_name:missing",
        "address_1~street:levenshtein",
        "address_1~street:gaussian(scale=5)",
        "address_1~street:missing",
    ]


def test_from_dict_accepts_conf_layout_and_omegaconf():
    from omegaconf import OmegaConf

    expected = SimilarityMap(MAP)
    # The conf file layout ({_target_, map}) and an OmegaConf node give the same map.
    assert SimilarityMap.from_dict({"_target_": "lossmatch.similarity.SimilarityMap", "map": MAP}) == expected
    assert SimilarityMap.from_dict(OmegaConf.create({"map": MAP})) == expected
    assert SimilarityMap.from_dict(OmegaConf.create(MAP)) == expected


def test_to_dict_round_trip():
    sm = SimilarityMap(MAP)
    # Plain data that rebuilds an equal map.
    assert sm.to_dict() == MAP
    assert SimilarityMap.from_dict(sm.to_dict()).feature_names == sm.feature_names


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        ({}, ["non-empty"]),
        ({"x": ["jaro_wrinkler"]}, ["jaro_wrinkler", "jaro_winkler", "levenshtein"]),  # lists the known names
        ({"x": [{"name": "jaro_winkler", "prefix_weight": 0.9}]}, ["prefix_weight", "0.9"]),
        ({"x": [{"name": "levenshtein", "scale": 2}]}, ["levenshtein", "scale"]),  # no such parameter
        ({"x": [{"scale": 2}]}, ["name"]),
        ({"x": []}, ["'x'", "non-empty"]),
        ({"a~b~c": ["exact"]}, ["a~b~c"]),
        ({"x": ["exact", "exact"]}, ["exact", "more than once"]),
        ({"x": ["exact"], "x~x": ["ratio"]}, ["x~x", "twice"]),
        ({"map": None}, ["similarity.map"]),
    ],
)
def test_bad_maps_raise_input_error(spec, words):
    with pytest.raises(InputError) as err:
        SimilarityMap(spec)
    # The message names what is wrong.
    for word in words:
        assert word in str(err.value)


def test_validate_names_column_table_and_available(tables):
    left, right = tables
    sm = SimilarityMap({"given_name": ["exact"], "address_1": ["exact"]})
    with pytest.raises(InputError) as err:
        sm.validate(left, right, left_name="left.csv", right_name="right.csv")
    # address_1 is only in the left table: the message says which column, which table, what exists.
    message = str(err.value)
    assert "'address_1'" in message and "right.csv" in message and "given_name, street" in message


def test_transform_shape_dtype_and_values(tables):
    left, right = tables
    sm = SimilarityMap(MAP)
    out = sm.transform(left, right, [0, 1, 2, 1], [0, 1, 2, 0])
    assert out.shape == (4, len(sm.feature_names))
    assert out.dtype == np.float32
    # (bob, bob): jaro_winkler 1, exact 1, not missing.
    assert out[1, :3].tolist() == [1.0, 1.0, 0.0]
    # (None, cy): every given_name similarity 0 and the indicator 1.
    assert out[2, :3].tolist() == [0.0, 0.0, 1.0]
    # ("", "1 main street"): an empty string is missing too.
    assert out[3, 3:].tolist() == [0.0, 0.0, 1.0]
    # ("1 main st", "1 main street"): levenshtein 1 - 4 / 13 (append "reet").
    assert out[0, 3] == pytest.approx(1 - 4 / 13)
    # gaussian: one number with surrounding text parses ("1 main st" -> 1), so exp(0) = 1.
    assert out[0, 4] == pytest.approx(1.0)


def test_numeric_unparsable_flags_pair_but_keeps_string_scores():
    left = pd.DataFrame({"p": ["abc", "12"]})
    right = pd.DataFrame({"p": ["abc", "12"]})
    sm = SimilarityMap({"p": ["exact", "numeric_abs"]})
    out = sm.transform(left, right, [0, 1], [0, 1])
    # "abc" is text: exact still says 1, numeric_abs is 0 and the indicator explains it.
    assert out.tolist() == [[1.0, 0.0, 1.0], [1.0, 1.0, 0.0]]


def test_transform_uses_row_positions_not_labels(tables):
    left, right = tables
    left.index = [10, 20, 30]
    sm = SimilarityMap({"given_name": ["exact"]})
    # Position 1 is "bob" whatever the index labels are.
    assert sm.transform(left, right, [1], [1])[0, 0] == 1.0


def test_transform_rejects_bad_positions(tables):
    left, right = tables
    sm = SimilarityMap({"given_name": ["exact"]})
    with pytest.raises(InputError, match=r"^left_pos must be row positions in \[0, 3\), got values in \[3, 3\]\.$"):
        sm.transform(left, right, [3], [0])  # past the end
    with pytest.raises(InputError, match=r"^left_pos must be row positions in \[0, 3\), got values in \[-1, -1\]\.$"):
        sm.transform(left, right, [-1], [0])  # would wrap around silently
    with pytest.raises(InputError, match=r"^right_pos must be row positions in \[0, 3\), got values in \[0, 3\]\.$"):
        sm.transform(left, right, [0, 0], [0, 3])
    with pytest.raises(InputError, match=r"^left_pos and right_pos must have the same length, got 2 and 1\.$"):
        sm.transform(left, right, [0, 1], [0])


def test_transform_empty_pairs(tables):
    left, right = tables
    sm = SimilarityMap(MAP)
    # No pairs is a valid (0, n_features) result, not an error.
    assert sm.transform(left, right, [], []).shape == (0, len(sm.feature_names))


def test_tfidf_fitted_on_union_of_both_tables():
    from lossmatch.similarity.functions import ColumnValues
    from lossmatch.similarity.tfidf import tfidf_vectors

    left = pd.DataFrame({"t": ["alpha", "omega"]})
    right = pd.DataFrame({"t": ["omega psi", "psi"]})
    sm = SimilarityMap({"t": ["tfidf_word"]})
    # Fitted on the left table only, "omega psi" would be just "omega" (cosine 1); "psi" from the
    # right table is in the vocabulary, so the cosine is below 1 but above 0.
    cosine = sm.transform(left, right, [1], [0])[0, 0]
    assert 0 < cosine < 1
    # The value "psi", found only in the right table, has a nonzero vector of its own.
    values = ColumnValues(left["t"], right["t"], np.array([0]), np.array([0]))
    vectors = tfidf_vectors(values.vocabulary, analyzer="word", ngram_range=(1, 1))
    row = list(values.vocabulary).index("psi")
    assert vectors[row].nnz > 0


def test_tfidf_deterministic_given_tables():
    left = pd.DataFrame({"t": ["acme corp", "acme inc", "zeta corp"]})
    right = pd.DataFrame({"t": ["acme corporation", "zeta"]})
    sm = SimilarityMap({"t": ["tfidf_char"]})
    # Fitted on the full columns, so the score of a pair does not depend on which pairs are asked.
    alone = sm.transform(left, right, [0], [0])[0, 0]
    among = sm.transform(left, right, [2, 1, 0], [1, 1, 0])[2, 0]
    assert alone == among


def test_progress_bar_switch(tables, capsys):
    left, right = tables
    sm = SimilarityMap({"given_name": ["exact"]})
    sm.transform(left, right, [0], [0])
    # Small inputs show nothing; progress=True forces the bar onto stderr.
    assert capsys.readouterr().err == ""
    sm.transform(left, right, [0], [0], progress=True)
    assert "similarities" in capsys.readouterr().err
