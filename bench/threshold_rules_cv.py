"""What a threshold rule is worth, estimated by re-splitting train + valid: never the test split.

The benchmark recipe picks its cut with ``threshold_rule``; the half-split estimate of
``bench/recipe_dev.py`` (cut chosen on one half of valid, scored on the other) rests on 7
validation matches per half on Beer. Here, for each DeepMatcher-format directory, the labelled
pairs of ``train.csv`` and ``valid.csv`` are pooled and, for each repeat ``r``, re-split
(stratified on the label, seeded with ``r``) into pseudo-train / pseudo-valid / pseudo-test in
the official proportions 3:1:1. Each re-split is written as a DeepMatcher directory and the
recipe is trained on it once (``experiment=benchmark``, ``seed=r``, through the stages that
``recipe_dev.py`` uses); every rule of :data:`lossmatch.metrics.THRESHOLD_RULES` is then chosen
on pseudo-valid and scored on pseudo-test from the same probabilities, beside the F1 at
pseudo-test's own best cut (the ceiling no rule can pass).

A pair that the official files list more than once (DBLP-ACM and Amazon-Google do, within and
across train and valid) goes whole into one pseudo-split, so no pair is both chosen on and
scored. The original ``test.csv`` files are sealed for the whole run: opening one raises
:class:`TestSplitRead`.

    python bench/threshold_rules_cv.py DIR [DIR ...] [--repeats 5] [--rules max_f1,half_best_f1]
        [--out /tmp/threshold_rules_cv] [KEY=VALUE ...]

A ``KEY=VALUE`` argument is a Hydra override on top of the recipe (a short budget for a quick
look or a test); the estimate the README quotes uses none.

Prints one line per training and per (set, repeat, rule), then per set and rule the mean and sd
over repeats with the pseudo-test positives pooled over repeats, the mean over sets per rule,
and the paired differences between rules per set. Writes ``threshold_rules_cv.csv`` (one row
per set, repeat and rule) and each training's probabilities under ``--out``.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import os
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # recipe_dev.py, beside this file

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from recipe_dev import compose, fit_and_evaluate, prepared_splits  # noqa: E402  (sets PROJECT_ROOT and TF's log level)

from lossmatch.data.deepmatcher import PAIR_COLUMNS, SPLIT_FILES  # noqa: E402
from lossmatch.errors import InputError  # noqa: E402

# The files pooled; test.csv is never among them.
POOL_FILES = ("train.csv", "valid.csv")
TABLE_FILES = ("tableA.csv", "tableB.csv")
# 3:1:1 as five stratified folds: three for pseudo-train, one each for pseudo-valid and pseudo-test.
FOLDS = 5
TRAIN_FOLDS = 3
# Features cache off: each re-split is a new set of pairs, and recipe_dev's pickle under --out
# already serves a re-run; the project's cache would only fill up with one-off entries.
BASE = ["experiment=benchmark", "data=deepmatcher", "cache.enabled=false"]


class TestSplitRead(RuntimeError):
    """An original test split was opened while it was sealed."""

    __test__ = False  # not a pytest test class, despite the name


_sealed: dict[tuple[int, int], str] = {}
_hook_installed = False


def _refuse_sealed(event: str, args: tuple) -> None:
    """Audit hook: refuse to open a sealed file, whatever the path (links included) or reader."""
    if event != "open" or not _sealed or not isinstance(args[0], (str, bytes, os.PathLike)):
        return
    try:
        stat = os.stat(args[0])
    except (OSError, ValueError):
        return  # a file being created, or not a path: not a sealed one
    sealed = _sealed.get((stat.st_dev, stat.st_ino))
    if sealed is not None:
        raise TestSplitRead(f"{sealed}: a test split was opened; this estimate must never read it")


@contextlib.contextmanager
def sealed(paths):
    """Inside the block, opening any of ``paths`` (those that exist) raises :class:`TestSplitRead`.

    An audit hook (``sys.addaudithook``) sees every file the process opens through Python
    (``open``, ``io.open``, ``os.open``; pandas' CSV reader included), so no Python code path of
    the run reads a test split unnoticed; readers written in C++ that open files themselves
    (pyarrow's) are not seen, and none is used here. The hook cannot be removed; it only stops
    refusing once the block ends.
    """
    global _hook_installed
    if not _hook_installed:
        sys.addaudithook(_refuse_sealed)
        _hook_installed = True
    keys = []
    for path in paths:
        if Path(path).exists():
            stat = os.stat(path)
            keys.append((stat.st_dev, stat.st_ino))
            _sealed[keys[-1]] = str(path)
    try:
        yield
    finally:
        for key in keys:
            _sealed.pop(key, None)


def read_pool(directory) -> pd.DataFrame:
    """The labelled pairs of ``train.csv`` then ``valid.csv`` of a DeepMatcher directory, ids as text."""
    frames = []
    for name in POOL_FILES:
        path = Path(directory) / name
        if not path.is_file():
            raise InputError(f"{path}: not found; a DeepMatcher directory needs {', '.join(POOL_FILES)}")
        # Ids stay text, so the re-split files name the same records the tables do.
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        missing = [c for c in PAIR_COLUMNS if c not in frame.columns]
        if missing:
            raise InputError(f"{path}: missing column(s) {missing}, expected {PAIR_COLUMNS}")
        bad = frame.loc[~frame["label"].isin(["0", "1"]), "label"]
        if len(bad):
            raise InputError(f"{path}: column 'label' must be 0 or 1, got {bad.iloc[0]!r}")
        frames.append(frame[PAIR_COLUMNS])
    pool = pd.concat(frames, ignore_index=True)
    pool["label"] = pool["label"].astype(np.int64)
    return pool


def resplit(pool: pd.DataFrame, seed: int) -> dict[str, np.ndarray]:
    """Row positions of ``pool`` per split (``train``, ``val``, ``test``), 3:1:1, stratified on the label.

    scikit-learn's ``StratifiedGroupKFold`` with one group per (ltable_id, rtable_id) pair: rows
    of a pair listed twice stay together. Same pool and seed, same split.
    """
    from sklearn.model_selection import StratifiedGroupKFold

    positives = int(pool["label"].sum())
    if min(positives, len(pool) - positives) < FOLDS:
        raise InputError(f"train.csv + valid.csv: {positives} matches among {len(pool)} pairs; a 3:1:1 "
                         f"re-split needs at least {FOLDS} matches and {FOLDS} non-matches")
    groups = pool.groupby(["ltable_id", "rtable_id"], sort=False).ngroup().to_numpy()
    folds = [held for _, held in StratifiedGroupKFold(FOLDS, shuffle=True, random_state=seed)
             .split(np.zeros(len(pool)), pool["label"].to_numpy(), groups)]
    return {"train": np.sort(np.concatenate(folds[:TRAIN_FOLDS])), "val": np.sort(folds[TRAIN_FOLDS]),
            "test": np.sort(folds[TRAIN_FOLDS + 1])}


def write_resplit(directory, pool: pd.DataFrame, parts: dict[str, np.ndarray], target) -> Path:
    """A DeepMatcher directory at ``target``: the tables linked (copied where links fail), the parts as
    ``train.csv`` / ``valid.csv`` / ``test.csv``."""
    target = Path(target)
    target.mkdir(parents=True, exist_ok=True)
    for name in TABLE_FILES:
        source, link = Path(directory).resolve() / name, target / name
        link.unlink(missing_ok=True)
        try:
            link.symlink_to(source)
        except OSError:  # no symlinks here (some file systems, Windows without the right)
            shutil.copyfile(source, link)
    for split, name in SPLIT_FILES.items():
        pool.iloc[parts[split]].to_csv(target / name, index=False)
    return target


def rule_rows(y_val, p_val, y_test, p_test, rules) -> list[dict]:
    """Per rule, its cut chosen on (pseudo-)valid and the figures at that cut on (pseudo-)test, plus the
    F1 at test's own best cut (``test_best_f1``, the same in every row: the ceiling of any rule)."""
    from lossmatch.metrics import best_f1_threshold, choose_threshold
    from lossmatch.metrics import evaluate as score

    ceiling = score(y_test, p_test, best_f1_threshold(y_test, p_test))["f1"]
    rows = []
    for rule in rules:
        cut = choose_threshold(y_val, p_val, rule)
        test = score(y_test, p_test, cut)
        rows.append({"rule": rule, "threshold": cut, "val_f1": score(y_val, p_val, cut)["f1"],
                     "test_f1": test["f1"], "test_precision": test["precision"], "test_recall": test["recall"],
                     "test_best_f1": ceiling})
    return rows


def summarise(runs: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """From one row per (set, repeat, rule): per set and rule, the mean and sd of test F1 over repeats and
    the pseudo-test positives pooled over repeats; per rule, the mean over sets; per set and pair of
    rules (a, b), the paired difference a - b over repeats (mean, sd) and how many repeats each won."""
    per_set = runs.groupby(["set", "rule"], sort=False).agg(
        test_f1=("test_f1", "mean"), sd=("test_f1", "std"), repeats=("repeat", "count"),
        test_positives=("test_positives", "sum"), ceiling=("test_best_f1", "mean")).reset_index()
    per_rule = per_set.groupby("rule", sort=False).agg(test_f1=("test_f1", "mean"), sets=("set", "count"),
                                                       ceiling=("ceiling", "mean")).reset_index()
    wide = runs.pivot_table(index=["set", "repeat"], columns="rule", values="test_f1", sort=False)
    paired = []
    for a, b in itertools.combinations(runs["rule"].unique(), 2):
        for name, frame in wide.groupby(level="set", sort=False):
            difference = frame[a] - frame[b]
            paired.append({"set": name, "rules": f"{a} - {b}", "mean": difference.mean(), "sd": difference.std(),
                           f"{a} wins": int((difference > 0).sum()), f"{b} wins": int((difference < 0).sum()),
                           "ties": int((difference == 0).sum())})
    return per_set, per_rule, pd.DataFrame(paired)


def train_once(directory: Path, seed: int, cache: Path, overrides=()):
    """The recipe trained on one re-split directory as ``recipe_dev.py`` trains it: validation and test
    labels and probabilities, and the seconds it took."""
    started = time.perf_counter()
    base = [*BASE, *overrides]
    _, training, splits = prepared_splits(str(directory), cache, base)
    config = compose([*base, f"data.path={directory}", f"seed={seed}", "trainer.verbose=0"])
    _, evaluation, _ = fit_and_evaluate(config, training, splits)
    return ({s: (splits[s].y, evaluation.probabilities[s]) for s in ("val", "test")},
            time.perf_counter() - started)


def main(argv=None) -> int:
    from lossmatch.metrics import THRESHOLD_RULES

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dirs", nargs="+", help="DeepMatcher-format directories (their test.csv is never read), "
                        "and KEY=VALUE Hydra overrides on top of the recipe")
    parser.add_argument("--repeats", type=int, default=5, help="re-splits per set, seeded 1..N")
    parser.add_argument("--rules", default=",".join(THRESHOLD_RULES), help="comma-separated threshold rules")
    parser.add_argument("--out", default="/tmp/threshold_rules_cv")
    args = parser.parse_intermixed_args(argv)  # directories and overrides before or after the options
    rules = [r for r in args.rules.split(",") if r]
    unknown = [r for r in rules if r not in THRESHOLD_RULES]
    if unknown or not rules:
        raise InputError(f"--rules: expected some of {', '.join(THRESHOLD_RULES)}, got {args.rules!r}")
    if args.repeats < 1:
        raise InputError(f"--repeats: expected at least 1, got {args.repeats}")
    overrides = [a for a in args.dirs if "=" in a]
    directories = [Path(d).resolve() for d in args.dirs if "=" not in d]
    if not directories:
        raise InputError("threshold_rules_cv.py: expected at least one DeepMatcher directory")
    for directory in directories:
        if not directory.is_dir():
            raise InputError(f"{directory}: not a directory")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    with sealed([d / SPLIT_FILES["test"] for d in directories]):
        pools = {d: read_pool(d) for d in directories}  # every set checked before any training
        for directory, pool in pools.items():
            name = directory.name
            print(f"{name}: {len(pool)} pairs in train + valid, {int(pool['label'].sum())} matches", flush=True)
            for repeat in range(1, args.repeats + 1):
                parts = resplit(pool, repeat)
                target = write_resplit(directory, pool, parts, out / "splits" / f"{name}-r{repeat}")
                labelled, seconds = train_once(target, repeat, out / "cache", overrides)
                (y_val, p_val), (y_test, p_test) = labelled["val"], labelled["test"]
                np.savez(out / f"{name}__r{repeat}.npz", val=p_val, test=p_test, y_val=y_val, y_test=y_test)
                positives = int(np.sum(y_test))
                print(f"  {name} repeat {repeat}: trained in {seconds:.1f} s; pseudo-valid {len(y_val)} pairs "
                      f"({int(np.sum(y_val))} matches), pseudo-test {len(y_test)} ({positives})", flush=True)
                for row in rule_rows(y_val, p_val, y_test, p_test, rules):
                    rows.append({"set": name, "repeat": repeat, **row, "test_positives": positives,
                                 "val_positives": int(np.sum(y_val)), "seconds": seconds})
                    print(f"    {row['rule']:14s} cut {row['threshold']:.3f}  pseudo-valid F1 {row['val_f1']:.3f}  "
                          f"pseudo-test F1 {row['test_f1']:.3f} P {row['test_precision']:.3f} "
                          f"R {row['test_recall']:.3f}  (best cut {row['test_best_f1']:.3f})", flush=True)
    runs = pd.DataFrame(rows)
    runs.to_csv(out / "threshold_rules_cv.csv", index=False)
    per_set, per_rule, paired = summarise(runs)
    print("\nPseudo-test F1 per set and rule (mean, sd over repeats; positives pooled over repeats; "
          "ceiling = F1 at pseudo-test's own best cut):")
    print(per_set.round(4).to_string(index=False))
    print("\nMean over sets:")
    print(per_rule.round(4).to_string(index=False))
    if len(paired):
        print("\nPaired differences over repeats:")
        print(paired.round(4).to_string(index=False))
    print(f"\n{out / 'threshold_rules_cv.csv'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
