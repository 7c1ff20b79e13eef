"""pipelines/compare_losses.py end to end: the quick comparison, its MLflow runs, files and ensembles,
and the same comparison read back through a real ``mlflow server`` (REST API and MlflowClient).

One quick comparison (2 losses x 2 seeds on a FEBRL4 sample, plus the ensembles) is run once
for the module, in a subprocess exactly as a user types it.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import urllib.request
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from conftest import ROOT, load_script
from helpers.chromium import chromium_binary
from helpers.mlflow_server import mlflow_server
from helpers.mlflow_ui import compare_page_screenshot
from scipy import stats

from lossmatch import compare, metrics
from lossmatch.predictions import load_predictions

LOSSES = ("bce", "soft_f1")


def _compare(tmp: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "pipelines" / "compare_losses.py"), *args,
         f"tracking.uri=sqlite:///{tmp}/mlruns/mlflow.db", f"tracking.artifact_location={tmp}/mlruns/artifacts",
         f"paths.output_dir={tmp}/outputs"],
        capture_output=True, text=True, timeout=900, check=False,
        env={**os.environ, "PROJECT_ROOT": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"},
    )


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    """The quick comparison of two losses with ensembles: (process, store folder, comparison id, runs frame)."""
    tmp = tmp_path_factory.mktemp("quick")
    proc = _compare(tmp, "--quick", "--losses", *LOSSES, "--ensemble")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    comparison_id = re.search(r"^comparison ([0-9a-f]{32}): \S+comparison\.csv$", proc.stdout, re.M).group(1)
    uri = f"sqlite:///{tmp}/mlruns/mlflow.db"
    client = mlflow.MlflowClient(uri)
    experiments = [e.experiment_id for e in client.search_experiments()]
    children = client.search_runs(experiments, filter_string=f"tags.comparison = '{comparison_id}'")
    return proc, tmp, comparison_id, children


def test_one_line_per_run_and_the_csv_path(quick):
    proc, tmp, comparison_id, _ = quick
    # 2 losses x 2 seeds on one data set: four progress lines with data, loss, seed, test F1 and seconds.
    lines = re.findall(r"^\[(\d)/4\] febrl4\s+(\w+)\s+seed (\d)\s+test F1 ([01]\.\d{4})\s+[\d.]+ s", proc.stdout, re.M)
    assert [(n, loss, seed) for n, loss, seed, _ in lines] == [
        ("1", "bce", "1"), ("2", "soft_f1", "1"), ("3", "bce", "2"), ("4", "soft_f1", "2")
    ]
    csv = Path(re.search(r"^comparison [0-9a-f]{32}: (\S+)$", proc.stdout, re.M).group(1))
    assert csv.name == "comparison.csv" and csv.is_file() and str(csv).startswith(str(tmp / "outputs" / "comparisons"))
    # What a run prints itself went to runs.log, not to the screen.
    assert "[lossmatch] blocking" not in proc.stdout
    assert (csv.parent / "runs.log").read_text().count("lossmatch run ") == 4


def test_children_in_the_data_set_experiment_nested_under_one_parent(quick):
    _, tmp, comparison_id, children = quick
    client = mlflow.MlflowClient(f"sqlite:///{tmp}/mlruns/mlflow.db")
    parent = client.get_run(comparison_id)
    assert client.get_experiment(parent.info.experiment_id).name == "lossmatch/comparisons"
    assert parent.info.status == "FINISHED" and parent.data.tags["lossmatch_kind"] == "comparison"
    assert parent.data.params["losses"] == "bce, soft_f1" and parent.data.params["seeds"] == "1, 2"
    # Four training runs and one ensemble per seed, all in lossmatch/febrl4, all children of the parent.
    keys = sorted((r.data.tags["comparison_loss"], r.data.tags["seed"]) for r in children)
    assert keys == [("bce", "1"), ("bce", "2"), ("ensemble", "1"), ("ensemble", "2"), ("soft_f1", "1"), ("soft_f1", "2")]
    for run in children:
        assert client.get_experiment(run.info.experiment_id).name == "lossmatch/febrl4"
        assert run.data.tags["mlflow.parentRunId"] == comparison_id
        assert run.data.tags["data"] == "febrl4" and run.info.status == "FINISHED"
        assert run.info.run_name == f"{run.data.tags['comparison_loss']}-seed{run.data.tags['seed']}"
    # The quick settings reached the training runs: 3 epochs at most, a 500-record sample.
    trained = [r for r in children if r.data.tags["loss"] != "ensemble"]
    assert {r.data.params["trainer.epochs"] for r in trained} == {"3"}
    assert {r.data.params["data.sample"] for r in trained} == {"500"}


def test_files_written_and_logged_on_the_parent(quick):
    _, tmp, comparison_id, _ = quick
    names = {"comparison.csv", "comparison.md", "f1_by_loss.png", "mean_rank.png", "pr_curves_febrl4.png"}
    out = next((tmp / "outputs" / "comparisons").iterdir())
    for name in names:
        assert (out / name).stat().st_size > 0, name
    client = mlflow.MlflowClient(f"sqlite:///{tmp}/mlruns/mlflow.db")
    assert names <= {a.path for a in client.list_artifacts(comparison_id)}
    assert (out / "pr_curves_febrl4.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    md = (out / "comparison.md").read_text()
    assert "| `ensemble` | 2 |" in md and "| `soft_f1` | 2 |" in md and "| `bce` | 2 |" in md


def test_comparison_csv_equals_what_mlflow_holds(quick):
    _, tmp, comparison_id, children = quick
    out = next((tmp / "outputs" / "comparisons").iterdir())
    table = pd.read_csv(out / "comparison.csv")
    required = ["data", "loss", "seeds", "test_f1_mean", "test_f1_ci_low", "test_f1_ci_high", "p_vs_bce"]
    for metric in ("precision", "recall", "mcc", "pr_auc", "log_loss", "brier", "ece"):
        required += [f"test_{metric}_mean", f"test_{metric}_ci_low", f"test_{metric}_ci_high"]
    assert list(table.columns[:7]) == required[:7] and set(required) <= set(table.columns)
    assert sorted(table["loss"]) == ["bce", "ensemble", "soft_f1"] and set(table["seeds"]) == {2}
    for _, row in table.iterrows():
        runs = [r for r in children if r.data.tags["comparison_loss"] == row["loss"]]
        for metric in ("test_f1", "test_precision", "test_recall", "test_mcc", "test_pr_auc", "test_log_loss",
                       "test_brier", "test_ece"):
            values = np.array([r.data.metrics[metric] for r in runs])
            # Mean and Student t interval of the two seeds' values, computed here from MLflow's numbers.
            assert row[f"{metric}_mean"] == pytest.approx(values.mean(), abs=1e-12), (row["loss"], metric)
            if values[0] != values[1]:
                # Cut to the metric's possible values (two seeds give a wide interval: F1 0.9 +- 0.2 reaches 1.1).
                lowest, highest = compare.METRIC_RANGE.get(metric, compare.UNIT_RANGE)
                half = stats.t.ppf(0.975, 1) * values.std(ddof=1) / np.sqrt(2)
                assert row[f"{metric}_ci_low"] == pytest.approx(max(values.mean() - half, lowest), abs=1e-9)
                assert row[f"{metric}_ci_high"] == pytest.approx(min(values.mean() + half, highest), abs=1e-9)


def _pipeline(name: str):
    return load_script(f"pipelines/{name}.py")


def test_report_rebuilds_the_comparison_from_mlflow_alone(quick, capsys):
    _, tmp, comparison_id, children = quick
    store = [f"tracking.uri=sqlite:///{tmp}/mlruns/mlflow.db", f"paths.output_dir={tmp}/reports"]
    client = mlflow.MlflowClient(f"sqlite:///{tmp}/mlruns/mlflow.db")
    experiments = [e.experiment_id for e in client.search_experiments()]
    before = len(client.search_runs(experiments))
    # The same id twice is one comparison; nothing is trained, nothing logged.
    assert _pipeline("compare_losses").main(["--report", comparison_id, comparison_id, *store]) == 0
    out = capsys.readouterr().out
    csv = Path(re.search(rf"^report of 1 comparison\(s\) {comparison_id}: (\S+)$", out, re.M).group(1))
    assert str(csv).startswith(str(tmp / "reports" / "comparisons" / "report-"))
    original = next((tmp / "outputs" / "comparisons").iterdir()) / "comparison.csv"
    pd.testing.assert_frame_equal(pd.read_csv(csv), pd.read_csv(original))
    assert (csv.parent / "pr_curves_febrl4.png").stat().st_size > 0
    assert len(client.search_runs(experiments)) == before
    # A child run is not a comparison: one line, exit 2.
    child = children[0].info.run_id
    with pytest.raises(SystemExit) as exit_:
        _pipeline("compare_losses").main(["--report", child, *store])
    assert exit_.value.code == 2
    assert capsys.readouterr().err.strip().endswith(f"comparison {child}: not a comparison's parent run (tag lossmatch_kind is not 'comparison')")


def _split(predictions: pd.DataFrame, split: str) -> pd.DataFrame:
    return predictions[predictions["split"] == split].sort_values(["left_id", "right_id"])


def test_ensemble_fitted_on_validation_and_scored_on_test(quick):
    _, tmp, _, children = quick
    uri = f"sqlite:///{tmp}/mlruns/mlflow.db"
    client = mlflow.MlflowClient(uri)
    for run in [r for r in children if r.data.tags["loss"] == "ensemble"]:
        weights = {k.rsplit(".", 1)[1]: float(v) for k, v in run.data.params.items() if k.startswith("ensemble.weight.")}
        assert set(weights) == set(LOSSES) and sum(weights.values()) == pytest.approx(1.0, abs=1e-5)
        preds = load_predictions(run.info.run_id, tracking_uri=uri)
        members = {
            r.data.tags["comparison_loss"]: r for r in children
            if r.data.tags["seed"] == run.data.tags["seed"] and r.data.tags["loss"] != "ensemble"
        }
        assert run.data.tags["ensemble_member_runs"] == ", ".join(members[k].info.run_id for k in sorted(members))
        threshold = run.data.metrics["threshold"]
        for split in ("val", "test"):
            rows = _split(preds, split)
            missed = int(run.data.metrics[f"{split}_matches"]) - int(rows["label"].sum())
            # The logged probabilities are the weighted average of the members' (to float32 rounding).
            mixed = sum(w * _split(load_predictions(members[k].info.run_id, tracking_uri=uri), split)["probability"].to_numpy()
                        for k, w in weights.items())
            assert np.allclose(rows["probability"].to_numpy(), mixed, atol=1e-5)
            scored = metrics.evaluate(rows["label"], rows["probability"], threshold, missed_matches=missed)
            assert run.data.metrics[f"{split}_f1"] == pytest.approx(scored["f1"])
        # The threshold is the F1-best one of the validation scores, found without the test pairs.
        val = preds[preds["split"] == "val"]
        val_missed = int(run.data.metrics["val_matches"]) - int(val["label"].sum())
        assert threshold == pytest.approx(metrics.best_f1_threshold(val["label"], val["probability"], missed_matches=val_missed), abs=1e-6)
        assert {"ensemble.json", "predictions.parquet"} <= {a.path for a in client.list_artifacts(run.info.run_id)}


def test_ensemble_pipeline_on_runs_of_one_seed_repeats_the_comparison_s_ensemble(quick, capsys):
    _, tmp, _, children = quick
    module = _pipeline("ensemble")
    uri = f"sqlite:///{tmp}/mlruns/mlflow.db"
    assert module.main(["--experiment", "lossmatch/febrl4", "--seed", "1", "--losses", *LOSSES, f"tracking.uri={uri}"]) == 0
    run_id = re.search(r"MLflow run ([0-9a-f]{32})", capsys.readouterr().out).group(1)
    alone = mlflow.MlflowClient(uri).get_run(run_id)
    (inside,) = [r for r in children if r.data.tags["loss"] == "ensemble" and r.data.tags["seed"] == "1"]
    # Same members, same seed: the same weights, threshold and test F1 (the evolution is seeded).
    weights = {k: v for k, v in alone.data.params.items() if k.startswith("ensemble.weight.")}
    assert weights == {k: v for k, v in inside.data.params.items() if k.startswith("ensemble.weight.")}
    assert alone.data.metrics["threshold"] == inside.data.metrics["threshold"]
    assert alone.data.metrics["test_f1"] == inside.data.metrics["test_f1"]
    # Outside a comparison: not tagged with it, not nested.
    assert "comparison" not in alone.data.tags and "mlflow.parentRunId" not in alone.data.tags


def test_runs_found_through_a_real_mlflow_server(quick, tmp_path):
    _, tmp, comparison_id, children = quick
    expected = {r.info.run_id: r.data.metrics["test_f1"] for r in children}
    with mlflow_server(f"sqlite:///{tmp}/mlruns/mlflow.db", tmp / "mlruns" / "artifacts") as url:
        # REST API: the data set's experiment by name, then the comparison's runs by tag.
        with urllib.request.urlopen(f"{url}/api/2.0/mlflow/experiments/get-by-name?experiment_name=lossmatch/febrl4") as r:
            experiment_id = json.load(r)["experiment"]["experiment_id"]
        body = json.dumps({"experiment_ids": [experiment_id], "filter": f"tags.comparison = '{comparison_id}'",
                           "max_results": 100}).encode()
        request = urllib.request.Request(f"{url}/api/2.0/mlflow/runs/search", data=body,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request) as r:
            found = json.load(r)["runs"]
        rest = {
            run["info"]["run_id"]: {m["key"]: m["value"] for m in run["data"]["metrics"]}["test_f1"] for run in found
        }
        assert rest == pytest.approx(expected)
        # MlflowClient pointed at the server: the same runs, and the parent's comparison.csv through it.
        client = mlflow.MlflowClient(tracking_uri=url)
        via_client = client.search_runs([experiment_id], filter_string=f"tags.comparison = '{comparison_id}'")
        assert {r.info.run_id: r.data.metrics["test_f1"] for r in via_client} == pytest.approx(expected)
        parent = client.get_run(comparison_id)
        assert parent.data.tags["lossmatch_kind"] == "comparison"
        csv = client.download_artifacts(comparison_id, "comparison.csv", str(tmp_path))
        assert pd.read_csv(csv)["loss"].tolist() == pd.read_csv(next((tmp / "outputs" / "comparisons").iterdir()) / "comparison.csv")["loss"].tolist()


@pytest.mark.slow
@pytest.mark.skipif(chromium_binary() is None, reason="needs Chromium (Debian: apt-get install -y chromium)")
def test_compare_page_in_headless_chromium(quick, tmp_path):
    # Slow: the server and a browser each take tens of seconds to start on a busy 2-core machine.
    _, tmp, _, children = quick
    runs = [r.info.run_id for r in children]
    experiments = sorted({r.info.experiment_id for r in children})
    with mlflow_server(f"sqlite:///{tmp}/mlruns/mlflow.db", tmp / "mlruns" / "artifacts") as url:
        text = compare_page_screenshot(url, runs, experiments, tmp_path / "compare.png")
    # The page compares all six runs, lists them by name and offers their metrics.
    assert "Comparing 6 Runs from 1 Experiment" in text
    for run in children:
        assert run.info.run_name in text
    assert "test_f1" in text
    png = (tmp_path / "compare.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20_000
