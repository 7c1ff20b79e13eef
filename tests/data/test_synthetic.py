"""The shipped synthetic task: seeded, consistent matches, hard non-matches, checked parameters."""

import numpy as np
import pandas as pd
import pytest
from hydra.utils import instantiate
from omegaconf import OmegaConf
from rapidfuzz.distance import Levenshtein

from lossmatch.data import SyntheticSource
from lossmatch.data.synthetic import COLUMNS, Pools, corrupt, synthetic_tables
from lossmatch.errors import InputError

SMALL = {"n_records": 400, "duplicates": 0.1, "relatives": 0.1, "namesakes": 0.05}


@pytest.fixture(scope="module")
def pools():
    return Pools.from_febrl4()


@pytest.fixture(scope="module")
def data():
    return SyntheticSource(**SMALL).load()


def test_sizes_and_matches(data):
    assert (len(data.left), len(data.right)) == (400, 400)
    # 0.1 x 400 duplicates = 40 matches, each left and right record at most once.
    assert len(data.matches) == 40
    assert data.matches["left"].is_unique and data.matches["right"].is_unique
    assert list(data.left.columns) == ["rec_id", *COLUMNS]
    assert data.left["rec_id"].is_unique and data.right["rec_id"].is_unique


def test_same_generator_seed_same_data_other_seed_other_data(data):
    again = SyntheticSource(**SMALL).load()
    pd.testing.assert_frame_equal(again.right, data.right)
    pd.testing.assert_frame_equal(again.matches, data.matches)
    other = SyntheticSource(**SMALL, generator_seed=1).load()
    assert not other.left.equals(data.left)


def test_matches_are_close_copies_and_order_hides_them(data):
    left = data.left.iloc[data.matches["left"]].reset_index(drop=True)
    right = data.right.iloc[data.matches["right"]].reset_index(drop=True)
    # A duplicate keeps most of its fields, typed with errors: over all matched pairs, the
    # mean normalised edit similarity of the given name is high but below 1 (corrupted).
    both = left["given_name"].notna() & right["given_name"].notna()
    sim = np.mean([Levenshtein.normalized_similarity(a, b) for a, b in zip(left["given_name"][both], right["given_name"][both])])
    assert 0.6 < sim < 1.0
    # The right table is shuffled: duplicates are not the first rows.
    assert data.matches["right"].max() > 100


def test_relatives_and_namesakes_are_hard_non_matches(pools):
    rng = np.random.default_rng(5)
    left, right, matches = synthetic_tables(
        300, duplicates=0.0, relatives=0.2, namesakes=0.1, corruption=0.0, rng=rng, pools=pools
    )
    # No duplicates: no matches, yet with corruption 0 the hard non-matches copy whole fields:
    # 60 relatives share surname and address_1, 30 namesakes both names and address_1.
    assert len(matches) == 0
    key = ["surname", "address_1", "suburb"]
    shared = right.dropna(subset=key).merge(left.dropna(subset=key), on=key)
    assert len(shared) == 60 + 30
    names = ["given_name", "surname", "address_1"]
    # The 30 namesakes, plus any relative that drew its left record's given name by chance.
    assert len(right.dropna(subset=names).merge(left.dropna(subset=names), on=names)) >= 30


def test_corruption_zero_copies_and_one_changes(pools):
    people = SyntheticSource(**SMALL).load().left.drop(columns="rec_id")
    same = corrupt(people, 0.0, np.random.default_rng(0), pools)
    pd.testing.assert_frame_equal(same, people.reset_index(drop=True))
    heavy = corrupt(people, 1.0, np.random.default_rng(0), pools)
    # Per field, 0.6 are changed and 0.15 made missing at level 1: most surnames differ.
    changed = (heavy["surname"] != people["surname"]).mean()
    assert 0.5 < changed < 0.95


def test_imbalance_after_blocking(data):
    from lossmatch.blocking import candidate_pairs, pair_completeness

    rules = OmegaConf.to_container(OmegaConf.load(_conf()).blocking)
    candidates = candidate_pairs(data.left, data.right, rules)
    # Even on 400 x 400 records the shipped rules keep most matches and bring in far more non-matches.
    assert pair_completeness(candidates, data.matches) >= 0.85
    assert len(candidates) > 20 * len(data.matches)


def _conf():
    from conftest import CONF

    return CONF / "data" / "synthetic.yaml"


def test_config_instantiates_with_sample():
    cfg = OmegaConf.create({"data": OmegaConf.load(_conf())})
    cfg.data.n_records = 300
    cfg.data.sample = 100
    source = instantiate(cfg.data)
    data = source.load()
    assert len(data.left) == 100 and data.name == "synthetic"
    # The quoted "on" key arrives as written and is normalised by the source's checks.
    assert source.blocking[0] == {"method": "block", "left_on": ["given_name"], "right_on": ["given_name"]}


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"n_records": 5}, "data.n_records: expected an integer of at least 10, got 5"),
        ({"duplicates": 1.5}, "data.duplicates: expected a number in [0, 1], got 1.5"),
        ({"corruption": "high"}, "data.corruption: expected a number in [0, 1], got 'high'"),
        ({"duplicates": 0.5, "relatives": 0.4, "namesakes": 0.2}, "duplicates + relatives + namesakes = 1.1"),
        ({"n_records": 20, "duplicates": 0.01}, "gives no match"),
        ({"generator_seed": "x"}, "data.generator_seed: expected an integer, got 'x'"),
    ],
)
def test_bad_parameters_are_one_line_input_errors(kwargs, message):
    with pytest.raises(InputError) as err:
        SyntheticSource(**kwargs).load()
    assert message in str(err.value) and "\n" not in str(err.value)
