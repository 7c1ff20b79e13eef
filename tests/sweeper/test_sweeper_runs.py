"""End to end: the toy task swept by ``python my_app.py -m``, in subprocesses, as a user runs it."""

from __future__ import annotations

import os
import shutil
import signal
import time
from pathlib import Path

import optuna
import pytest
from omegaconf import OmegaConf
from sweep_toy import journal, load_study, run_app, start_app, states


# MLflow fixtures live here, not in a conftest.py: the suite's tests import the top-level
# conftest by name, which a second conftest module on the path would shadow.
@pytest.fixture(scope="session")
def _migrated_mlflow_db(tmp_path_factory) -> Path:
    """An empty MLflow SQLite store with its schema created once (MLflow's migrations take ~15 s)."""
    from mlflow.tracking import MlflowClient

    path = tmp_path_factory.mktemp("mlflow-template") / "mlflow.db"
    MlflowClient(f"sqlite:///{path}").search_experiments()
    return path


@pytest.fixture
def mlflow_db(_migrated_mlflow_db, tmp_path) -> Path:
    """A fresh copy of the migrated store in this test's directory."""
    path = tmp_path / "mlflow.db"
    shutil.copy2(_migrated_mlflow_db, path)
    return path


def _finished(proc, timeout=90):
    out, _ = proc.communicate(timeout=timeout)
    return proc.returncode, out


def test_three_trial_sweep_completes(tmp_path):
    db = f"sqlite:///{tmp_path}/toy.db"
    result = run_app(tmp_path / "sweep", f"hydra.sweeper.storage={db}")
    assert result.returncode == 0, result.stderr
    study = load_study(db)
    assert states(study) == {"COMPLETE": 3}
    # the task's own figures reach the study as user attributes
    assert all("test_score" in t.user_attrs for t in study.trials)
    # one progress line per trial, then the best trial and how to look at the study
    log = result.stdout + result.stderr
    for number in range(3):
        assert f"trial {number} COMPLETE value=" in log
    assert f"Best trial {study.best_trial.number}: value" in log and "test_score" in log
    assert f"optuna-dashboard {tmp_path}/toy.db" not in log  # RDB URL, not a path
    assert f"optuna-dashboard sqlite:///{tmp_path}/toy.db" in log
    results = OmegaConf.load(tmp_path / "sweep" / "optimization_results.yaml")
    assert (
        results.best_value == study.best_value
        and results.best_params == study.best_params
    )
    # same seed and config, new study (here a journal file): the same parameters trial by trial
    again = run_app(tmp_path / "sweep2", f"hydra.sweeper.storage={tmp_path}/again.log")
    assert again.returncode == 0
    replay = optuna.load_study(
        study_name="toy", storage=journal(tmp_path / "again.log")
    )
    assert [t.params for t in replay.trials] == [t.params for t in study.trials]


def test_rerun_continues_the_study_up_to_n_trials(tmp_path):
    storage = f"{tmp_path}/toy.log"
    assert (
        run_app(
            tmp_path / "a",
            f"hydra.sweeper.storage={storage}",
            "hydra.sweeper.n_trials=2",
        ).returncode
        == 0
    )
    # n_trials is the study's total: raising it to 3 adds one trial; re-running adds none
    assert (
        run_app(
            tmp_path / "b",
            f"hydra.sweeper.storage={storage}",
            "hydra.sweeper.n_trials=3",
        ).returncode
        == 0
    )
    last = run_app(
        tmp_path / "c", f"hydra.sweeper.storage={storage}", "hydra.sweeper.n_trials=3"
    )
    assert last.returncode == 0 and "Launching" not in last.stdout + last.stderr
    assert states(
        optuna.load_study(study_name="toy", storage=journal(Path(storage)))
    ) == {"COMPLETE": 3}


def test_killed_and_resumed_sweep_ends_with_n_trials(tmp_path):
    storage = f"{tmp_path}/toy.log"  # a journal file: no heartbeat in Optuna, the sweeper's own
    blocks = tmp_path / "blocks"
    blocks.mkdir()
    proc = start_app(
        tmp_path / "sweep",
        f"hydra.sweeper.storage={storage}",
        "block_on_trial=1",
        f"block_dir={blocks}",
    )
    deadline = time.monotonic() + 120
    while not (
        blocks / "started-1"
    ).exists():  # trial 1's job is running: kill the sweep now
        assert proc.poll() is None and time.monotonic() < deadline, (
            proc.stdout.read() if proc.poll() is not None else "timeout"
        )
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    killed = optuna.load_study(study_name="toy", storage=journal(Path(storage)))
    assert states(killed) == {"COMPLETE": 1, "RUNNING": 1}
    # the re-run waits for trial 1's heartbeat to go stale (grace_period 3 s), fails it and runs
    # its parameters again, then stops at n_trials=3 finished
    result = run_app(tmp_path / "sweep", f"hydra.sweeper.storage={storage}")
    assert result.returncode == 0, result.stderr
    study = optuna.load_study(study_name="toy", storage=journal(Path(storage)))
    assert states(study) == {"COMPLETE": 3, "FAIL": 1}
    stale = study.trials[1]
    retry = next(t for t in study.trials if t.system_attrs.get("failed_trial") == 1)
    assert (
        stale.state.name == "FAIL"
        and retry.params == stale.params
        and retry.state.name == "COMPLETE"
    )
    assert (
        "trial 1 was left RUNNING by a stopped sweeper" in result.stdout + result.stderr
    )


@pytest.mark.parametrize("kind", ["journal", "sqlite"])
def test_two_processes_share_one_study(tmp_path, kind):
    storage = (
        f"{tmp_path}/toy.log" if kind == "journal" else f"sqlite:///{tmp_path}/toy.db"
    )
    records, barrier = tmp_path / "records", tmp_path / "barrier"
    common = [
        f"hydra.sweeper.storage={storage}",
        "hydra.sweeper.n_trials=6",
        f"record_dir={records}",
        f"barrier_dir={barrier}",
        "sleep=0.2",
    ]
    procs = [start_app(tmp_path / f"sweep{i}", *common) for i in range(2)]
    outcomes = [_finished(p) for p in procs]
    assert [rc for rc, _ in outcomes] == [0, 0], "\n".join(out for _, out in outcomes)
    study = (
        load_study(storage)
        if kind == "sqlite"
        else optuna.load_study(study_name="toy", storage=journal(Path(storage)))
    )
    assert states(study) == {"COMPLETE": 6}
    # each job recorded (pid, trial number): both processes worked, and every trial ran once
    ran = [f.stem.split("-") for f in records.iterdir()]
    numbers = sorted(int(n) for _, n in ran)
    assert numbers == list(range(6))
    assert len({pid for pid, _ in ran}) == 2


def test_pruning_marks_a_bad_curve_pruned(tmp_path):
    result = run_app(
        tmp_path / "sweep",
        "curve=true",
        "hydra/sweeper/pruner=median",
        "hydra.sweeper.pruner.n_startup_trials=1",
        "hydra.sweeper.storage=" + f"{tmp_path}/toy.log",
    )
    assert result.returncode == 0, result.stderr
    study = optuna.load_study(study_name="toy", storage=journal(tmp_path / "toy.log"))
    # trial 0 reports 1.0 per step; trials 1 and 2 report 101, 102: worse than the median at step 0
    assert [t.state.name for t in study.trials] == ["COMPLETE", "PRUNED", "PRUNED"]
    assert study.trials[1].intermediate_values == {0: 101.0}
    assert "trial 1 PRUNED" in result.stdout + result.stderr


def test_joblib_workers_reach_their_trial(tmp_path):
    # storage null with an out-of-process launcher: the sweeper makes a journal in the sweep dir
    result = run_app(
        tmp_path / "sweep",
        "hydra/launcher=joblib",
        "hydra.launcher.n_jobs=2",
        "hydra.sweeper.n_jobs=2",
        "hydra.sweeper.n_trials=4",
        "curve=true",
        "hydra/sweeper/pruner=median",
        "hydra.sweeper.pruner.n_startup_trials=1",
    )
    assert result.returncode == 0, result.stderr
    path = tmp_path / "sweep" / "optuna_journal.log"
    assert f"the study goes to {path}" in result.stdout + result.stderr
    study = optuna.load_study(study_name="toy", storage=journal(path))
    # workers report and set attributes through current_trial(): trials 0 and 1 run together
    # (no finished trial to compare with), so both complete; trials 2 and 3 are pruned at step 0
    assert [t.state.name for t in study.trials] == [
        "COMPLETE",
        "COMPLETE",
        "PRUNED",
        "PRUNED",
    ]
    assert all("test_score" in t.user_attrs for t in study.trials[:2])


def test_failing_trials_are_recorded_and_the_sweep_goes_on(tmp_path):
    storage = f"{tmp_path}/toy.log"
    result = run_app(
        tmp_path / "sweep",
        f"hydra.sweeper.storage={storage}",
        "hydra.sweeper.n_trials=4",
        "hydra.sweeper.max_failure_rate=0.5",
        "fail_on_trial=1",
        "exit_on_trial=2",
    )
    assert result.returncode == 0, result.stderr
    study = optuna.load_study(study_name="toy", storage=journal(Path(storage)))
    assert [t.state.name for t in study.trials] == [
        "COMPLETE",
        "FAIL",
        "FAIL",
        "COMPLETE",
    ]
    assert (
        study.trials[1]
        .user_attrs["fail_reason"]
        .startswith("ValueError: toy failure in trial 1 at x=")
    )
    assert (
        study.trials[2].user_attrs["fail_reason"]
        == "the job did not return: SystemExit: 3"
    )
    assert "trial 1 FAIL" in result.stdout + result.stderr


def test_too_many_failures_stop_the_sweep(tmp_path):
    storage = f"{tmp_path}/toy.log"
    result = run_app(
        tmp_path / "sweep",
        f"hydra.sweeper.storage={storage}",
        "hydra.sweeper.n_trials=4",
        "hydra.sweeper.max_failure_rate=0.25",
        "fail_always=true",
    )
    assert result.returncode != 0
    # 0.25 x 4 allows one failure: the second stops the sweep, with the task's message
    assert (
        "2 trials of study 'toy' failed, more than max_failure_rate=0.25 x n_trials=4 allows (1); "
        "last: trial 1: ValueError: toy failure in trial 1"
    ) in result.stderr
    study = optuna.load_study(study_name="toy", storage=journal(Path(storage)))
    assert states(study) == {"FAIL": 2}


def test_non_finite_objective_fails_the_trial(tmp_path):
    storage = f"{tmp_path}/toy.log"
    result = run_app(
        tmp_path / "sweep",
        f"hydra.sweeper.storage={storage}",
        "hydra.sweeper.n_trials=1",
        "hydra.sweeper.max_failure_rate=1.0",
        "return_nan=true",
    )
    assert result.returncode == 0, result.stderr
    trial = optuna.load_study(study_name="toy", storage=journal(Path(storage))).trials[
        0
    ]
    assert (
        trial.state.name == "FAIL"
        and trial.user_attrs["fail_reason"]
        == "the task returned nan, expected a finite number"
    )


@pytest.mark.parametrize(
    "override, group, name",
    [
        ("hydra/sweeper/sampler=tpee", "hydra/sweeper/sampler", "tpee"),
        ("hydra/sweeper/pruner=medain", "hydra/sweeper/pruner", "medain"),
    ],
)
def test_misspelt_sampler_or_pruner_fails_clearly(tmp_path, override, group, name):
    result = run_app(tmp_path / "sweep", override)
    assert result.returncode != 0
    assert f"Could not find '{group}/{name}'" in result.stderr
    assert "Available options" in result.stderr
    expected = "cmaes" if "sampler" in group else "hyperband"
    assert expected in result.stderr


@pytest.mark.parametrize(
    "task_logs_its_run",
    [True, pytest.param(False, marks=pytest.mark.slow)],
    ids=["task-run", "sweeper-run"],
)
def test_mlflow_parent_and_nested_children(tmp_path, mlflow_db, task_logs_its_run):
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{mlflow_db}"
    overrides = [
        f"hydra.sweeper.mlflow.tracking_uri={uri}",
        "hydra.sweeper.mlflow.experiment=toy",
        f"hydra.sweeper.mlflow.artifact_location={tmp_path}/artifacts",
        "hydra.sweeper.n_trials=2",
        f"hydra.sweeper.storage={tmp_path}/toy.log",
    ]
    if task_logs_its_run:
        overrides += [f"mlflow_uri={uri}", "mlflow_experiment=toy"]
    # importances and contour take seconds (a random forest, a grid): the slow variant draws them
    plots = (
        "[optimization_history,slice]"
        if task_logs_its_run
        else "[optimization_history,param_importances,slice,contour]"
    )
    result = run_app(
        tmp_path / "sweep", *overrides, f"hydra.sweeper.mlflow.plots={plots}"
    )
    assert result.returncode == 0, result.stderr
    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("toy")
    runs = client.search_runs([experiment.experiment_id])
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    assert len(parents) == 1 and len(children) == 2
    parent = parents[0]
    study = optuna.load_study(study_name="toy", storage=journal(tmp_path / "toy.log"))
    assert study.user_attrs["mlflow_parent_run_id"] == parent.info.run_id
    assert (
        parent.data.params["study_name"] == "toy"
        and parent.data.params["n_trials"] == "2"
    )
    assert "x: FloatDistribution" in parent.data.params["search_space"]
    assert parent.data.metrics["best_value"] == pytest.approx(study.best_value)
    assert parent.info.status == "FINISHED"
    artifacts = {a.path for a in client.list_artifacts(parent.info.run_id, "optuna")}
    expected = {f"optuna/{name}.png" for name in plots.strip("[]").split(",")}
    assert artifacts == expected
    for child in children:
        tags = child.data.tags
        assert tags["mlflow.parentRunId"] == parent.info.run_id
        assert (
            tags["optuna.study_name"] == "toy"
            and tags["optuna.trial_state"] == "COMPLETE"
        )
    numbers = sorted(int(c.data.tags["optuna.trial_number"]) for c in children)
    assert numbers == [0, 1]
    if (
        task_logs_its_run
    ):  # the task's runs are the children (their ids are trial user attrs)
        assert {c.info.run_id for c in children} == {
            t.user_attrs["mlflow_run_id"] for t in study.trials
        }
    # a re-run with a larger n_trials reuses the parent
    more = run_app(
        tmp_path / "sweep2",
        *[o.replace("n_trials=2", "n_trials=3") for o in overrides],
        "hydra.sweeper.mlflow.plots=[]",
    )
    assert more.returncode == 0, more.stderr
    runs = client.search_runs([experiment.experiment_id])
    assert (
        len([r for r in runs if "mlflow.parentRunId" not in r.data.tags]) == 1
        and len(runs) == 4
    )
