"""FEBRL4 source: sizes, ids, matches, sampling, and instantiation from conf/data."""

from pathlib import Path

import numpy as np
import pytest
from hydra.utils import instantiate
from omegaconf import OmegaConf

from lossmatch.data import Febrl4Source, MatchingData
from lossmatch.errors import InputError

CONF = Path(__file__).resolve().parents[2] / "conf" / "data"


def test_loads_full_dataset():
    data = Febrl4Source().load()
    assert isinstance(data, MatchingData)
    # 5000 x 5000 records, one match per left record.
    assert data.name == "febrl4"
    assert data.left.shape[0] == data.right.shape[0] == 5000
    assert len(data.matches) == 5000
    # rec_id became a unique id column; the index is row positions.
    assert data.id_left == data.id_right == "rec_id"
    assert data.left["rec_id"].is_unique and data.right["rec_id"].is_unique
    assert (data.left.index == np.arange(5000)).all()
    assert data.matches.dtypes.tolist() == [np.int64, np.int64]
    assert data.labelled_pairs is None
    # Matched records are the same person: rec-N-org pairs with rec-N-dup-0.
    row = data.matches.iloc[0]
    left_id = data.left.at[row["left"], "rec_id"]
    right_id = data.right.at[row["right"], "rec_id"]
    assert left_id.split("-")[1] == right_id.split("-")[1]


def test_sample_keeps_matches_and_is_seeded():
    a = Febrl4Source(sample=300, seed=1).load()
    b = Febrl4Source(sample=300, seed=1).load()
    c = Febrl4Source(sample=300, seed=2).load()
    # n left records, each with its one match (FEBRL4 has no unmatched records).
    assert len(a.left) == 300 and len(a.right) == 300 and len(a.matches) == 300
    assert a.matches["left"].max() < 300 and a.matches["right"].max() < 300
    # Same seed, same sample; another seed, another sample.
    assert a.left["rec_id"].tolist() == b.left["rec_id"].tolist()
    assert a.left["rec_id"].tolist() != c.left["rec_id"].tolist()
    # Positions were remapped: matched ids still agree.
    for left, right in a.matches.itertuples(index=False):
        assert a.left.at[left, "rec_id"].split("-")[1] == a.right.at[right, "rec_id"].split("-")[1]


def test_instantiates_from_config():
    cfg = OmegaConf.create({"seed": 3, "data": OmegaConf.load(CONF / "febrl4.yaml")})
    cfg.data.sample = 50
    source = instantiate(cfg.data)
    assert isinstance(source, Febrl4Source)
    # Every yaml key reaches the source as a plain attribute.
    assert source.seed == 3 and source.sample == 50
    assert source.split == {"val": 0.2, "test": 0.2}
    assert len(source.load().left) == 50
    # load() normalises the rules (YAML's bare `on` key included).
    assert source.blocking[0] == {"method": "block", "left_on": ["given_name"], "right_on": ["given_name"]}


def test_bad_config_raises_input_error_at_load():
    # instantiate must not raise: Hydra would wrap the error and hide its type.
    cfg = OmegaConf.create({"seed": 0, "data": OmegaConf.load(CONF / "febrl4.yaml")})
    cfg.data.split.test = 0.9
    source = instantiate(cfg.data)
    with pytest.raises(InputError, match=r"^data\.split: val \+ test = 1\.1; expected a sum below 1 "):
        source.load()
