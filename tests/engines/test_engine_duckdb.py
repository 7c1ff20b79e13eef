"""DuckDB runs the blocking SQL and gives the in-memory path's pairs; features follow."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from omegaconf import OmegaConf

from lossmatch.blocking import candidate_keys, candidate_pairs
from lossmatch.data.febrl4 import Febrl4Source
from lossmatch.engines import duckdb as engine
from lossmatch.engines.sql import plan
from lossmatch.feature_store import write_features
from lossmatch.similarity import SimilarityMap

CONF = Path(__file__).resolve().parents[2] / "conf"

# Every method: exact blocks (one and two columns, different names), sorted neighbourhood,
# token rules on columns and on the whole record (with a fraction cap).
RULES = OmegaConf.to_container(OmegaConf.load(CONF / "data" / "febrl4.yaml").blocking) + [
    {"method": "sortedneighbourhood", "on": "surname", "window": 5},
    {"method": "block", "left_on": ["given_name", "surname"], "right_on": ["surname", "given_name"]},
    {"method": "token", "on": ["address_1", "suburb"], "max_df": 20},
    {"method": "token", "exclude": ["rec_id"], "max_df": 0.002},
]


@pytest.fixture(scope="module")
def febrl4():
    return Febrl4Source().load()


def test_duckdb_pairs_equal_in_memory_on_febrl4(febrl4):
    expected = candidate_keys(febrl4.left, febrl4.right, RULES)
    got = engine.candidate_keys(febrl4.left, febrl4.right, RULES, threads=2)
    assert len(expected) > 185_055 and np.array_equal(got, expected)
    pd.testing.assert_frame_equal(engine.candidate_pairs(febrl4.left, febrl4.right, RULES),
                                  candidate_pairs(febrl4.left, febrl4.right, RULES))


@pytest.mark.parametrize("rules", [
    [{"method": "block", "on": "x"}],
    [{"method": "block", "on": ["x", "s"]}],
    [{"method": "sortedneighbourhood", "on": "x", "window": 3}],
    [{"method": "sortedneighbourhood", "on": "s", "window": 5}],
    [{"method": "full"}],
    [{"method": "token", "on": "s", "max_df": 1}],
])
def test_duckdb_missing_values_never_pair(rules):
    # NaN in a float column and None/NaN in a text column are SQL NULLs: they join nothing.
    left = pd.DataFrame({"x": [1.0, np.nan, 2.0, 3.0, 2.0], "s": ["a b", None, "b", np.nan, "c"]})
    right = pd.DataFrame({"x": [np.nan, 1.0, 2.0, 7.0], "s": [None, "a", "b", "B c"]})
    assert np.array_equal(engine.candidate_keys(left, right, rules), candidate_keys(left, right, rules))


def test_duckdb_features_equal_in_memory(febrl4, tmp_path):
    sm = SimilarityMap(OmegaConf.to_container(OmegaConf.load(CONF / "similarity" / "febrl4.yaml"))["map"])
    left, right = febrl4.left.iloc[:1500], febrl4.right.iloc[:1500]
    keys = engine.candidate_keys(left, right, RULES)
    file = write_features(tmp_path / "f.parquet", sm, left, right, keys, chunk_size=2_000)
    lp, rp = np.divmod(candidate_keys(left, right, RULES), len(right))
    assert np.array_equal(file.features(), sm.transform(left, right, lp, rp))


def test_sql_names_no_user_column():
    # Key columns are aliased k0, k1...: a column called "select" or with a space needs no quoting.
    left = pd.DataFrame({"select": ["a", "b"], "my col": [1, 2]})
    right = pd.DataFrame({"select": ["b", "a"], "my col": [2, 2]})
    rules = [{"method": "block", "on": ["select", "my col"]}]
    query = plan(left, right, rules)
    assert "select\"" not in query.sql and "my col" not in query.sql
    assert query.left_keys == {"k0": "select", "k1": "my col"}
    assert np.array_equal(engine.candidate_keys(left, right, rules), candidate_keys(left, right, rules))
