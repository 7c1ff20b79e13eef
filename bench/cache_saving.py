"""What the feature cache saves: blocking + features without the cache, with a cold cache (first
run: compute and store) and with a warm one (every later run, job or trial: read and verify).

Data: FEBRL4 with ``conf/data/febrl4.yaml`` rules and ``conf/similarity/febrl4.yaml`` map, and
synthetic people of ``--n`` records per side (``SCALE_BLOCKING``, same map). Medians of
``--rounds`` interleaved rounds; every result is checked equal to the uncached one.

    python bench/cache_saving.py [--n 200000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

from lossmatch.blocking import candidate_keys
from lossmatch.cache import FeatureCache
from lossmatch.data.febrl4 import Febrl4Source
from lossmatch.data.generate import SCALE_BLOCKING, generate_people
from lossmatch.feature_store import compute_features
from lossmatch.similarity import SimilarityMap

CONF = Path(__file__).resolve().parents[1] / "conf"


def compare(name, left, right, rules, similarity_map, rounds) -> None:
    def uncached():
        keys = candidate_keys(left, right, rules, progress=False)
        return keys, compute_features(similarity_map, left, right, keys, progress=False)

    def cached(directory):
        cache = FeatureCache(directory)
        digests = cache.table_digests(left, right)  # as a run would: once
        keys = cache.candidate_keys(left, right, rules, digests=digests)
        return keys, cache.feature_matrix(similarity_map, left, right, keys, progress=False, digests=digests)

    seconds = {"no cache": [], "cold cache": [], "warm cache": []}
    expected = None
    for _ in range(rounds):
        directory = Path(tempfile.mkdtemp(prefix="lossmatch-cache-"))
        # The second cached run finds what the first one stored.
        for label, directory_or_none in (("no cache", None), ("cold cache", directory), ("warm cache", directory)):
            start = time.perf_counter()
            keys, X = uncached() if directory_or_none is None else cached(directory_or_none)
            seconds[label].append(time.perf_counter() - start)
            if expected is None:
                expected = (keys, X)
            elif not (np.array_equal(keys, expected[0]) and np.array_equal(X, expected[1])):
                raise SystemExit(f"{name}: {label} differs from the uncached result")
        shutil.rmtree(directory)
    base = statistics.median(seconds["no cache"])
    print(f"\n{name}: {len(expected[0]):,} candidate pairs x {expected[1].shape[1]} features, results identical")
    for label, values in seconds.items():
        median = statistics.median(values)
        print(f"  {label:<11} median {median:7.2f} s   ratio to no cache {median / base:5.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    sm = SimilarityMap(yaml.safe_load((CONF / "similarity" / "febrl4.yaml").read_text())["map"])
    rules = yaml.safe_load((CONF / "data" / "febrl4.yaml").read_text())["blocking"]
    data = Febrl4Source().load()
    compare("FEBRL4", data.left, data.right, rules, sm, args.rounds)
    data = generate_people(args.n, seed=0)
    compare(f"synthetic people N={args.n:,}", data.left, data.right, SCALE_BLOCKING, sm, args.rounds)


if __name__ == "__main__":
    main()
