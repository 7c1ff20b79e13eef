"""How hard is a data setting? Blocking figures and a quick classical baseline, no training run.

    python pipelines/data_report.py [--baseline] [Hydra overrides, e.g. data=synthetic]
    python pipelines/data_report.py data=deepmatcher data.pairs=blocked \\
        data.path=../shared/data/magellan/Structured-Beer similarity=beer --baseline

Prints the candidate pairs, matches, imbalance (candidates per match, before and after
the split by entity) and the blocking's pair completeness. For ``data=deepmatcher
data.pairs=blocked`` it also prints the completeness on the **train + valid** positives
of the official files, the figure to choose blocking rules by (never the test file).

``--baseline`` fits scikit-learn's logistic regression and HistGradientBoosting on the
similarity features of the training split and prints their validation F1 at the best
validation threshold (optimistic, since the threshold is chosen on the same pairs): a
check that a setting is hard (well below 0.99) but learnable. Test pairs are not scored.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("PROJECT_ROOT", str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def _train_valid_completeness(data_config, candidates) -> float | None:
    """Pair completeness on the label-1 pairs of train.csv and valid.csv (DeepMatcher, blocked, unsampled)."""
    from hydra.utils import instantiate

    from lossmatch.blocking import pair_completeness
    from lossmatch.data.base import matches_frame

    if not str(data_config.get("_target_", "")).endswith("DeepMatcherSource") or data_config.get("pairs") != "blocked":
        return None
    if data_config.get("sample") is not None:
        return None
    official = instantiate(data_config, pairs="official", name="official", _convert_="all").load()
    known = [official.labelled_pairs[s] for s in ("train", "val")]
    positives = [df[df["label"] == 1] for df in known]
    import pandas as pd

    tv = pd.concat(positives)
    return pair_completeness(candidates, matches_frame(tv["left"], tv["right"]))


def _baseline(prepared) -> dict[str, float]:
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression

    from lossmatch.metrics import best_f1_threshold, evaluate

    xy = {}
    for split in ("train", "val"):
        X = prepared.training.features(prepared.pairs[split][["left", "right"]])
        xy[split] = (X, prepared.labels[split].astype(int))
    out = {}
    for name, model in (
        ("logistic regression", LogisticRegression(max_iter=2000)),
        ("HistGradientBoosting", HistGradientBoostingClassifier(random_state=0)),
    ):
        model.fit(*xy["train"])
        p = model.predict_proba(xy["val"][0])[:, 1]
        missed = prepared.missed["val"]
        threshold = best_f1_threshold(xy["val"][1], p, missed_matches=missed)
        out[name] = evaluate(xy["val"][1], p, threshold, missed_matches=missed)["f1"]
    return out


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", action="store_true", help="fit two scikit-learn baselines on train, report validation F1")
    parser.add_argument("overrides", nargs="*", help="Hydra overrides, as for train.py")
    args = parser.parse_args(argv)

    from lossmatch.cli import compose, report_input_errors
    from lossmatch.config import validate
    from lossmatch.run_naming import flow
    from lossmatch.stages.prepare import prepare

    debug = any(o.lstrip("+") in ("debug=true", "debug=True") for o in args.overrides)
    with report_input_errors(debug=debug):
        cfg = compose(ROOT / "conf", "train", args.overrides)
        started = time.perf_counter()
        config = validate(cfg)
        prepared = prepare(config)
        data = prepared.data
        if prepared.blocking is None:
            print(f"{data.name}: official labelled pairs (no blocking); use data.pairs=blocked for table-to-table figures")
            return 0
        n_pos = len(data.matches)
        found = round(prepared.completeness * n_pos)
        in_splits = {s: len(p) for s, p in prepared.pairs.items()}
        kept = sum(in_splits.values())
        positives = {s: int(labels.sum()) for s, labels in prepared.labels.items()}
        print(f"data           : {data.name}  ({len(data.left):,} x {len(data.right):,} records)")
        print(f"blocking       : {flow(prepared.blocking)}")
        print(
            f"candidates     : {prepared.n_candidates:,} pairs, {found:,} of {n_pos:,} matches "
            f"(pair completeness {prepared.completeness:.4f}), 1 match per {prepared.n_candidates / max(found, 1):,.0f} candidates"
        )
        tv = _train_valid_completeness(config.data, prepared.training.candidate_pairs(prepared.blocking))
        if tv is not None:
            print(f"completeness   : {tv:.4f} on the train + valid positives of the official files")
        print(
            f"after split    : {kept:,} pairs within splits (train/val/test {in_splits['train']:,}/{in_splits['val']:,}/{in_splits['test']:,}), "
            f"matches {positives['train']}/{positives['val']}/{positives['test']} (+ missed by blocking "
            f"{prepared.missed['train']}/{prepared.missed['val']}/{prepared.missed['test']}), "
            f"1 match per {kept / max(sum(positives.values()), 1):,.0f} pairs"
        )
        if args.baseline:
            for name, f1 in _baseline(prepared).items():
                print(f"baseline       : {name}: validation F1 {f1:.3f}")
        print(f"({time.perf_counter() - started:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
