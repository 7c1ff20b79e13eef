"""Time of ``similarity=auto`` features against the hand-written map of the same data, in one process.

For FEBRL4 (5,000 x 5,000 records, the 185,055 candidate pairs of ``conf/data/febrl4.yaml``'s
blocking) and for each DeepMatcher-format directory given (all labelled pairs), it times

- baseline: ``SimilarityMap.transform`` with the hand-written map (``conf/similarity/<name>.yaml``;
  a set without one is timed against the auto map without table context),
- candidate: the map ``similarity=auto`` infers (inference included), with its whole-table context,

interleaved, best of ``--repeat``, and prints both times, the ratio and the feature counts.

    python bench/auto_features_speed.py [DIR ...] [--repeat R] [--no-febrl4]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import yaml

from lossmatch.blocking import candidate_pairs
from lossmatch.similarity import SimilarityMap, load_similarity_map
from lossmatch.similarity.auto import resolve_similarity_map

CONF = Path(__file__).resolve().parents[1] / "conf"
# DeepMatcher directory name -> its hand-written map in conf/similarity/.
HAND_MAPS = {"Structured-Beer": "beer", "Structured-Fodors-Zagats": "fodors_zagats",
             "Structured-DBLP-ACM": "dblp_acm", "Structured-Amazon-Google": "amazon_google"}


def _febrl4():
    from lossmatch.data.febrl4 import Febrl4Source

    rules = yaml.safe_load((CONF / "data" / "febrl4.yaml").read_text())["blocking"]
    data = Febrl4Source(blocking=rules).load()
    pairs = candidate_pairs(data.left, data.right, rules)
    return "febrl4", data.left, data.right, data.id_left, pairs, load_similarity_map(CONF / "similarity" / "febrl4.yaml")


def _deepmatcher(path: str):
    import pandas as pd

    from lossmatch.data.deepmatcher import DeepMatcherSource

    data = DeepMatcherSource(path=path).load()
    pairs = pd.concat(list(data.labelled_pairs.values()), ignore_index=True)
    name = Path(path).name
    hand = (load_similarity_map(CONF / "similarity" / f"{HAND_MAPS[name]}.yaml") if name in HAND_MAPS else None)
    return name, data.left, data.right, data.id_left, pairs, hand


def _time(function, repeat: int) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = function()
        best = min(best, time.perf_counter() - start)
    return best, result


def compare(name, left, right, id_column, pairs, hand, repeat: int) -> None:
    """Time the baseline map and the auto map on the same pairs and print one line."""
    lp, rp = pairs["left"].to_numpy(), pairs["right"].to_numpy()

    def auto(context=True):
        config = {"auto": True, "auto_options": {"context": context}}
        sm = resolve_similarity_map(config, left, right, ignore=[id_column])
        return sm, sm.transform(left, right, lp, rp, progress=False)

    baseline_map = hand if hand is not None else auto(context=False)[0]
    auto()  # warm-up: imports and first-call costs stay out of both timings
    times = {"baseline": [], "auto": []}
    for _ in range(repeat):  # interleaved, so both see the same machine load
        times["baseline"].append(_time(lambda: baseline_map.transform(left, right, lp, rp, progress=False), 1)[0])
        seconds, (auto_map, X) = _time(auto, 1)
        times["auto"].append(seconds)
    base, cand = min(times["baseline"]), min(times["auto"])
    assert isinstance(auto_map, SimilarityMap) and np.isfinite(X).all()
    print(f"{name:28s} {len(pairs):8,d} {base:10.2f} {cand:8.2f} {cand / base:6.1f} "
          f"{len(baseline_map.feature_names):5d} -> {len(auto_map.feature_names):4d}", flush=True)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dirs", nargs="*")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--no-febrl4", action="store_true")
    args = parser.parse_args(argv)
    print(f"{'data':28s} {'pairs':>8s} {'baseline s':>10s} {'auto s':>8s} {'ratio':>6s} {'features':>14s}")
    if not args.no_febrl4:
        compare(*_febrl4(), args.repeat)
    for directory in args.dirs:
        compare(*_deepmatcher(directory), args.repeat)


if __name__ == "__main__":
    main()
