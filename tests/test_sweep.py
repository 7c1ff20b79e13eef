"""lossmatch inside an Optuna sweep: the real train.py under hparams_search, trials nested in
MLflow, pruning from the Keras loop, failing trials recorded and skipped."""

from __future__ import annotations

import os
import subprocess
import sys

import mlflow
import optuna
import pytest
from conftest import ROOT, tiny_overrides

from lossmatch import sweep
from lossmatch.pipeline import train


def _sweep(tmp_path, *args):
    env = {**os.environ, "PROJECT_ROOT": str(ROOT)}
    return subprocess.run(
        [sys.executable, str(ROOT / "train.py"), "-m", *args, *tiny_overrides(tmp_path),
         f"hydra.sweeper.storage=sqlite:///{tmp_path}/optuna.db", f"hydra.sweep.dir={tmp_path}/sweep"],
        capture_output=True, text=True, env=env, timeout=900,
    )


def test_three_trial_sweep_nests_its_runs_and_records_test_f1(tmp_path):
    proc = _sweep(tmp_path, "hparams_search=focal_optuna", "hydra.sweeper.n_trials=3")
    assert proc.returncode == 0, proc.stderr[-3000:]
    study = optuna.load_study(study_name="focal-febrl4", storage=f"sqlite:///{tmp_path}/optuna.db")
    trials = study.get_trials()
    assert [t.state for t in trials] == [optuna.trial.TrialState.COMPLETE] * 3
    # The objective is validation F1; test F1 is recorded beside it, never optimised.
    assert all(t.value == t.user_attrs["val_f1"] and 0 <= t.user_attrs["test_f1"] <= 1 for t in trials)
    # One parent run for the sweep; each trial's run nested under it, tagged with its trial.
    client = mlflow.MlflowClient(f"sqlite:///{tmp_path}/mlruns/mlflow.db")
    runs = client.search_runs([client.get_experiment_by_name("lossmatch/febrl4").experiment_id])
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    assert len(parents) == 1 and len(children) == 3
    assert {r.data.tags["mlflow.parentRunId"] for r in children} == {parents[0].info.run_id}
    assert sorted(r.data.tags["optuna.trial_number"] for r in children) == ["0", "1", "2"]
    assert {r.info.run_id for r in children} == {t.user_attrs["mlflow_run_id"] for t in trials}
    # The summary names the best trial with its test F1 and how to look at the study.
    assert "Best trial" in proc.stderr + proc.stdout and "test_f1" in proc.stderr + proc.stdout


def test_a_trial_with_bad_input_fails_and_the_sweep_goes_on(tmp_path):
    # Random sampler, seed 1: trial 0 draws alpha 1.5 (out of range), trial 1 draws 0.5.
    proc = _sweep(
        tmp_path, "hparams_search=focal_optuna", "hydra/sweeper/sampler=random", "hydra.sweeper.sampler.seed=1",
        "hydra.sweeper.n_trials=2", "hydra.sweeper.max_failure_rate=0.5",
        "hydra.sweeper.params={loss.alpha: 'choice(0.5, 1.5)', loss.gamma: 'choice(1.0)'}",
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    study = optuna.load_study(study_name="focal-febrl4", storage=f"sqlite:///{tmp_path}/optuna.db")
    first, second = study.get_trials()
    assert (first.params["loss.alpha"], first.state) == (1.5, optuna.trial.TrialState.FAIL)
    assert "alpha must be a number in [0, 1], got 1.5" in first.user_attrs["fail_reason"]
    assert (second.params["loss.alpha"], second.state) == (0.5, optuna.trial.TrialState.COMPLETE)


class _PruneAtOnce:
    """A trial whose pruner stops every run after its first epoch."""

    number, study_name, mlflow_parent_run_id = 7, "unit", None

    def __init__(self):
        self.reports, self.attrs = [], {}

    def report(self, value, step):
        self.reports.append((step, value))

    def should_prune(self):
        return True

    def set_user_attr(self, key, value):
        self.attrs[key] = value

    def mlflow_tags(self):
        return {"optuna.trial_number": "7"}


def test_pruned_trial_stops_after_one_epoch_and_its_run_ends_killed(compose_cfg, tmp_path, monkeypatch):
    trial = _PruneAtOnce()
    monkeypatch.setattr(sweep, "current_trial", lambda: trial)
    cfg = compose_cfg([*tiny_overrides(tmp_path), "trainer.epochs=5"])
    with pytest.raises(optuna.TrialPruned, match="pruned after epoch 1"):
        train(cfg, output_dir=tmp_path / "run")
    # Validation F1 of the first epoch was reported, then training stopped.
    assert len(trial.reports) == 1 and trial.reports[0][0] == 0 and 0 <= trial.reports[0][1] <= 1
    run = mlflow.MlflowClient(cfg.tracking.uri).get_run(trial.attrs["mlflow_run_id"])
    assert run.info.status == "KILLED" and run.data.tags["optuna.trial_number"] == "7"
    assert len(mlflow.MlflowClient(cfg.tracking.uri).get_metric_history(run.info.run_id, "epoch_loss")) == 1
    assert not (tmp_path / "run" / "export").exists()
