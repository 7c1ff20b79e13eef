"""Whole-record keys ('*'), table-context features, chunk independence and the map syntax for them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

from lossmatch.errors import InputError
from lossmatch.similarity import SimilarityMap, load_similarity_map, save_similarity_map


def features(sm, left, right, lp, rp):
    out = sm.transform(left, right, np.asarray(lp), np.asarray(rp))
    return dict(zip(sm.feature_names, out.T))


def test_record_key_joins_the_mapped_columns():
    left = pd.DataFrame({"title": ["sony a100"], "brand": [None]})
    right = pd.DataFrame({"title": ["sony dslr"], "brand": ["sony"]})
    sm = SimilarityMap({"title": ["exact"], "brand": ["exact"], "*": ["token_overlap"],
                        "brand~*": ["token_overlap"], "*~brand": ["token_overlap"]})
    f = features(sm, left, right, [0], [0])
    # Records: "sony a100" and "sony dslr sony"; words {sony, a100} and {sony, dslr}: 1 / min(2, 2).
    assert f["*~*:token_overlap"][0] == pytest.approx(0.5)
    # The left brand is missing: its cross entry scores 0 and is flagged missing.
    assert f["brand~*:token_overlap"][0] == 0.0
    assert f["brand~*:missing"][0] == 1.0
    # The right brand "sony" is found in the left record: 1 / min(1, 2).
    assert f["*~brand:token_overlap"][0] == 1.0
    assert sm.left_columns == ["title", "brand"]


def test_record_uses_columns_named_on_its_side_only():
    left = pd.DataFrame({"name": ["acme"], "description": ["red 5kg"]})
    right = pd.DataFrame({"name": ["acme ltd"]})
    # A left-only column compared with the right record joins the left record too.
    sm = SimilarityMap({"name": ["exact"], "description~*": ["token_overlap"], "*": ["token_overlap"]})
    f = features(sm, left, right, [0], [0])
    # Left record "acme red 5kg" {acme, red, 5kg}, right "acme ltd" {acme, ltd}: 1 / min(3, 2).
    assert f["*~*:token_overlap"][0] == pytest.approx(0.5)
    # "red 5kg" has nothing in "acme ltd".
    assert f["description~*:token_overlap"][0] == 0.0


# Left titles "a b", "c d"; right "a b", "a c", "x". token_overlap = |A & B| / min(|A|, |B|):
#            R0 "a b"  R1 "a c"  R2 "x"
#   L0 "a b"   1        1/2       0        best R0, runner-up 1/2
#   L1 "c d"   0        1/2       0        best R1, runner-up 0
# Right side: R0's best is L0 (runner-up 0); R1 ties L0 and L1 at 1/2, the first (L0) is its
# best and the runner-up is 1/2; R2 scores 0 with both.
CONTEXT_LEFT = pd.DataFrame({"t": ["a b", "c d"]})
CONTEXT_RIGHT = pd.DataFrame({"t": ["a b", "a c", "x"]})
CONTEXT_MAP = {"t": [{"name": "token_overlap", "context": True}]}


def test_context_features_by_hand():
    sm = SimilarityMap(CONTEXT_MAP)
    assert sm.feature_names == ["t~t:token_overlap", "t~t:token_overlap:margin_left",
                                "t~t:token_overlap:margin_right", "t~t:token_overlap:mutual_best", "t~t:missing"]
    f = features(sm, CONTEXT_LEFT, CONTEXT_RIGHT, [0, 0, 1, 1], [0, 1, 1, 2])
    assert f["t~t:token_overlap"] == pytest.approx([1.0, 0.5, 0.5, 0.0])
    # (L0,R0): 1 - runner-up 1/2; (L0,R1): 1/2 - best 1; (L1,R1): 1/2 - runner-up 0; (L1,R2): 0 - best 1/2.
    assert f["t~t:token_overlap:margin_left"] == pytest.approx([0.5, -0.5, 0.5, -0.5])
    # (L0,R0): 1 - 0; (L0,R1): R1's best is L0, 1/2 - runner-up 1/2; (L1,R1): 1/2 - best 1/2; (L1,R2): 0 - 0.
    assert f["t~t:token_overlap:margin_right"] == pytest.approx([1.0, 0.0, 0.0, 0.0])
    # Only L0 and R0 are each other's best.
    assert f["t~t:token_overlap:mutual_best"].tolist() == [1.0, 0.0, 0.0, 0.0]


def test_context_features_are_zero_where_a_value_is_missing():
    left = pd.DataFrame({"t": ["a b", "c d", None]})
    right = pd.DataFrame({"t": ["a b", "a c", "x", None]})
    f = features(SimilarityMap(CONTEXT_MAP), left, right, [0, 2, 0], [0, 0, 3])
    # (L0, R0) as in the hand-checked test above: the records without a value take no part in the
    # context (L0: 1 - runner-up 1/2; R0: 1 - runner-up 0; each other's best).
    assert [f[k][0] for k in ("t~t:token_overlap:margin_left", "t~t:token_overlap:margin_right",
                              "t~t:token_overlap:mutual_best")] == pytest.approx([0.5, 1.0, 1.0])
    # (L2, R0) and (L0, R3) have a missing side: every context feature is 0 and ':missing' says why.
    for k in ("t~t:token_overlap:margin_left", "t~t:token_overlap:margin_right", "t~t:token_overlap:mutual_best"):
        assert f[k][1:].tolist() == [0.0, 0.0], k
    assert f["t~t:missing"].tolist() == [0.0, 1.0, 1.0]


def test_context_counts_records_with_equal_values():
    right = pd.DataFrame({"t": ["a b", "a c", "x", "a b"]})
    f = features(SimilarityMap(CONTEXT_MAP), CONTEXT_LEFT, right, [0], [0])
    # R3 repeats R0's value, so L0's best *other* record scores 1 too: margin 1 - 1 = 0.
    assert f["t~t:token_overlap:margin_left"][0] == pytest.approx(0.0)


def test_context_ignores_the_other_pairs():
    sm = SimilarityMap(CONTEXT_MAP)
    alone = features(sm, CONTEXT_LEFT, CONTEXT_RIGHT, [1], [2])
    together = features(sm, CONTEXT_LEFT, CONTEXT_RIGHT, [0, 0, 1, 1], [0, 1, 1, 2])
    # (L1, R2) gets the same context alone as among other pairs: the whole table decides.
    for name, column in alone.items():
        assert column[0] == together[name][3], name


def _random_tables(seed=0, n=40):
    rng = np.random.default_rng(seed)
    words = ["acme", "sony", "canon", "dslr", "a100", "5d", "mk2", "lens", "red", "blue", "2008", "ipod"]

    def table(size):
        titles = [" ".join(rng.choice(words, size=rng.integers(1, 5))) for _ in range(size)]
        brands = [rng.choice(words) if rng.random() < 0.6 else None for _ in range(size)]
        prices = [f"{rng.integers(1, 500)}.99" if rng.random() < 0.8 else "" for _ in range(size)]
        return pd.DataFrame({"id": range(size), "title": titles, "brand": brands, "price": prices})

    return table(n), table(n + 7)


def test_features_do_not_depend_on_chunking():
    from lossmatch.similarity.auto import infer_map

    left, right = _random_tables()
    sm = SimilarityMap(infer_map(left, right, ignore=["id"]))
    assert any(name.endswith(":mutual_best") for name in sm.feature_names)  # context is in the map
    rng = np.random.default_rng(1)
    lp, rp = rng.integers(0, len(left), 300), rng.integers(0, len(right), 300)
    whole = sm.transform(left, right, lp, rp)
    parts = [sm.transform(left, right, lp[s], rp[s]) for s in (slice(0, 1), slice(1, 120), slice(120, 300))]
    # All pairs at once and in three chunks give identical arrays, bit for bit.
    np.testing.assert_array_equal(whole, np.vstack(parts))


def test_yaml_round_trip_of_new_syntax(tmp_path):
    spec = {"title": ["jaro_winkler", {"name": "tfidf_char", "ngram_range": [2, 3], "context": True}],
            "brand~*": ["token_overlap"], "*": [{"name": "tfidf_word", "context": True}, "code_jaccard"]}
    sm = SimilarityMap(spec)
    # to_dict gives back the spec; YAML keeps '*' keys and the context option.
    assert sm.to_dict() == spec
    save_similarity_map(sm, tmp_path / "map.yaml")
    assert yaml.safe_load((tmp_path / "map.yaml").read_text())["map"] == spec
    loaded = load_similarity_map(tmp_path / "map.yaml")
    assert loaded == sm and loaded.feature_names == sm.feature_names


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        ({"t": [{"name": "jaro_winkler", "context": True}]}, ["context", "jaro_winkler", "tfidf_word"]),
        ({"t": [{"name": "tfidf_word", "context": "yes"}]}, ["context", "true or false", "'yes'"]),
        ({"*": ["tfidf_word"]}, ["'*'", "left"]),
        ({"t~*": ["token_overlap"]}, ["'*'", "right"]),
        ({"t": [{"name": "token_overlap", "scale": 2}]}, ["token_overlap", "scale"]),
    ],
)
def test_bad_new_syntax_raises_one_line_input_error(spec, words):
    with pytest.raises(InputError) as err:
        SimilarityMap(spec)
    message = str(err.value)
    # One line that names what is wrong.
    assert "\n" not in message
    for word in words:
        assert word in message
