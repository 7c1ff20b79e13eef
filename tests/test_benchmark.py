"""pipelines/benchmark.py: the recipe per seed through the pipeline, the reference row, the table."""

from __future__ import annotations

import json
import math

import mlflow
import pandas as pd
import pytest
from conftest import MAGELLAN, load_script

from lossmatch import benchmark
from lossmatch.errors import InputError

BEER = MAGELLAN / "Structured-Beer"


def _pipeline():
    return load_script("pipelines/benchmark.py")


@pytest.mark.skipif(not BEER.is_dir(), reason="the Magellan sets are not beside the project (set LOSSMATCH_MAGELLAN)")
def test_benchmark_on_a_slice_of_beer_tabulates_its_runs(tmp_path, capsys):
    out = tmp_path / "bench"
    store = tmp_path / "mlruns"
    # 40 pairs of each split (the same 40 for every seed: data.seed is fixed), a short budget.
    code = _pipeline().main([
        str(BEER), "--seeds", "2", "--output", str(out), "data.sample=40", "data.seed=0",
        "trainer.max_steps=40", "trainer.min_steps=0", "trainer.validation_every_steps=20", "model.members=2",
        "trainer.verbose=0", "tracking.log_model=false",
        f"tracking.uri=sqlite:///{store}/mlflow.db", f"tracking.artifact_location={store}/artifacts",
    ])
    assert code == 0
    runs = [json.loads((out / "Structured-Beer" / f"seed{k}" / "metrics.json").read_text()) for k in (1, 2)]
    frame = pd.read_csv(out / "benchmark.csv")
    assert frame["model"].tolist() == ["lossmatch", benchmark.REFERENCE_MODEL]
    ours, reference = frame.iloc[0], frame.iloc[1]
    # The single run is seed 1's metrics.json; the mean and sd are over both seeds' test F1.
    assert ours["test_f1"] == pytest.approx(runs[0]["test"]["f1"])
    assert ours["test_precision"] == pytest.approx(runs[0]["test"]["precision"])
    assert ours["test_recall"] == pytest.approx(runs[0]["test"]["recall"])
    f1 = [r["test"]["f1"] for r in runs]
    assert ours["test_f1_mean"] == pytest.approx(sum(f1) / 2)
    assert ours["test_f1_sd"] == pytest.approx(abs(f1[0] - f1[1]) / math.sqrt(2))  # sample sd of two values
    assert ours["loss"] == runs[0]["loss"] == "bce" and ours["seeds"] == 2
    # Pairs and positives of the slice: 3 x 40 pairs; positives are those of the three splits.
    positives = sum(r["test"]["tp"] + r["test"]["fn"] for r in runs[:1]) + sum(
        runs[0][s]["tp"] + runs[0][s]["fn"] for s in ("train", "val"))
    assert (ours["pairs"], ours["positives"]) == (120, positives) == (reference["pairs"], reference["positives"])
    # The reference row is a real model on the same pairs: a test F1 within [0, 1], scored on the same positives.
    assert 0.0 <= reference["test_f1"] <= 1.0 and reference["seeds"] == 1
    # Published figures of this set, as fractions.
    assert ours["published_ditto_f1"] == pytest.approx(0.9437) and ours["published_magellan_f1"] == pytest.approx(0.788)
    markdown = (out / "benchmark.md").read_text()
    assert "| Structured-Beer |" in markdown and "94.37" in markdown
    printed = capsys.readouterr().out
    assert "Ditto 94.37" in printed and markdown.strip() in printed
    # MLflow: one run per seed in the set's experiment, and the benchmark run with the table.
    client = mlflow.MlflowClient(f"sqlite:///{store}/mlflow.db")
    experiments = {e.name: e.experiment_id for e in client.search_experiments()}
    seed_runs = client.search_runs([experiments["lossmatch/Structured-Beer"]])
    assert sorted(r.info.run_id for r in seed_runs) == sorted(r["mlflow_run_id"] for r in runs)
    (table_run,) = client.search_runs([experiments["lossmatch/benchmark"]])
    assert {a.path for a in client.list_artifacts(table_run.info.run_id)} == {"benchmark.csv", "benchmark.md"}
    assert table_run.data.metrics["Structured-Beer/test_f1"] == pytest.approx(runs[0]["test"]["f1"])
    assert "/" not in table_run.data.params["overrides"].replace("=<path>", "")


def test_bad_input_is_one_line_before_anything_trains(tmp_path, capsys):
    main = _pipeline().main
    with pytest.raises(SystemExit) as info:
        main([str(tmp_path / "nowhere")])
    assert info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("lossmatch: error: ") and "nowhere" in err and "\n" not in err
    (tmp_path / "set").mkdir()
    (tmp_path / "set" / "tableA.csv").write_text("id,name\n0,a\n")
    with pytest.raises(SystemExit):
        main([str(tmp_path / "set")])
    assert "missing tableB.csv, train.csv, valid.csv, test.csv" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main([str(tmp_path / "set"), "--seeds", "0"])
    assert "--seeds" in capsys.readouterr().err


def test_seeds_and_published_lookup():
    seeds = _pipeline().parse_seeds
    assert seeds("5") == [1, 2, 3, 4, 5] and seeds("1,7,9") == [1, 7, 9]
    with pytest.raises(InputError, match="distinct"):
        seeds("1,1")
    assert benchmark.published("structured-amazon-google") == {"Magellan": 49.1, "DeepMatcher": 69.3, "Ditto": 75.58}
    assert benchmark.published("my-own-set") == {}


def test_table_and_markdown_from_known_runs():
    """Two seeds with test F1 0.8 and 0.6: mean 0.7, sample sd 0.1414; the reference row beside them."""
    run = lambda f1: {"loss": "bce", "seconds": 10.0, "val": {"f1": 0.9},  # noqa: E731
                      "test": {"f1": f1, "precision": 1.0, "recall": f1}}
    result = benchmark.SetResult("Structured-Beer", pairs=450, positives=68, test_positives=14,
                                 runs=[run(0.8), run(0.6)], seeds=[1, 2],
                                 reference={"val": {"f1": 0.85}, "test": {"f1": 0.875, "precision": 0.9, "recall": 0.85},
                                            "seconds": 1.5})
    frame = benchmark.table([result])
    ours = frame.iloc[0]
    assert ours["test_f1"] == 0.8 and ours["test_f1_mean"] == pytest.approx(0.7)
    assert ours["test_f1_sd"] == pytest.approx(math.sqrt(((0.1) ** 2 + (0.1) ** 2) / 1))
    md = benchmark.markdown(frame)
    assert "| 80.0 | 70.0 ± 14.1 (2) | 78.8 | 72.7 | 94.37 |" in md
    assert "| 87.5 | 87.5 (deterministic) | 78.8 | 72.7 | 94.37 | 1.5 |" in md
