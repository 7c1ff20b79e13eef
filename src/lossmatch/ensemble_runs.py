"""Ensembles of finished runs, logged as runs of their own beside the single losses.

For one data set and one seed, the runs of several losses scored the same validation and
test pairs (same split by entity). Their ``predictions.parquet`` (``lossmatch.predictions``)
are all an ensemble needs: ``lossmatch.ensemble.fit_ensemble`` finds the weights and the
threshold on **validation**; the test pairs are scored once, with what validation chose.

The ensemble is logged like a training run, in the same data set's experiment, with the
tags a comparison groups by (``data``, ``loss=ensemble``, ``seed``, ``comparison``,
``comparison_loss=ensemble``), the members' run ids, the weights as params, the same
``val_*`` / ``test_*`` metrics, its own ``predictions.parquet`` and ``ensemble.json``, so it
appears in the comparison's table as one more row.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from lossmatch.errors import InputError

__all__ = ["ENSEMBLE", "EnsembleRun", "ensemble_comparison", "fit_and_log", "member_groups"]

ENSEMBLE = "ensemble"


@dataclass
class EnsembleRun:
    run_id: str
    data: str
    seed: int
    weights: dict[str, float]
    threshold: float
    val_f1: float
    test_f1: float


def member_groups(runs: pd.DataFrame, *, label_tag: str = "loss", labels: Sequence[str] | None = None,
                  data: str | None = None, seeds: Sequence[int] | None = None) -> dict[tuple[str, int], pd.DataFrame]:
    """``{(data, seed): member runs}`` from a ``mlflow.search_runs`` frame: finished runs, one per label (the latest).

    Ensembles and runs without predictions are never members; groups with fewer than two
    members are left out (an ensemble of one model is that model).
    """
    needed = ["tags.data", f"tags.{label_tag}", "tags.seed"]
    if runs.empty or any(c not in runs.columns for c in needed):
        return {}
    rows = runs[(runs["status"] == "FINISHED")].dropna(subset=needed)
    rows = rows[rows[f"tags.{label_tag}"] != ENSEMBLE]
    if "tags.loss" in rows.columns:
        rows = rows[rows["tags.loss"] != ENSEMBLE]
    if labels is not None:
        rows = rows[rows[f"tags.{label_tag}"].isin(list(labels))]
    if data is not None:
        rows = rows[rows["tags.data"] == data]
    rows = rows.assign(_seed=pd.to_numeric(rows["tags.seed"], errors="coerce")).dropna(subset=["_seed"])
    if seeds is not None:
        rows = rows[rows["_seed"].isin(list(seeds))]
    rows = rows.sort_values("start_time", kind="stable").drop_duplicates(["tags.data", f"tags.{label_tag}", "_seed"], keep="last")
    groups = {}
    for (d, seed), group in rows.groupby(["tags.data", "_seed"], sort=True):
        if len(group) >= 2:
            groups[(str(d), int(seed))] = group.set_index(f"tags.{label_tag}", drop=False).sort_index()
    return groups


def fit_and_log(members: pd.DataFrame, *, tracking_uri: str, label_tag: str = "loss", tags: Mapping[str, str] | None = None,
                parent_run_id: str | None = None, seed: int | None = None) -> EnsembleRun:
    """Fit the ensemble of ``members`` (rows of one data set and seed) on validation; log it as a run.

    Args:
        members: rows of ``mlflow.search_runs`` (index: the member's label), all one data set and seed.
        tags: extra tags of the ensemble run (``comparison``, ``comparison_loss``).
        parent_run_id: the comparison's parent run, when it is not the active run.
        seed: seed of the differential evolution (default: the runs' seed).
    """
    import mlflow

    from lossmatch import metrics, tracking
    from lossmatch.ensemble import fit_ensemble
    from lossmatch.predictions import align, load_predictions, missed_matches
    from lossmatch.run_naming import git_state, run_name

    data = str(members["tags.data"].iloc[0])
    run_seed = int(float(members["tags.seed"].iloc[0]))
    labels = list(members.index)
    frames = {label: load_predictions(row["run_id"], tracking_uri=tracking_uri) for label, row in members.iterrows()}
    pairs, probs, missed = {}, {}, {}
    for split in ("val", "test"):
        pairs[split], probs[split] = align(frames, split)
        y = pairs[split]["label"].to_numpy()
        counts = {missed_matches(row.get(f"metrics.{split}_matches"), y) for _, row in members.iterrows()}
        if len(counts) != 1:
            raise InputError(f"ensemble: the runs of {data} seed {run_seed} count different {split} matches; not one split")
        missed[split] = counts.pop()
    ensemble = fit_ensemble(probs["val"], pairs["val"]["label"].to_numpy(), missed_matches=missed["val"],
                            seed=run_seed if seed is None else seed)
    scores = {s: ensemble.combine(probs[s]) for s in ("val", "test")}
    results = {}
    for s in ("val", "test"):
        y = pairs[s]["label"].to_numpy()
        results[s] = metrics.evaluate(y, scores[s], ensemble.threshold, missed_matches=missed[s])
        results[s].update(metrics.probability_scores(y, scores[s], missed_matches=missed[s]))

    experiment_id = str(members["experiment_id"].iloc[0])
    root = Path(__file__).resolve().parents[2]
    run_tags = {
        "data": data, "loss": ENSEMBLE, "seed": str(run_seed), label_tag: ENSEMBLE,
        "ensemble_members": ", ".join(labels),
        "ensemble_member_runs": ", ".join(members["run_id"]),
        **git_state(root), **dict(tags or {}),
    }
    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_experiment(experiment_id=experiment_id)
    nested = mlflow.active_run() is not None
    with tracking.mlflow_run(run_name(ENSEMBLE, run_seed), tags=run_tags, parent_run_id=None if nested else parent_run_id,
                             nested=nested or parent_run_id is not None) as active:
        tracking.log_params({
            "loss": ENSEMBLE, "data": data, "seed": str(run_seed),
            "ensemble.members": "[" + ", ".join(labels) + "]",
            "ensemble.method": "differential_evolution on validation F1, exact threshold",
            **{f"ensemble.weight.{label}": f"{w:.6f}" for label, w in ensemble.weights.items()},
        })
        for s in ("val", "test"):
            tracking.log_metrics(results[s], prefix=f"{s}_")
            tracking.log_metrics({"pairs": len(pairs[s]), "matches": int(pairs[s]["label"].sum()) + missed[s]}, prefix=f"{s}_")
        mlflow.log_metric("threshold", ensemble.threshold)
        with tempfile.TemporaryDirectory(prefix="lossmatch-ensemble-") as tmp:
            frame = pd.concat(
                [pairs[s].assign(split=s, probability=scores[s])[["split", "left_id", "right_id", "label", "probability"]]
                 for s in ("val", "test")],
                ignore_index=True,
            )
            frame.to_parquet(Path(tmp) / "predictions.parquet", index=False)
            mlflow.log_artifact(str(Path(tmp) / "predictions.parquet"))
            description = {
                "weights": ensemble.weights, "threshold": ensemble.threshold, "val_f1": ensemble.val_f1,
                "members": dict(zip(labels, members["run_id"])), "data": data, "seed": run_seed,
            }
            mlflow.log_text(json.dumps(description, indent=2), "ensemble.json")
        run_id = active.info.run_id
    return EnsembleRun(run_id, data, run_seed, ensemble.weights, ensemble.threshold, results["val"]["f1"], results["test"]["f1"])


def ensemble_comparison(tracking_uri: str, comparison_id: str, *, labels: Sequence[str] | None = None,
                        data: Sequence[str] | None = None, skip_existing: bool = True, stream=None) -> list[EnsembleRun]:
    """One ensemble per (data set, seed) of a comparison, of all its losses (or ``labels``), as child runs.

    ``data`` limits it to some data sets (a resumed comparison that added one); an ensemble
    that exists already is kept unless ``skip_existing`` is false.
    """
    from lossmatch.compare_runs import COMPARISON_TAG, LABEL_TAG, comparison_runs, finished_keys

    out = print if stream is None else (lambda *a, **k: print(*a, **k, file=stream))
    runs = comparison_runs(tracking_uri, comparison_id)
    done = {(d, s) for d, label, s in finished_keys(runs) if label == ENSEMBLE} if skip_existing else set()
    groups = member_groups(runs, label_tag=LABEL_TAG, labels=labels)
    if data is not None:
        groups = {key: members for key, members in groups.items() if key[0] in set(data)}
    if not groups:
        raise InputError(f"ensemble: comparison {comparison_id} has no data set and seed with two finished runs")
    made = []
    for (data, seed), members in groups.items():
        if (data, seed) in done:
            continue
        started = time.perf_counter()
        result = fit_and_log(members, tracking_uri=tracking_uri, label_tag=LABEL_TAG, parent_run_id=comparison_id,
                             tags={COMPARISON_TAG: comparison_id})
        weights = " ".join(f"{k} {v:.2f}" for k, v in sorted(result.weights.items(), key=lambda kv: -kv[1]))
        out(f"ensemble {data} seed {seed}: val F1 {result.val_f1:.4f}, test F1 {result.test_f1:.4f}  "
            f"({time.perf_counter() - started:.1f} s; weights {weights})", flush=True)
        made.append(result)
    return made
