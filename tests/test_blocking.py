"""Blocking: candidate pairs from recordlinkage indexers, and pair completeness."""

import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from omegaconf import OmegaConf

from lossmatch.blocking import candidate_pairs, pair_completeness
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
