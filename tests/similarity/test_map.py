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


KEY_FORM = "must be a column name or 'left_column~right_column'."
NOT_SET = ("The similarity map is not set: give similarity.map, e.g. "
           "similarity.map='{name: [jaro_winkler, token_set_ratio], city: [exact]}'.")


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({}, "A similarity map must be a non-empty mapping of column pairs to similarities, got {}."),
        (None, "A similarity map must be a non-empty mapping of column pairs to similarities, got None."),
        ({"x": [{"name": "jaro_winkler", "prefix_weight": 0.9}]},
         "In similarity map key 'x': jaro_winkler prefix_weight must be a number in [0, 0.25], got 0.9."),
        ({"x": [{"name": "levenshtein", "scale": 2}]},  # no such parameter
         "In similarity map key 'x': Similarity 'levenshtein' got unknown parameter(s) ['scale']; accepted: none."),
        ({"x": ["gaussian"]},
         "In similarity map key 'x': Similarity 'gaussian' needs parameter(s) ['scale'], e.g. {name: gaussian, scale: ...}."),
        ({"x": [{"scale": 2}]}, "Similarity map entry {'scale': 2} under 'x' needs a 'name'."),
        ({"x": [3]}, "Similarity map entry 3 under 'x' must be a name or a dict with 'name'."),
        ({"x": []}, "Similarity map key 'x' needs a non-empty list of similarities, got []."),
        ({"x": 3}, "Similarity map key 'x' needs a non-empty list of similarities, got 3."),
        ({"a~b~c": ["exact"]}, f"Similarity map key 'a~b~c' {KEY_FORM}"),
        ({"a~ ": ["exact"]}, f"Similarity map key 'a~ ' {KEY_FORM}"),
        ({"  ": ["exact"]}, f"Similarity map key '  ' {KEY_FORM}"),
        ({1: ["exact"]}, f"Similarity map key 1 {KEY_FORM}"),
        ({"x": ["exact", "exact"]}, "Similarity map key 'x' lists ['exact'] more than once."),
        ({"x": [{"name": "tfidf_char", "ngram_range": [1, 2]}, {"name": "tfidf_char", "ngram_range": [1, 2]}]},
         "Similarity map key 'x' lists ['tfidf_char(ngram_range=1,2)'] more than once."),
        ({"x": ["exact"], "x~x": ["ratio"]}, "Column pair x~x appears twice in the similarity map (key 'x~x')."),
        ({"map": None}, NOT_SET),
        ({"map": "???"}, NOT_SET),  # Hydra's mandatory-value marker
        ({"_target_": "lossmatch.similarity.SimilarityMap", "map": None}, NOT_SET),
    ],
)
def test_bad_maps_raise_input_error(spec, message):
    with pytest.raises(InputError) as err:
        SimilarityMap(spec)
    # The message names what is wrong, where, and what is expected.
    assert str(err.value) == message


def test_unknown_similarity_lists_the_known_ones():
    from lossmatch.similarity import available_similarities

    with pytest.raises(InputError) as err:
        SimilarityMap({"x": ["jaro_wrinkler"]})
    known = ", ".join(available_similarities())
    # The key is named, and the closest known name (difflib) is suggested.
    assert str(err.value) == (
        f"In similarity map key 'x': Unknown similarity 'jaro_wrinkler' (did you mean jaro_winkler?); known similarities: {known}."
    )


def test_single_entries_and_what_counts_as_the_wrapper():
    # One similarity needs no list, as a name or as a dict.
    assert SimilarityMap({"x": "exact"}).to_dict() == {"x": ["exact"]}
    assert SimilarityMap({"x": {"name": "gaussian", "scale": 2}}).to_dict() == {"x": [{"name": "gaussian", "scale": 2}]}
    # A list under "map" is a column called "map", not the conf file's wrapper; blanks around
    # the column names are dropped.
    assert SimilarityMap({"map": ["exact"]}).column_pairs == [("map", "map")]
    assert SimilarityMap({" a ~ b ": ["exact"]}).column_pairs == [("a", "b")]
    # Beside "map", only Hydra's private keys (_target_, _convert_) make it a wrapper.
    assert SimilarityMap({"_convert_": "all", "map": {"a": ["exact"]}}).column_pairs == [("a", "a")]
    assert SimilarityMap({"other": ["exact"], "map": {"name": "exact"}}).column_pairs == [
        ("other", "other"), ("map", "map")]
    assert repr(SimilarityMap({"x": "exact"})) == "SimilarityMap({'x': ['exact']})"
    assert SimilarityMap({"x": "exact"}) != {"x": ["exact"]}


def test_labels_sort_parameters_and_join_lists():
    sm = SimilarityMap({"t": [{"name": "tfidf_char", "sublinear_tf": True, "ngram_range": [1, 2]}]})
    assert sm.feature_names == ["t~t:tfidf_char(ngram_range=1,2,sublinear_tf=True)", "t~t:missing"]


def test_pickle_keeps_the_plain_spec():
    import pickle

    sm = SimilarityMap(MAP)
    # The state is the plain map (rapidfuzz's C scorers do not pickle); it rebuilds an equal map.
    assert sm.__getstate__() == {"map": MAP}
    clone = pickle.loads(pickle.dumps(sm))
    assert clone == sm and clone.feature_names == sm.feature_names


def test_validate_names_column_table_and_available(tables):
    left, right = tables
    sm = SimilarityMap({"given_name": ["exact"], "address_1": ["exact"]})
    with pytest.raises(InputError) as err:
        sm.validate(left, right, left_name="left.csv", right_name="right.csv")
    # address_1 is only in the left table: the message says which column, which table, what exists.
    assert str(err.value) == ("Column 'address_1' (similarity map pair address_1~address_1) is not in the right.csv; "
                              "available columns: given_name, street.")
    # The left table is checked first, and its default name is "left table".
    with pytest.raises(InputError) as err:
        SimilarityMap({"street": ["exact"]}).validate(left, right)
    assert str(err.value) == ("Column 'street' (similarity map pair street~street) is not in the left table; "
                              "available columns: given_name, address_1.")
    # A column that appears twice is ambiguous.
    twice = pd.DataFrame([["a", "b"]], columns=["given_name", "given_name"])
    with pytest.raises(InputError, match=r"^Column 'given_name' appears 2 times in the right table\.$"):
        SimilarityMap({"given_name": ["exact"]}).validate(left, twice)
    assert SimilarityMap({"given_name": ["exact"]}).validate(left, right) is None


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
    # Positions are 1-D integers: floats or a column would index by accident.
    for bad, described in (([0.0], "dtype float64 and shape (1,)"), ([[0]], "dtype int64 and shape (1, 1)")):
        with pytest.raises(InputError) as err:
            sm.transform(left, right, bad, [0])
        assert str(err.value) == f"left_pos must be a 1-D array of integer row positions, got {described}."
    # The last row is a valid position.
    assert sm.transform(left, right, [2], [2]).tolist() == [[0.0, 1.0]]


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


def test_progress_bar_counts_scores_from_the_threshold(tables, capsys, monkeypatch):
    import lossmatch.similarity.map as similarity_map

    left, right = tables
    sm = SimilarityMap({"given_name": ["exact", "ratio"]})
    monkeypatch.setattr(similarity_map, "PROGRESS_MIN_PAIRS", 2)
    # One pair is below the threshold: no bar.
    sm.transform(left, right, [0], [0])
    assert capsys.readouterr().err == ""
    # Two pairs reach it: a bar on stderr counting 2 pairs x 2 similarities = 4 scores.
    sm.transform(left, right, [0, 1], [0, 1])
    err = capsys.readouterr().err
    assert "similarities: 100%" in err and "| 4.00/4.00 [" in err and "score/s]" in err
    # progress=False wins over the threshold.
    sm.transform(left, right, [0, 1], [0, 1], progress=False)
    assert capsys.readouterr().err == ""


def test_workers_reach_rapidfuzz(tables, monkeypatch):
    from rapidfuzz import process

    left, right = tables
    seen = []
    original = process.cpdist

    def spy(*args, **kwargs):
        seen.append(kwargs["workers"])
        return original(*args, **kwargs)

    monkeypatch.setattr(process, "cpdist", spy)
    SimilarityMap({"given_name": ["ratio"]}).transform(left, right, [0], [0], workers=1)
    SimilarityMap({"given_name": ["ratio"]}).transform(left, right, [0], [0])
    assert seen == [1, -1]


def test_omegaconf_nodes_are_resolved_to_plain_values():
    from omegaconf import OmegaConf

    # A Hydra config: ngram_range is a ListConfig and an interpolation; both must arrive as a list.
    cfg = OmegaConf.create({"sizes": [3, 3], "similarity": {"map": {"t": [{"name": "tfidf_char", "ngram_range": "${sizes}"}]}}})
    sm = SimilarityMap(cfg.similarity)
    assert sm.to_dict() == {"t": [{"name": "tfidf_char", "ngram_range": [3, 3]}]}
    assert type(sm.to_dict()["t"][0]["ngram_range"]) is list
    # Tuples become lists too, so the map round-trips through YAML and JSON.
    assert SimilarityMap({"t": ({"name": "tfidf_char", "ngram_range": (2, 3)},)}).to_dict() == {
        "t": [{"name": "tfidf_char", "ngram_range": [2, 3]}]}
    # numpy scalars (e.g. from a DataFrame) become Python numbers.
    assert SimilarityMap({"x": [{"name": "gaussian", "scale": np.float64(2.5)}]}).to_dict() == {
        "x": [{"name": "gaussian", "scale": 2.5}]}
    assert type(SimilarityMap({"x": [{"name": "gaussian", "scale": np.float64(2.5)}]}).to_dict()["x"][0]["scale"]) is float


def test_messages_name_both_columns_of_a_pair(tables):
    left, right = tables
    with pytest.raises(InputError) as err:
        SimilarityMap({"a~b": ["exact"], " a ~ b ": ["ratio"]})
    assert str(err.value) == "Column pair a~b appears twice in the similarity map (key ' a ~ b ')."
    with pytest.raises(InputError) as err:
        SimilarityMap({"given_name~surname": ["exact"]}).validate(left, right)
    assert str(err.value) == ("Column 'surname' (similarity map pair given_name~surname) is not in the right table; "
                              "available columns: given_name, street.")
