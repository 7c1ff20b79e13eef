"""The candidate-pair and feature stages run by Spark (``pip install lossmatch[spark]``).

Blocking is the SQL of :mod:`lossmatch.engines.sql` run by Spark SQL; words of token
rules come from the in-memory tokenizer applied per partition (``mapInPandas``).
Features are ``SimilarityMap.transform`` applied per partition with ``mapInPandas``
over rapidfuzz, so they are the same code and the same numbers as the in-memory path:

- maps whose similarities look at a pair's two values only (all but TF-IDF) join each
  pair with the two records' compared values and score partitions independently, so
  nothing has to fit on one machine;
- maps with TF-IDF (weights fitted on every distinct value of a column) broadcast the
  compared columns to every executor and score positions against the whole tables,
  which needs those columns to fit in an executor's memory.

Feature columns are named ``f0, f1, ...`` (Spark's Parquet writer refuses some
characters of feature names); :func:`feature_names` maps them back.

    spark = local_session()            # or your cluster's SparkSession
    pairs = candidate_pairs(spark, left, right, rules)
    scored = features(spark, similarity_map, left, right, pairs, matches=matches)
    scored.write.parquet("features/")
"""

from __future__ import annotations

import os
import sys

import numpy as np
import pandas as pd

from lossmatch.engines.sql import LEFT, RIGHT, key_table, plan, token_table
from lossmatch.errors import InputError
from lossmatch.similarity import SimilarityMap

__all__ = ["candidate_keys", "candidate_pairs", "feature_names", "features", "local_session", "to_pandas"]


def local_session(*, cores: int = 2, memory: str = "2g", shuffle_partitions: int = 8, app_name: str = "lossmatch"):
    """A local-mode SparkSession bound to the loopback interface only, with no web UI.

    Workers import lossmatch from the same place as this process (PYTHONPATH is passed on).
    """
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise InputError("engine=spark needs pyspark: pip install 'lossmatch[spark]'") from None
    import lossmatch

    # The JVM reads SPARK_LOCAL_IP when it starts; driver host and bind address pin the rest.
    os.environ["SPARK_LOCAL_IP"] = "127.0.0.1"
    # Local workers run this interpreter, not whichever python3 is first on PATH (which may
    # lack lossmatch's dependencies when the virtual environment is not activated).
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    source_root = os.path.dirname(os.path.dirname(os.path.abspath(lossmatch.__file__)))
    python_path = os.pathsep.join(p for p in (source_root, os.environ.get("PYTHONPATH")) if p)
    return (
        SparkSession.builder.master(f"local[{int(cores)}]").appName(app_name)
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.ui.enabled", "false")
        .config("spark.driver.memory", memory)
        .config("spark.sql.shuffle.partitions", str(int(shuffle_partitions)))
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.executorEnv.PYTHONPATH", python_path)
        .getOrCreate()
    )


def _spark_frame(spark, table: pd.DataFrame):
    # All-null object columns have no type Arrow can infer; a string column of nulls joins nothing either.
    table = table.copy()
    for column in table.columns:
        if table[column].dtype == object and table[column].isna().all():
            table[column] = pd.Series([None] * len(table), dtype="string")
    return spark.createDataFrame(table)


def _tokens(spark, frame: pd.DataFrame, columns: list[str]):
    """Token table built per partition with the in-memory tokenizer (``mapInPandas``)."""
    # The cells' text as the tokenizer reads it, so Spark's typing cannot change a word.
    names = [f"c{j}" for j in range(len(columns))]
    text = _canonical(frame, columns).set_axis(names, axis=1)
    text.insert(0, "pos", np.arange(len(frame), dtype=np.int64))
    records = _spark_frame(spark, text)

    def split(batches):
        for batch in batches:
            tokens = token_table(batch[names].astype(object), names)
            yield pd.DataFrame({"pos": batch["pos"].to_numpy(np.int64)[tokens["pos"].to_numpy()],
                                "token": tokens["token"]})

    return records.mapInPandas(split, "pos long, token string")


def candidate_pairs(spark, left: pd.DataFrame, right: pd.DataFrame, rules):
    """A Spark DataFrame of distinct pairs (``left``, ``right``: row positions, long)."""
    query = plan(left, right, rules)
    views = {LEFT: _spark_frame(spark, key_table(left, query.left_keys)),
             RIGHT: _spark_frame(spark, key_table(right, query.right_keys))}
    for i, (left_columns, right_columns) in query.tokens.items():
        views[f"{LEFT}_tokens_{i}"] = _tokens(spark, left, left_columns)
        views[f"{RIGHT}_tokens_{i}"] = _tokens(spark, right, right_columns)
    for name, frame in views.items():
        frame.createOrReplaceTempView(name)
    return spark.sql(query.sql).withColumnRenamed("l", "left").withColumnRenamed("r", "right")


def candidate_keys(left: pd.DataFrame, right: pd.DataFrame, rules, *, spark=None) -> np.ndarray:
    """Sorted distinct pair keys, as :func:`lossmatch.blocking.candidate_keys` returns them,
    computed by Spark SQL (``spark``: a session; by default :func:`local_session`)."""
    from lossmatch.blocking import unique_sorted

    spark = spark or local_session()
    pairs = candidate_pairs(spark, left, right, rules)
    keys = pairs.selectExpr(f"`left` * {len(right)} + `right` AS key").toPandas()["key"].to_numpy(np.int64)
    return unique_sorted(keys)


def feature_names(similarity_map: SimilarityMap) -> dict[str, str]:
    """``{"f0": first feature name, ...}``: Spark column -> feature name."""
    return {f"f{j}": name for j, name in enumerate(similarity_map.feature_names)}


def _canonical(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """The compared columns as the map reads them (stripped text, "" when missing), so a
    value survives Spark's typing unchanged: scoring this text gives the same numbers."""
    from lossmatch.similarity.functions import (
        _Side,  # the map's own cell-to-text conversion
    )

    return pd.DataFrame({c: _Side(frame[c]).text.astype(str) for c in columns})


def features(spark, similarity_map: SimilarityMap, left: pd.DataFrame, right: pd.DataFrame, pairs,
             *, matches: pd.DataFrame | None = None):
    """Spark DataFrame ``left, right[, label], f0, f1, ...`` with the map's features of ``pairs``
    (a Spark DataFrame with ``left``, ``right``), scored per partition by ``mapInPandas``."""
    from lossmatch.feature_store import per_pair_map

    similarity_map.validate(left, right)
    spec = similarity_map.to_dict()
    left_columns, right_columns = similarity_map.left_columns, similarity_map.right_columns
    out_names = list(feature_names(similarity_map))
    labelled = matches is not None
    if labelled:
        known = _spark_frame(spark, matches[["left", "right"]].astype(np.int64).assign(label=np.float32(1.0)))
        pairs = pairs.join(known, on=["left", "right"], how="left").fillna(0.0, subset=["label"])
    schema = ", ".join(["left long", "right long"] + (["label float"] if labelled else [])
                       + [f"{name} float" for name in out_names])

    def frame_of(batch, X):
        out = pd.DataFrame(X, columns=out_names)
        out.insert(0, "left", batch["left"].to_numpy(np.int64))
        out.insert(1, "right", batch["right"].to_numpy(np.int64))
        if labelled:
            out.insert(2, "label", batch["label"].to_numpy(np.float32))
        return out

    if per_pair_map(similarity_map):
        lcols = _canonical(left, left_columns).set_axis([f"l{j}" for j in range(len(left_columns))], axis=1)
        rcols = _canonical(right, right_columns).set_axis([f"r{j}" for j in range(len(right_columns))], axis=1)
        lcols.insert(0, "left", np.arange(len(left), dtype=np.int64))
        rcols.insert(0, "right", np.arange(len(right), dtype=np.int64))
        joined = pairs.join(_spark_frame(spark, lcols), on="left").join(_spark_frame(spark, rcols), on="right")

        def score(batches):
            sm = SimilarityMap(spec)
            for batch in batches:
                lt = pd.DataFrame({c: batch[f"l{j}"].to_numpy(object) for j, c in enumerate(left_columns)})
                rt = pd.DataFrame({c: batch[f"r{j}"].to_numpy(object) for j, c in enumerate(right_columns)})
                rows = np.arange(len(batch))
                yield frame_of(batch, sm.transform(lt, rt, rows, rows, workers=1, progress=False))

        return joined.mapInPandas(score, schema)

    tables = spark.sparkContext.broadcast((_canonical(left, left_columns), _canonical(right, right_columns)))

    def score_whole(batches):
        sm = SimilarityMap(spec)
        lt, rt = tables.value
        for batch in batches:
            yield frame_of(batch, sm.transform(lt, rt, batch["left"].to_numpy(np.int64),
                                               batch["right"].to_numpy(np.int64), workers=1, progress=False))

    return pairs.mapInPandas(score_whole, schema)


def to_pandas(scored, similarity_map: SimilarityMap) -> tuple[pd.DataFrame, np.ndarray, np.ndarray | None]:
    """Collect a (small) features DataFrame: pairs sorted by (left, right), features, labels."""
    frame = scored.toPandas().sort_values(["left", "right"]).reset_index(drop=True)
    X = frame[list(feature_names(similarity_map))].to_numpy(np.float32)
    y = frame["label"].to_numpy(np.float32) if "label" in frame.columns else None
    return frame[["left", "right"]].astype(np.int64), X, y
