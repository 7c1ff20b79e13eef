"""Engines for the candidate-pair stage beyond pandas: the rules written once as SQL joins
(:mod:`lossmatch.engines.sql`) and run by DuckDB (:mod:`lossmatch.engines.duckdb`, embedded,
out of core) or Spark (:mod:`lossmatch.engines.spark`, ``pip install lossmatch[spark]``).

Every engine gives the same candidate pairs as :func:`lossmatch.blocking.candidate_pairs`
and the same features as ``SimilarityMap.transform``: the similarities are the same Python
code (rapidfuzz), applied to chunks of pairs. Engines are imported on demand, so neither
DuckDB nor Spark is loaded unless asked for.
"""

ENGINES = ("memory", "duckdb", "spark")

__all__ = ["ENGINES"]
