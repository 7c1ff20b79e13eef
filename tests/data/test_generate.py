"""Synthetic people: seeded, FEBRL4's columns, known matches, realistic blocks, parameters checked."""

from pathlib import Path

import numpy as np
import pytest
from hydra.utils import instantiate
from omegaconf import OmegaConf

from lossmatch.blocking import candidate_keys, pair_completeness
from lossmatch.data.generate import COLUMNS, SCALE_BLOCKING, generate_people
from lossmatch.errors import InputError
from lossmatch.similarity import SimilarityMap

CONF = Path(__file__).resolve().parents[2] / "conf"


def test_same_seed_same_tables_other_seed_other_tables():
    a, b, c = (generate_people(300, seed=s) for s in (4, 4, 5))
    assert a.left.equals(b.left) and a.right.equals(b.right) and a.matches.equals(b.matches)
    assert not a.left.equals(c.left)


def test_shape_columns_ids_and_match_count():
    data = generate_people(1000, 800, match_rate=0.25, seed=1)
    assert list(data.left.columns) == COLUMNS and list(data.right.columns) == COLUMNS
    assert (len(data.left), len(data.right)) == (1000, 800)
    # match_rate is a share of the smaller table: 0.25 * 800 = 200 one-to-one matches.
    assert len(data.matches) == 200
    assert data.matches["left"].is_unique and data.matches["right"].is_unique
    assert data.left["rec_id"].is_unique and data.right["rec_id"].is_unique
    # The right table is shuffled: a match's row position says nothing about its partner's.
    assert (data.matches["left"] != data.matches["right"]).mean() > 0.9


def test_matched_records_are_the_same_person_unmatched_are_not():
    data = generate_people(2000, match_rate=0.5, corruption=0.0, missing=0.0, seed=2)
    left = data.left.iloc[data.matches["left"]].drop(columns="rec_id").reset_index(drop=True)
    right = data.right.iloc[data.matches["right"]].drop(columns="rec_id").reset_index(drop=True)
    # Without corruption a copy equals its original in every field (bar the 2% name swaps, which
    # scale with corruption and so are off here).
    assert left.equals(right)
    # The social security id identifies a person: unmatched right records share none with the left.
    unmatched = np.setdiff1d(np.arange(len(data.right)), data.matches["right"])
    assert not set(data.right["soc_sec_id"].iloc[unmatched]) & set(data.left["soc_sec_id"])


def test_corruption_and_missing_change_copies():
    data = generate_people(2000, match_rate=1.0, corruption=2.0, missing=0.1, seed=3)
    left = data.left.iloc[data.matches["left"]].drop(columns="rec_id").to_numpy(object)
    right = data.right.iloc[data.matches["right"]].drop(columns="rec_id").to_numpy(object)
    changed = (left != right).sum(axis=1)
    # Poisson(2) modifications plus 10% missing per field: most copies differ, by ~2-3 fields.
    assert 0.8 < np.mean(changed > 0) and 1.5 < changed.mean() < 4.5
    share_missing = data.left["given_name"].isna().mean()
    assert 0.07 < share_missing < 0.13


def test_name_frequencies_are_skewed_like_a_register():
    data = generate_people(20_000, seed=0)
    top_surname = data.left["surname"].value_counts(normalize=True).iloc[0]
    top_given = data.left["given_name"].value_counts(normalize=True).iloc[0]
    # Commonest surname near 1 % of people (Smith in English-speaking registers), given name a few %.
    assert 0.004 < top_surname < 0.02 and 0.02 < top_given < 0.08
    # Many rare surnames: most distinct surnames occur once or twice.
    counts = data.left["surname"].value_counts()
    assert (counts <= 2).mean() > 0.5


def test_hard_negatives_share_surname_and_address_with_a_left_record():
    data = generate_people(1000, match_rate=0.2, hard_negatives=1.0, missing=0.0, seed=5)
    unmatched = np.setdiff1d(np.arange(len(data.right)), data.matches["right"])
    key = ["surname", "address_1", "postcode"]
    left_keys = set(map(tuple, data.left[key].to_numpy()))
    right_keys = [tuple(r) for r in data.right[key].iloc[unmatched].to_numpy()]
    # Every unmatched right record is a relative: same surname and address as some left record.
    assert all(k in left_keys for k in right_keys)


def test_scale_blocking_finds_nearly_every_match_with_few_pairs():
    data = generate_people(5000, seed=1)
    keys = candidate_keys(data.left, data.right, SCALE_BLOCKING)
    assert pair_completeness(keys, data.matches, len(data.right)) > 0.97
    # ~3 candidates per record at this size, far from the 25 M of all pairs.
    assert len(keys) < 10 * 5000


def test_febrl4_similarity_map_applies():
    data = generate_people(200, seed=1)
    sm = SimilarityMap(OmegaConf.to_container(OmegaConf.load(CONF / "similarity" / "febrl4.yaml"))["map"])
    X = sm.transform(data.left, data.right, data.matches["left"].to_numpy(), data.matches["right"].to_numpy())
    assert X.shape == (100, 29) and np.isfinite(X).all()


@pytest.mark.parametrize("kwargs, expected", [
    ({"n_left": 0}, "data.n"),
    ({"n_left": 10, "match_rate": 1.5}, "data.match_rate"),
    ({"n_left": 10, "corruption": -1}, "data.corruption"),
    ({"n_left": 10, "missing": 1.0}, "data.missing"),
    ({"n_left": 10, "hard_negatives": "x"}, "data.hard_negatives"),
])
def test_bad_parameters(kwargs, expected):
    with pytest.raises(InputError, match=expected):
        generate_people(**kwargs)


def test_data_source_from_conf():
    cfg = OmegaConf.load(CONF / "data" / "synthetic_people.yaml")
    cfg.seed = 3
    cfg.n = 400
    data = instantiate(cfg, _convert_="all").load()
    assert len(data.left) == 400 and len(data.matches) == 200
    assert data.name == "synthetic_people"


def test_train_config_composes_with_febrl4_map(compose_cfg):
    cfg = compose_cfg(["data=synthetic_people", "data.n=300"])
    febrl4 = compose_cfg([])
    # similarity follows data (similarity: ${data}); the synthetic map is FEBRL4's.
    assert cfg.similarity.map == febrl4.similarity.map
    assert cfg.data._target_.endswith("SyntheticPeopleSource")
