"""The benchmark table: lossmatch's recipe on DeepMatcher-format sets, beside a gradient-boosting
reference on the same features and the published figures.

For each set (a directory with tableA.csv, tableB.csv, train/valid/test.csv) :func:`run_set`
trains ``experiment=benchmark`` once per seed with the ordinary pipeline (``lossmatch.pipeline.run``:
one MLflow run and one ``metrics.json`` each), then fits the reference row: scikit-learn's
HistGradientBoostingClassifier on exactly the features of those runs (same map, same pairs),
its threshold chosen on valid like the pipeline's. :func:`table` puts both rows of every set in
one frame: pairs, positives, test precision / recall / F1 of the single run (the first seed)
and mean ± sd over the seeds, the loss, seconds, and the published test F1 of the set when its
name is in :data:`PUBLISHED`. ``pipelines/benchmark.py`` is the command line.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = [
    "PUBLISHED", "REFERENCE_MODEL", "SetResult", "markdown", "published", "reference_probabilities", "reference_row",
    "run_set", "table",
]

# Published test F1 (%) on the official splits: Magellan and DeepMatcher (hybrid) from Mudgal et
# al., "Deep Learning for Entity Matching: A Design Space Exploration", SIGMOD 2018; Ditto from
# Li et al., "Deep Entity Matching with Pre-Trained Language Models", PVLDB 14(1), 2021.
PUBLISHED: dict[str, dict[str, float]] = {
    "Structured-Beer": {"Magellan": 78.8, "DeepMatcher": 72.7, "Ditto": 94.37},
    "Structured-Fodors-Zagats": {"Magellan": 100.0, "DeepMatcher": 100.0, "Ditto": 100.0},
    "Structured-DBLP-ACM": {"Magellan": 98.4, "DeepMatcher": 98.4, "Ditto": 98.99},
    "Structured-Amazon-Google": {"Magellan": 49.1, "DeepMatcher": 69.3, "Ditto": 75.58},
}
PUBLISHED_COLUMNS = ("Magellan", "DeepMatcher", "Ditto")
REFERENCE_MODEL = "HistGradientBoosting (same features)"
# The reference's settings: a fixed, moderately regularised booster (no search), deterministic.
REFERENCE_PARAMS = {"max_iter": 300, "learning_rate": 0.05, "max_leaf_nodes": 15, "l2_regularization": 1.0,
                    "early_stopping": False}


def published(name: str) -> dict[str, float]:
    """The published test F1 (%) of a set by its folder name (case-insensitive), or {} if unknown."""
    by_lower = {k.lower(): v for k, v in PUBLISHED.items()}
    return dict(by_lower.get(str(name).lower(), {}))


@dataclass
class SetResult:
    """One set's runs (``metrics.json`` contents, one per seed, first seed first) and its reference row."""

    name: str
    pairs: int
    positives: int
    test_positives: int
    runs: list[dict] = field(default_factory=list)
    seeds: list[int] = field(default_factory=list)
    reference: dict | None = None


def run_set(directory: str | Path, seeds: Sequence[int], overrides: Sequence[str], output_dir: Path, *,
            config_dir: Path, reference: bool = True) -> SetResult:
    """Train ``experiment=benchmark`` on one DeepMatcher-format directory for each seed, then the reference.

    ``overrides`` are Hydra overrides applied to every run (after the experiment). Each run
    writes into ``output_dir/<set>/seed<k>`` and is tracked like any run.
    """
    from lossmatch.cli import compose
    from lossmatch.config import validate
    from lossmatch.pipeline import run

    def config(seed: int):
        return compose(config_dir, "train", ["experiment=benchmark", f"data.path={directory}", f"seed={seed}",
                                             *overrides])

    first = validate(config(seeds[0]))  # a bad override fails here, before any training
    from lossmatch.stages.prepare import prepare

    prepared = prepare(first)
    name = prepared.data.name
    labels = prepared.labels
    result = SetResult(name, pairs=sum(len(v) for v in labels.values()),
                       positives=int(sum(v.sum() for v in labels.values())), test_positives=int(labels["test"].sum()))
    for seed in seeds:
        cfg = config(seed)
        print(f"[benchmark] {name}: seed {seed} ({len(result.runs) + 1} of {len(seeds)})", flush=True)
        result.runs.append(run(cfg, output_dir=Path(output_dir) / name / f"seed{seed}"))
        result.seeds.append(int(seed))
    if reference:
        result.reference = reference_row(prepared, seed=seeds[0])
    return result


def reference_row(prepared, *, seed: int) -> dict:
    """HistGradientBoosting on the run's features: trained on train, threshold on valid, scored on test.

    Returns ``{"val": {...}, "test": {...}, "seconds": s}`` with :func:`lossmatch.metrics.evaluate`'s figures.
    """
    from lossmatch import metrics
    from lossmatch.stages.features import compute_features

    started = time.perf_counter()
    splits = compute_features(prepared)
    p = reference_probabilities(splits, seed=seed)
    threshold = metrics.best_f1_threshold(splits["val"].y, p["val"], missed_matches=splits["val"].missed_matches)
    figures = {s: metrics.evaluate(splits[s].y, p[s], threshold, missed_matches=splits[s].missed_matches)
               for s in ("val", "test")}
    return {**figures, "threshold": threshold, "seconds": time.perf_counter() - started}


def reference_probabilities(splits, *, seed: int, scored: Sequence[str] = ("val", "test")) -> dict[str, np.ndarray]:
    """The reference model (HistGradientBoosting, :data:`REFERENCE_PARAMS`) fitted on ``splits["train"]``:
    its match probabilities on each split of ``scored``."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    model = HistGradientBoostingClassifier(**REFERENCE_PARAMS, random_state=seed)
    model.fit(splits["train"].X, splits["train"].y.astype(int))
    return {s: model.predict_proba(splits[s].X)[:, 1] for s in scored}


def _mean_sd(values: Sequence[float]) -> tuple[float, float]:
    values = [float(v) for v in values]
    if not values:
        return math.nan, math.nan
    return float(np.mean(values)), float(np.std(values, ddof=1)) if len(values) > 1 else math.nan


def table(results: Sequence[SetResult]) -> pd.DataFrame:
    """One row for lossmatch and one for the reference per set; figures are fractions (0.867), published ones too."""
    rows = []
    for r in results:
        base = {"data": r.name, "pairs": r.pairs, "positives": r.positives, "test_positives": r.test_positives}
        known = published(r.name)
        pub = {f"published_{k.lower()}_f1": known[k] / 100 if k in known else math.nan for k in PUBLISHED_COLUMNS}
        if r.runs:
            single = r.runs[0]["test"]
            row = {**base, "model": "lossmatch", "loss": r.runs[0]["loss"], "seeds": len(r.runs),
                   "test_precision": single["precision"], "test_recall": single["recall"], "test_f1": single["f1"]}
            for key in ("precision", "recall", "f1"):
                row[f"test_{key}_mean"], row[f"test_{key}_sd"] = _mean_sd([x["test"][key] for x in r.runs])
            row["val_f1_mean"] = _mean_sd([x["val"]["f1"] for x in r.runs])[0]
            row["seconds"] = float(np.mean([x["seconds"] for x in r.runs]))
            rows.append({**row, **pub})
        if r.reference is not None:
            t = r.reference["test"]
            rows.append({**base, "model": REFERENCE_MODEL, "loss": "log loss (scikit-learn)", "seeds": 1,
                         "test_precision": t["precision"], "test_recall": t["recall"], "test_f1": t["f1"],
                         # Deterministic (no subsampling): every seed gives these figures.
                         "test_precision_mean": t["precision"], "test_precision_sd": math.nan,
                         "test_recall_mean": t["recall"], "test_recall_sd": math.nan,
                         "test_f1_mean": t["f1"], "test_f1_sd": math.nan,
                         "val_f1_mean": r.reference["val"]["f1"], "seconds": r.reference["seconds"], **pub})
    return pd.DataFrame(rows)


def _pct(value: float) -> str:
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{100 * value:.1f}"


def _published(value: float) -> str:
    # Published figures as printed in their papers (94.37, 78.8, 100), not rounded to ours.
    return "" if value is None or math.isnan(value) else f"{round(100 * value, 2):g}"


def markdown(frame: pd.DataFrame) -> str:
    """The table for people: percentages, F1 mean ± sd, published figures beside ours."""
    header = ["data set", "pairs", "positives (test)", "model", "loss", "test P", "test R", "test F1",
              "test F1 mean ± sd (seeds)", *PUBLISHED_COLUMNS, "seconds"]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] * 3 + ["---"] * 2 + ["---:"] * (len(header) - 5)) + "|"]
    for row in frame.to_dict("records"):
        spread = f"{_pct(row['test_f1_mean'])} ± {_pct(row['test_f1_sd'])} ({row['seeds']})" \
            if row["seeds"] > 1 else f"{_pct(row['test_f1_mean'])} (deterministic)" \
            if row["model"] == REFERENCE_MODEL else f"{_pct(row['test_f1_mean'])} (1)"
        cells = [row["data"], f"{row['pairs']:,}", f"{row['positives']:,} ({row['test_positives']})", row["model"],
                 row["loss"], _pct(row["test_precision"]), _pct(row["test_recall"]), _pct(row["test_f1"]), spread,
                 *(_published(row[f"published_{k.lower()}_f1"]) for k in PUBLISHED_COLUMNS), f"{row['seconds']:.1f}"]
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    return "\n".join(lines) + "\n"


def summary_line(result: SetResult) -> str:
    """One line per set: ours (single run, mean ± sd), the reference, the published figures."""
    parts = [f"{result.name}:"]
    if result.runs:
        f1 = [x["test"]["f1"] for x in result.runs]
        mean, sd = _mean_sd(f1)
        parts.append(f"lossmatch test F1 {_pct(f1[0])} (mean {_pct(mean)} ± {_pct(sd)} over {len(f1)} seeds)")
    if result.reference is not None:
        parts.append(f"reference {_pct(result.reference['test']['f1'])}")
    known = published(result.name)
    if known:
        parts.append("published " + ", ".join(f"{k} {v:g}" for k, v in known.items()))
    return "  ".join(parts)


def log_table(frame: pd.DataFrame, paths: Mapping[str, Path], *, params: Mapping[str, str]) -> str:
    """One MLflow run (experiment ``lossmatch/benchmark``) holding the table and each set's headline figures."""
    import mlflow

    from lossmatch import tracking

    with tracking.mlflow_run("benchmark") as active:
        tracking.log_params(params)
        for row in frame.to_dict("records"):
            prefix = "reference_" if row["model"] == REFERENCE_MODEL else ""
            tracking.log_metrics({f"{prefix}test_f1": row["test_f1"], f"{prefix}test_f1_mean": row["test_f1_mean"]},
                                 prefix=f"{row['data']}/")
        for path in paths.values():
            mlflow.log_artifact(str(path))
        return active.info.run_id
