"""Spark (local mode, loopback only) gives the in-memory path's pairs and features on a small input.

Runs in CI (the test extra installs the spark extra; Java 17 is on the machine): starting the
JVM and Spark's Python workers takes most of the module's minute on a 2-core machine.
"""

from pathlib import Path

import numpy as np
import pytest
from omegaconf import OmegaConf

from lossmatch.blocking import candidate_pairs
from lossmatch.common import contains_pairs
from lossmatch.data.febrl4 import Febrl4Source
from lossmatch.similarity import SimilarityMap

# Needs the spark extra (in the test extra) and Java 17.

CONF = Path(__file__).resolve().parents[2] / "conf"
RULES = OmegaConf.to_container(OmegaConf.load(CONF / "data" / "febrl4.yaml").blocking) + [
    {"method": "sortedneighbourhood", "on": "surname", "window": 5},
    {"method": "token", "on": ["address_1", "suburb"], "max_df": 5},
    {"method": "token", "exclude": ["rec_id"], "max_df": 0.01},
]


@pytest.fixture(scope="module")
def spark():
    from lossmatch.engines.spark import local_session

    session = local_session(cores=2, shuffle_partitions=2)
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(scope="module")
def sample():
    data = Febrl4Source(sample=300, seed=3).load()
    data.left.loc[3, "street_number"] = np.nan  # a float NaN must stay missing through Spark
    return data


def test_local_session_binds_loopback_only(spark):
    conf = spark.sparkContext.getConf()
    assert spark.sparkContext.master.startswith("local[")
    assert conf.get("spark.driver.host") == "127.0.0.1" and conf.get("spark.driver.bindAddress") == "127.0.0.1"
    assert conf.get("spark.ui.enabled") == "false"


@pytest.fixture(scope="module")
def spark_pairs(spark, sample):
    from lossmatch.engines import spark as engine

    return engine.candidate_pairs(spark, sample.left, sample.right, RULES)


def test_spark_pairs_equal_in_memory(spark_pairs, sample):
    got = spark_pairs.toPandas().sort_values(["left", "right"]).reset_index(drop=True).astype(np.int64)
    expected = candidate_pairs(sample.left, sample.right, RULES)
    assert len(expected) > 1000 and got.equals(expected)


@pytest.mark.parametrize("spec", [
    # Per-pair similarities: rows travel with the pairs, partitions are scored independently.
    {"given_name": ["jaro_winkler", "exact"], "street_number": ["numeric_abs", "levenshtein"],
     "address_1": ["token_set_ratio", "token_jaccard"]},
    # TF-IDF needs whole columns: they are broadcast.
    {"given_name": ["tfidf_char"], "address_1": ["tfidf_word", "jaro"]},
], ids=["per_pair", "tfidf"])
def test_spark_features_equal_in_memory(spark, spark_pairs, sample, spec):
    from lossmatch.engines import spark as engine

    sm = SimilarityMap(spec)
    scored = engine.features(spark, sm, sample.left, sample.right, spark_pairs, matches=sample.matches)
    pairs, X, y = engine.to_pandas(scored, sm)
    expected = candidate_pairs(sample.left, sample.right, RULES)
    assert pairs.equals(expected)
    assert np.array_equal(X, sm.transform(sample.left, sample.right, expected["left"].to_numpy(),
                                          expected["right"].to_numpy()))
    assert np.array_equal(y, contains_pairs(expected, sample.matches, len(sample.right)).astype(np.float32))


def test_spark_features_written_to_parquet_stream_back(spark, spark_pairs, sample, tmp_path):
    from lossmatch.engines import spark as engine
    from lossmatch.feature_store import FeatureFile

    sm = SimilarityMap({"surname": ["jaro_winkler"], "postcode": ["exact"]})
    engine.features(spark, sm, sample.left, sample.right, spark_pairs, matches=sample.matches) \
        .write.parquet(str(tmp_path / "features"))
    # Spark's directory of part files reads as one features file (rows in Spark's order).
    file = FeatureFile(tmp_path / "features")
    order = np.lexsort((file.column("right"), file.column("left")))
    expected = candidate_pairs(sample.left, sample.right, RULES)
    assert file.pairs().iloc[order].reset_index(drop=True).equals(expected)
    assert np.array_equal(file.features()[order], sm.transform(sample.left, sample.right, expected["left"].to_numpy(),
                                                               expected["right"].to_numpy()))


def test_spark_candidate_keys_equal_in_memory_keys(spark, sample):
    # What the pipeline's prepare stage asks for with engine=spark (through the feature cache).
    from lossmatch.blocking import candidate_keys
    from lossmatch.engines import spark as engine

    got = engine.candidate_keys(sample.left, sample.right, RULES, spark=spark)
    expected = candidate_keys(sample.left, sample.right, RULES)
    assert got.dtype == np.int64 and len(expected) > 0
    np.testing.assert_array_equal(got, expected)
