"""Develop the benchmark recipe through the pipeline's own stages: variants x seeds on cached features.

For each DeepMatcher-format directory the prepare and features stages run once (the features
are cached under ``--cache``); then every variant (a list of Hydra overrides on top of
``experiment=benchmark``) is trained and evaluated with ``lossmatch.stages.fit`` and
``lossmatch.stages.evaluate`` for each seed, without MLflow. One line per run: validation PR-AUC
F1 at the run's cut and at the maximum-F1 cut, the half-split estimate (:func:`half_split_f1`),
test precision / recall / F1, steps, seconds; then mean and sd per set and variant. The
validation and test probabilities of every run are saved (``--out``) to study thresholds and
seed averages afterwards without training again. Test figures are printed, never used to
choose; ``--hide-test`` leaves them out of what is printed (still saved), to compare variants blind.

    python bench/recipe_dev.py DIR [DIR ...] --variants '{"base": [], "ens": ["model=ensemble"]}'
        [--seeds 1,2,3,4,5] [--out /tmp/recipe] [--cache /tmp/recipe/cache] [--reference] [--hide-test]

``--reference`` adds the benchmark's gradient-boosting row (``lossmatch.benchmark``) on the same
features, scored the same way; each run's training history (loss, validation figures per epoch)
is saved beside its probabilities.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("PROJECT_ROOT", str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402


def half_split_f1(y, p, rule: str = "max_f1", *, repeats: int = 10, seed: int = 0) -> float:
    """F1 of a threshold ``rule`` chosen on one half of the validation pairs and scored on the
    other half (stratified, both ways, ``repeats`` random splits): how well a cut chosen on
    validation carries to unseen pairs, which the F1 at validation's own best cut overstates."""
    from sklearn.model_selection import StratifiedKFold

    from lossmatch.metrics import choose_threshold
    from lossmatch.metrics import evaluate as score

    y, p = np.asarray(y).ravel(), np.asarray(p).ravel()
    scores = []
    for repeat in range(repeats):
        for chosen, scored in StratifiedKFold(2, shuffle=True, random_state=seed + repeat).split(p, y):
            cut = choose_threshold(y[chosen], p[chosen], rule)
            scores.append(score(y[scored], p[scored], cut)["f1"])
    return float(np.mean(scores))


def validation_figures(y_val, p_val, rule: str) -> dict[str, float]:
    """F1 at validation's own maximum-F1 cut, and the half-split estimates with the max-F1 cut and with ``rule``."""
    from lossmatch.metrics import best_f1_threshold
    from lossmatch.metrics import evaluate as score

    return {"val_best_f1": score(y_val, p_val, best_f1_threshold(y_val, p_val))["f1"],
            "val_half_f1": half_split_f1(y_val, p_val), "val_half_rule_f1": half_split_f1(y_val, p_val, rule)}


def reference_run(name: str, splits, seed: int, hide_test: bool, rule: str = "half_best_f1") -> dict:
    """The benchmark's gradient-boosting reference (``lossmatch.benchmark``) on the same cached
    features, scored like a variant: its val F1 at the max-F1 cut it is given in the benchmark
    table, and the half-split estimates with the max-F1 cut and with the recipe's ``rule``."""
    from lossmatch.benchmark import reference_probabilities
    from lossmatch.metrics import best_f1_threshold, pr_auc
    from lossmatch.metrics import evaluate as score

    started = time.perf_counter()
    p = reference_probabilities(splits, seed=seed)
    seconds = time.perf_counter() - started
    y_val, y_test = splits["val"].y, splits["test"].y
    cut = best_f1_threshold(y_val, p["val"])
    val, test = score(y_val, p["val"], cut), score(y_test, p["test"], cut)
    row = {"set": name, "variant": "reference_hgb", "seed": seed, "val_pr_auc": pr_auc(y_val, p["val"]), "val_f1": val["f1"],
           **validation_figures(y_val, p["val"], rule), "test_precision": test["precision"],
           "test_recall": test["recall"], "test_f1": test["f1"], "best_step": 0, "steps": 0, "batch": 0,
           "seconds": seconds}
    shown = "" if hide_test else f"test F1 {row['test_f1']:.3f}  "
    print(f"  {'reference_hgb':14s}       : val AP {row['val_pr_auc']:.3f} F1 {row['val_f1']:.3f} "
          f"max-F1 {row['val_best_f1']:.3f} half {row['val_half_f1']:.3f} ({rule} {row['val_half_rule_f1']:.3f})  "
          f"{shown}{seconds:.1f} s", flush=True)
    return row


def fit_and_evaluate(config, training, splits):
    """The pipeline's fit and evaluate stages on prepared splits, the cut by ``config.threshold_rule``:
    ``(fitted, evaluation, seconds)``."""
    from lossmatch.stages.evaluate import evaluate
    from lossmatch.stages.fit import fit

    started = time.perf_counter()
    fitted = fit(config, training, splits)
    evaluation = evaluate(fitted, training, splits, list_size=config.trainer.list_size,
                          threshold_rule=config.threshold_rule)
    return fitted, evaluation, time.perf_counter() - started


def compose(overrides: list[str]):
    from lossmatch.cli import compose as compose_config
    from lossmatch.config import validate

    return validate(compose_config(ROOT / "conf", "train", overrides))


def prepared_splits(directory: str, cache: Path, base: list[str]):
    """(Training, splits) of one set, features from the cache when present."""
    from lossmatch.stages.features import compute_features
    from lossmatch.stages.prepare import prepare

    name = Path(directory).name
    config = compose([*base, f"data.path={directory}"])
    prepared = prepare(config)
    path = cache / f"{name}.pkl"
    if path.exists():
        with open(path, "rb") as f:
            splits = pickle.load(f)
    else:
        started = time.perf_counter()
        splits = compute_features(prepared)
        print(f"{name}: features in {time.perf_counter() - started:.1f} s", flush=True)
        cache.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as f:
            pickle.dump(splits, f)
    return name, prepared.training, splits


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dirs", nargs="+")
    parser.add_argument("--variants", default='{"benchmark": []}', help="JSON {name: [overrides]}")
    parser.add_argument("--base", default="experiment=benchmark,data=deepmatcher",
                        help="comma-separated overrides under every variant")
    parser.add_argument("--seeds", default="1")
    parser.add_argument("--out", default="/tmp/recipe_dev")
    parser.add_argument("--cache", default=None)
    parser.add_argument("--hide-test", action="store_true", help="print validation figures only")
    parser.add_argument("--reference", action="store_true",
                        help="add the benchmark's gradient-boosting reference on the same features (row reference_hgb)")
    args = parser.parse_args(argv)

    base = [o for o in args.base.split(",") if o]
    variants = json.loads(args.variants)
    seeds = [int(s) for s in args.seeds.split(",")]
    out = Path(args.out)
    cache = Path(args.cache) if args.cache else out / "cache"
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for directory in args.dirs:
        name, training, splits = prepared_splits(directory, cache, base)
        print(f"{name}: {sum(len(s.y) for s in splits.values())} pairs, {splits['train'].X.shape[1]} features",
              flush=True)
        for variant, overrides in variants.items():
            for seed in seeds:
                config = compose([*base, f"data.path={directory}", f"seed={seed}", "trainer.verbose=0", *overrides])
                fitted, evaluation, seconds = fit_and_evaluate(config, training, splits)
                m = evaluation.metrics
                row = {"set": name, "variant": variant, "seed": seed, "val_pr_auc": m["val"]["pr_auc"],
                       "val_f1": m["val"]["f1"],
                       **validation_figures(splits["val"].y, evaluation.probabilities["val"], config.threshold_rule),
                       "test_precision": m["test"]["precision"],
                       "test_recall": m["test"]["recall"], "test_f1": m["test"]["f1"],
                       "best_step": fitted.result.best_step, "steps": fitted.result.steps_run,
                       "batch": fitted.result.batch_size, "seconds": seconds}
                rows.append(row)
                np.savez(out / f"{name}__{variant}__{seed}.npz", val=evaluation.probabilities["val"],
                         test=evaluation.probabilities["test"], y_val=splits["val"].y, y_test=splits["test"].y,
                         train=evaluation.probabilities["train"], y_train=splits["train"].y)
                # Training loss and the validation figures after every epoch: under- or over-fitting,
                # and where in the step budget the kept weights sit.
                (out / f"{name}__{variant}__{seed}.history.json").write_text(json.dumps(
                    {"epoch_steps": fitted.result.steps_run // max(fitted.result.epochs_run, 1),
                     **{k: [float(v) for v in vals] for k, vals in fitted.result.history.items()}}))
                test = ("" if args.hide_test else f"test F1 {row['test_f1']:.3f} P {row['test_precision']:.3f} "
                        f"R {row['test_recall']:.3f}  ")
                print(f"  {variant:14s} seed {seed}: val AP {row['val_pr_auc']:.3f} F1 {row['val_f1']:.3f} "
                      f"max-F1 {row['val_best_f1']:.3f} half {row['val_half_f1']:.3f} "
                      f"({config.threshold_rule} {row['val_half_rule_f1']:.3f})  {test}"
                      f"step {row['best_step']}/{row['steps']} (batch {row['batch']})  {seconds:.1f} s", flush=True)
        if args.reference:
            rows.append(reference_run(name, splits, seeds[0], args.hide_test))
    table = pd.DataFrame(rows)
    table.to_csv(out / f"runs-{int(time.time())}.csv", index=False)
    summary = table.groupby(["set", "variant"], sort=False).agg(
        val_ap=("val_pr_auc", "mean"), val_f1=("val_f1", "mean"), val_best_f1=("val_best_f1", "mean"),
        val_half_f1=("val_half_f1", "mean"), val_half_rule_f1=("val_half_rule_f1", "mean"),
        test_f1=("test_f1", "mean"), test_f1_sd=("test_f1", "std"), seconds=("seconds", "mean"),
        runs=("seed", "count"))
    if args.hide_test:
        summary = summary.drop(columns=["test_f1", "test_f1_sd"])
    print(summary.round(4).to_string())
    return 0


if __name__ == "__main__":
    sys.exit(main())
