"""Candidate pairs by engine: in-memory NumPy against DuckDB (and Spark with --spark), same process.

Data: synthetic people (``lossmatch.data.generate``) at each N with ``SCALE_BLOCKING``, and
FEBRL4 copied 10 times (50k records, 18.5 M pairs; rules of ``conf/data/febrl4.yaml``).
Rounds are interleaved (memory, duckdb, memory, duckdb, ...) and the median is reported
with the ratio to the in-memory median; every engine's keys are checked equal.

    python bench/engines.py [N ...] [--rounds 3] [--spark]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from blocking_speed import RULES, febrl4_copies

from lossmatch.blocking import candidate_keys
from lossmatch.data.generate import SCALE_BLOCKING, generate_people
from lossmatch.engines import duckdb as duck


def compare(name, left, right, rules, rounds, spark=None) -> None:
    engines = {"memory": lambda: candidate_keys(left, right, rules, progress=False),
               "duckdb": lambda: duck.candidate_keys(left, right, rules)}
    if spark is not None:
        from lossmatch.engines import spark as spark_engine

        def with_spark():
            pairs = spark_engine.candidate_pairs(spark, left, right, rules).toPandas()
            return np.sort(pairs["left"].to_numpy(np.int64) * len(right) + pairs["right"].to_numpy(np.int64))

        engines["spark"] = with_spark
    seconds = {e: [] for e in engines}
    results = {}
    for _ in range(rounds):
        for engine, run in engines.items():
            start = time.perf_counter()
            results[engine] = run()
            seconds[engine].append(time.perf_counter() - start)
    base = statistics.median(seconds["memory"])
    equal = all(np.array_equal(results[e], results["memory"]) for e in engines)
    print(f"\n{name}: {len(left):,} x {len(right):,} records, {len(results['memory']):,} pairs, "
          f"all engines equal: {equal}")
    for engine in engines:
        median = statistics.median(seconds[engine])
        print(f"  {engine:<8} median {median:8.2f} s   ratio to memory {median / base:6.2f}")
    if not equal:
        raise SystemExit("engines disagree")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sizes", type=int, nargs="*", default=[50_000, 200_000])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--spark", action="store_true", help="also Spark in local mode (slow to start)")
    args = parser.parse_args()
    spark = None
    if args.spark:
        from lossmatch.engines.spark import local_session

        spark = local_session()
        spark.sparkContext.setLogLevel("ERROR")
    for n in args.sizes:
        data = generate_people(n, seed=0)
        compare(f"synthetic people N={n:,}", data.left, data.right, SCALE_BLOCKING, args.rounds, spark)
    left, right, _ = febrl4_copies(10)
    compare("FEBRL4 x 10", left, right, RULES, args.rounds, spark)


if __name__ == "__main__":
    main()
