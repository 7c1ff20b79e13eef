"""Blocking: candidate pairs from recordlinkage indexers, and pair completeness."""

import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from omegaconf import OmegaConf

from lossmatch.blocking import candidate_pairs, pair_completeness, recordlinkage_pairs
from lossmatch.data.febrl4 import Febrl4Source
from lossmatch.errors import InputError

CONF = Path(__file__).resolve().parents[1] / "conf" / "data"

# Labels deliberately not 0..n-1: results must be row positions anyway.
LEFT = pd.DataFrame(
    {"city": ["rome", "oslo", "rome", None], "name": ["ann", "bob", "cy", "dan"]}, index=[10, 11, 12, 13]
)
RIGHT = pd.DataFrame(
    {"town": ["rome", "oslo", None], "city": ["oslo", "rome", "rome"], "name": ["ann", "bo", "dan"]},
    index=["a", "b", "c"],
)


def pairs(df):
    return list(zip(df["left"], df["right"]))


def test_block_on_same_column():
    # city equal: left 0,2 (rome) x right 1,2; left 1 (oslo) x right 0; left 3 has no city.
    got = candidate_pairs(LEFT, RIGHT, [{"method": "block", "on": "city"}])
    assert pairs(got) == [(0, 1), (0, 2), (1, 0), (2, 1), (2, 2)]
    assert got.dtypes.tolist() == [np.int64, np.int64]


def test_block_left_on_right_on_and_union_sorted_unique():
    # city == town: (0,0), (1,1), (2,0); name exact: (0,0), (3,2). Union has (0,0) once.
    rules = [
        {"method": "block", "left_on": "city", "right_on": "town"},
        {"method": "block", "on": ["name"]},
    ]
    assert pairs(candidate_pairs(LEFT, RIGHT, rules)) == [(0, 0), (1, 1), (2, 0), (3, 2)]


def test_full_and_sorted_neighbourhood():
    # full: every pair.
    assert len(candidate_pairs(LEFT, RIGHT, [{"method": "full"}])) == 4 * 3
    # Sorted names ann, bo(R), bob(L), cy, dan(L), dan(R): window 3 pairs neighbours,
    # so "bob" meets "bo" despite the typo.
    got = pairs(candidate_pairs(LEFT, RIGHT, [{"method": "sortedneighbourhood", "on": "name", "window": 3}]))
    assert (1, 1) in got and (0, 0) in got and (3, 2) in got


@pytest.mark.parametrize(
    "rules, expected",
    [
        ([{"method": "block", "on": "zip"}], ["data.blocking[0]", "'zip'", "available columns"]),
        ([{"method": "block", "left_on": "city", "right_on": "nope"}], ["right table", "'nope'"]),
        ([{"method": "canopy", "on": "city"}], ["unknown method 'canopy'"]),
        ([{"method": "sortedneighbourhood", "on": "name", "window": 4}], ["window", "odd"]),
        ([{"method": "block", "on": "city", "windw": 3}], ["unknown keys", "windw"]),
        ([], ["non-empty list"]),
        (None, ["non-empty list"]),
    ],
)
def test_bad_rules(rules, expected):
    with pytest.raises(InputError) as info:
        candidate_pairs(LEFT, RIGHT, rules)
    for part in expected:
        assert part in str(info.value)


def test_pair_completeness_by_hand():
    cand = pd.DataFrame({"left": [0, 1, 2], "right": [0, 1, 5]})
    # 2 of the 3 matches are candidates: 2/3.
    assert pair_completeness(cand, pd.DataFrame({"left": [0, 1, 2], "right": [0, 1, 2]})) == pytest.approx(2 / 3)
    # No matches: nothing was missed.
    assert pair_completeness(cand, pd.DataFrame({"left": [], "right": []})) == 1.0


def test_febrl4_rules_from_config_reach_completeness():
    rules = OmegaConf.to_container(OmegaConf.load(CONF / "febrl4.yaml").blocking)
    data = Febrl4Source().load()
    start = time.perf_counter()
    cand = candidate_pairs(data.left, data.right, rules)
    seconds = time.perf_counter() - start
    completeness = pair_completeness(cand, data.matches)
    print(f"FEBRL4 blocking: {len(cand)} candidates, completeness {completeness:.4f}, {seconds:.2f} s")
    # Nearly every match survives blocking, with ~1% of the 25M pairs.
    assert completeness >= 0.998
    assert len(cand) <= 400_000


# -- int64 pair keys: the same pairs as recordlinkage, whatever the rule --------------------------


@pytest.fixture(scope="module")
def febrl4():
    return Febrl4Source().load()


def test_same_pairs_as_recordlinkage_on_febrl4(febrl4):
    rules = OmegaConf.to_container(OmegaConf.load(CONF / "febrl4.yaml").blocking) + [
        {"method": "sortedneighbourhood", "on": "surname", "window": 5},
        {"method": "block", "on": ["surname", "postcode"]},
        # Swapped names: multi-column keys with different left and right columns.
        {"method": "block", "left_on": ["given_name", "surname"], "right_on": ["surname", "given_name"]},
    ]
    got = candidate_pairs(febrl4.left, febrl4.right, rules)
    expected = recordlinkage_pairs(febrl4.left, febrl4.right, rules)
    assert len(got) > 185_055  # the five config rules alone give 185,055
    pd.testing.assert_frame_equal(got, expected)


@pytest.mark.parametrize("rules", [
    [{"method": "block", "on": "x"}],
    [{"method": "block", "on": ["x", "s"]}],
    [{"method": "sortedneighbourhood", "on": "x", "window": 3}],
    [{"method": "sortedneighbourhood", "on": "s", "window": 5}],
    [{"method": "full"}, {"method": "block", "on": "s"}],
])
def test_same_pairs_as_recordlinkage_with_missing_values(rules):
    # Floats with NaN, strings with None and NaN, an integer column: missing keys never pair.
    left = pd.DataFrame({"x": [1.0, np.nan, 2.0, 3.0, 2.0], "s": ["a", None, "b", np.nan, "c"]})
    right = pd.DataFrame({"x": [np.nan, 1.0, 2.0, 7.0], "s": [None, "a", "b", "b"]})
    pd.testing.assert_frame_equal(candidate_pairs(left, right, rules), recordlinkage_pairs(left, right, rules))


def test_sorted_neighbourhood_window_counts_distinct_values():
    # Distinct sorted values: a < b < c < d. Window 3 pairs values at most one rank apart:
    # left a(0) with right a(0), b(1); left d(1) with right c(2) only (no right d).
    left = pd.DataFrame({"k": ["a", "d"]})
    right = pd.DataFrame({"k": ["a", "b", "c"]})
    got = pairs(candidate_pairs(left, right, [{"method": "sortedneighbourhood", "on": "k", "window": 3}]))
    assert got == [(0, 0), (0, 1), (1, 2)]


def test_join_in_slices_gives_the_same_keys(febrl4, monkeypatch):
    from lossmatch import blocking

    rules = [{"method": "block", "on": "given_name"}]
    whole = blocking.candidate_keys(febrl4.left, febrl4.right, rules)
    # 1,000 pairs per slice: the 77,249 pairs of this rule come from ~78 slices.
    monkeypatch.setattr(blocking, "_JOIN_SLICE", 1_000)
    assert np.array_equal(blocking.candidate_keys(febrl4.left, febrl4.right, rules), whole)


def test_candidate_keys_are_sorted_unique_pair_keys(febrl4):
    from lossmatch.blocking import candidate_keys
    from lossmatch.common import pair_keys

    rules = [{"method": "block", "on": "surname"}, {"method": "block", "on": "postcode"}]
    keys = candidate_keys(febrl4.left, febrl4.right, rules)
    assert np.all(np.diff(keys) > 0)
    assert np.array_equal(keys, pair_keys(candidate_pairs(febrl4.left, febrl4.right, rules), len(febrl4.right)))


def test_unique_sorted_matches_numpy():
    from lossmatch.blocking import unique_sorted

    values = np.random.default_rng(0).integers(0, 50, 400)
    assert np.array_equal(unique_sorted(values), np.unique(values))
    assert unique_sorted(np.array([], dtype=np.int64)).tolist() == []
    assert unique_sorted(np.array([5])).tolist() == [5]


# -- token rules --------------------------------------------------------------------------------

PRODUCTS_L = pd.DataFrame({
    "title": ["Apple iPhone 12 black", "the Samsung Galaxy", "Nokia 3310", None, "THE the"],
    "brand": ["apple", "samsung", "nokia", "sony", None],
})
PRODUCTS_R = pd.DataFrame({
    "name": ["iphone 12 (black)", "Galaxy S10 by Samsung", "the nokia", "sony_tv", "black cable"],
    "maker": ["Apple Inc", "samsung", "nokia", "sony", None],
})


def _words(frame, columns):
    """Reference tokenizer: lower-cased runs of letters and digits of every non-missing cell."""
    import re

    return [[w for c in columns if pd.notna(v := frame[c].iloc[i]) for w in re.findall(r"[^\W_]+", str(v).lower())]
            for i in range(len(frame))]


def _token_pairs_by_hand(left_words, right_words, max_df):
    """Reference: a pair shares a word found in at most max_df records of each table."""
    df_left = pd.Series([w for ws in left_words for w in set(ws)]).value_counts()
    df_right = pd.Series([w for ws in right_words for w in set(ws)]).value_counts()
    out = set()
    for i, a in enumerate(left_words):
        for j, b in enumerate(right_words):
            if any(df_left[w] <= max_df and df_right[w] <= max_df for w in set(a) & set(b)):
                out.add((i, j))
    return sorted(out)


def test_token_rule_on_columns_by_hand():
    # Words of the titles: left 0 {apple, iphone, 12, black}, 1 {the, samsung, galaxy},
    # 2 {nokia, 3310}, 3 {} (missing), 4 {the}; right 0 {iphone, 12, black}, 1 {galaxy, s10, by,
    # samsung}, 2 {the, nokia}, 3 {sony, tv} ("_" separates words), 4 {black, cable}.
    # "the" is in 2 left records, "black" in 2 right records: max_df=1 drops both.
    rule = [{"method": "token", "left_on": "title", "right_on": "name", "max_df": 1}]
    assert pairs(candidate_pairs(PRODUCTS_L, PRODUCTS_R, rule)) == [(0, 0), (1, 1), (2, 2)]
    # max_df=2 keeps them: "the" adds (1, 2) and (4, 2), "black" adds (0, 4).
    rule[0]["max_df"] = 2
    assert pairs(candidate_pairs(PRODUCTS_L, PRODUCTS_R, rule)) == [(0, 0), (0, 4), (1, 1), (1, 2), (2, 2), (4, 2)]


def test_token_rule_whole_record_and_fraction_against_reference():
    # Whole record: every column (none excluded); max_df 0.4 of 5 records = 2 per table.
    got = pairs(candidate_pairs(PRODUCTS_L, PRODUCTS_R, [{"method": "token", "max_df": 0.4}]))
    assert got == _token_pairs_by_hand(_words(PRODUCTS_L, ["title", "brand"]), _words(PRODUCTS_R, ["name", "maker"]), 2)
    # Left 3 has no title; its brand "sony" meets right 3 ("sony_tv", maker "sony").
    assert (3, 3) in got
    # Excluding the brand columns leaves the titles only.
    rule = [{"method": "token", "max_df": 2, "exclude": ["brand", "maker"]}]
    titles = pairs(candidate_pairs(PRODUCTS_L, PRODUCTS_R, rule))
    assert titles == _token_pairs_by_hand(_words(PRODUCTS_L, ["title"]), _words(PRODUCTS_R, ["name"]), 2)
    assert (3, 3) not in titles


def test_token_rule_on_febrl4_against_reference(febrl4):
    left, right = febrl4.left.iloc[:400], febrl4.right.iloc[:400]
    cols = ["address_1", "suburb"]
    got = pairs(candidate_pairs(left, right, [{"method": "token", "on": cols, "max_df": 3}]))
    assert got == _token_pairs_by_hand(_words(left, cols), _words(right, cols), 3)
    assert len(got) > 50  # shared street and suburb words exist in 400 x 400 records


@pytest.mark.parametrize(
    "rule, expected",
    [
        ({"method": "token", "on": "title", "max_df": 0}, ["max_df", "positive integer"]),
        ({"method": "token", "on": "title", "max_df": 1.5}, ["max_df", "fraction in (0, 1]"]),
        ({"method": "token", "on": "title", "max_df": True}, ["max_df"]),
        ({"method": "token", "on": "title", "exclude": ["brand"]}, ["'exclude' is for whole-record"]),
        ({"method": "token", "exclude": ["nope"]}, ["exclude", "'nope'", "neither table"]),
        ({"method": "token", "on": "nope"}, ["'nope'", "left table"]),
    ],
)
def test_bad_token_rules(rule, expected):
    with pytest.raises(InputError) as info:
        candidate_pairs(PRODUCTS_L.rename(columns={}), PRODUCTS_R.rename(columns={"name": "title"}), [rule])
    for part in expected:
        assert part in str(info.value)


def test_pair_completeness_from_keys():
    from lossmatch.common import pair_keys

    cand = pd.DataFrame({"left": [0, 1, 2], "right": [0, 1, 5]})
    matches = pd.DataFrame({"left": [0, 1, 2, 2], "right": [0, 1, 2, 5]})
    # 3 of the 4 matches are candidates (2,2 is not); keys need the right table's size.
    assert pair_completeness(pair_keys(cand, 6), matches, 6) == pytest.approx(3 / 4)
    assert pair_completeness(cand, matches) == pytest.approx(3 / 4)
