"""Reliability of the command line: every bad value is one line and exit status 2, fast, with
nothing left behind; signals end runs KILLED; killed runs are recovered by the next one."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import mlflow
import pytest
from conftest import ROOT, tiny_overrides

TRAIN = str(ROOT / "train.py")
# Lines TensorFlow prints to stderr when it is imported without lossmatch.runtime's silencing.
TF_NOISE = ("absl::InitializeLog", "cudart_stub", "cuInit", "cpu_feature_guard", "oneDNN")


def run_train(args, tmp_path, *, timeout=300, **kwargs):
    env = {**os.environ, "PROJECT_ROOT": str(ROOT)}
    env.pop("HYDRA_FULL_ERROR", None)
    return subprocess.run(
        [sys.executable, TRAIN, *tiny_overrides(tmp_path), *args],
        capture_output=True, text=True, env=env, timeout=timeout, cwd=tmp_path, **kwargs,
    )


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again when the socket is: nothing listens there


# (arguments, words the one line must contain). Each is a value the issue tracker found
# ending in a traceback, a FAILED run, or a silently changed meaning.
BAD_VALUES = [
    (["trainer.sampling=oversample", "trainer.sampling_ratio=5"], ["trainer.sampling_ratio", "5", "less than or equal to 1"]),
    (["trainer.verbose=loud"], ["trainer.verbose", "loud", "'auto', 0, 1 or 2"]),
    (["loss=pairwise_soft_zero_one", "trainer.list_size=0"], ["trainer.list_size", "0"]),
    (["seed=abc"], ["seed", "abc", "integer"]),
    (["seed=1.5"], ["seed", "fractional"]),
    (["max_candidate_pairs=abc"], ["max_candidate_pairs", "abc"]),
    (["trainer.validation_weight_epochs=-3"], ["trainer.validation_weight_epochs", "-3"]),
    (["optimized_metric=test_f1"], ["optimized_metric", "test_f1", "val_f1"]),
    (["loss=nosuchloss"], ["loss=nosuchloss", "no such option", "soft_f1", "combined"]),
    (["data=nosuch"], ["data=nosuch", "febrl4", "csv"]),
    (["hparams_search=optuna"], ["hparams_search=optuna", "no such option"]),
    (["experiment=nonexistent"], ["experiment=nonexistent", "febrl4_focal"]),
    (["trainer.epoch=5"], ["trainer.epoch", "unknown key", "trainer: epochs"]),
    (["loss.foo=1"], ["loss.foo", "unknown key", "alpha"]),
    (["loss=focal", "loss.alpha=1.5"], ["loss=focal", "alpha", "[0, 1]", "1.5"]),
    (["model.dropout=2"], ["model.dropout", "[0, 1)", "2"]),
    (["trainer.class_weight=validation", "trainer.validation_weight_epochs=5"], ["validation_weight_epochs", "trainer.epochs=1"]),
    # One known match: whatever the split, validation and test cannot both hold one.
    (["data.sample=1"], ["split has no matching candidate pair", "1 known match", "at least three"]),
    (["+data.colour=red"], ["data.colour", "unknown key"]),
    # Mandatory values (???) were a MissingMandatoryValue traceback once another was given.
    (["data=csv", "data.left=a.csv"], ["data.matches, data.right: missing values", "data.right=..."]),
    (["data=deepmatcher"], ["data.path: missing value", "data.path=..."]),
    (["data=deepmatcher", "data.path=x", "data.split.val=2"], ["data.split.val: data.split is null here", "data.split=..."]),
    (["data.colour.name=red"], ["data.colour: unknown key", "keys of data"]),
    # Flags after overrides, and a flag's value as its own word: Hydra's parser refused the one,
    # the preflight read "train" as an override.
    (["-cn", "train", "trainer.batch_size=-1"], ["trainer.batch_size", "-1"]),
    (["-m", "hparams_search=combined_optuna", "hydra.sweeper.n_trials=abc"],
     ["hydra.sweeper.n_trials=abc", "could not be converted to integer"]),
]


@pytest.mark.parametrize("args,words", BAD_VALUES, ids=[" ".join(a) for a, _ in BAD_VALUES])
def test_bad_value_is_one_line_exit_2_and_nothing_left(args, words, tmp_path):
    proc = run_train(args, tmp_path, timeout=120)
    assert proc.returncode == 2, proc.stderr[-2000:]
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("lossmatch: error: ")
    for word in words:
        assert word.lower() in lines[0].lower(), (word, lines[0])
    # No run, no store, no run directory, no stray store in the working directory.
    assert not (tmp_path / "mlruns").exists()
    assert not [p for p in (tmp_path / "outputs").rglob("*") if p.is_file()]
    assert not (tmp_path / "mlflow.db").exists()


def test_unreachable_tracking_server_fails_at_once(tmp_path):
    started = time.monotonic()
    proc = run_train([f"tracking.uri=http://127.0.0.1:{_closed_port()}"], tmp_path, timeout=60)
    elapsed = time.monotonic() - started
    assert proc.returncode == 2
    assert "no tracking server answers" in proc.stderr and "Traceback" not in proc.stderr
    # It used to retry for 261 s; the store is checked before any data is loaded.
    assert elapsed < 5, elapsed


def test_store_in_a_folder_that_cannot_be_written_is_one_line(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the store's folder should be")
    proc = run_train([f"tracking.uri=sqlite:///{blocker}/mlruns/mlflow.db"], tmp_path, timeout=60)
    assert proc.returncode == 2
    assert "not writable" in proc.stderr and str(blocker) in proc.stderr
    assert "Traceback" not in proc.stderr


def _wait_for(proc, predicate, timeout=240):
    """Read the child's stdout until a line satisfies ``predicate``; returns what was read."""
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        seen.append(line)
        if predicate(line):
            return seen
    raise AssertionError("never reached: " + "".join(seen[-20:]))


def _popen(args, tmp_path, script=None):
    env = {**os.environ, "PROJECT_ROOT": str(ROOT), "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, script or TRAIN, *tiny_overrides(tmp_path), *args]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=tmp_path)


def _only_run(tmp_path):
    client = mlflow.MlflowClient(f"sqlite:///{tmp_path}/mlruns/mlflow.db")
    runs = client.search_runs([e.experiment_id for e in client.search_experiments()])
    assert len(runs) == 1, runs
    return runs[0]


def _no_export_left(tmp_path):
    outputs = tmp_path / "outputs"
    assert not list(outputs.rglob("export")), list(outputs.rglob("export"))
    assert not list(outputs.rglob(".export.*.tmp"))


def test_sigterm_during_training_ends_the_run_killed(tmp_path):
    proc = _popen(["trainer.epochs=500", "trainer.verbose=2", "trainer.early_stopping_patience_steps=0"], tmp_path)
    _wait_for(proc, lambda line: line.startswith("Epoch 2/"))
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 143
    assert _only_run(tmp_path).info.status == "KILLED"
    _no_export_left(tmp_path)


# Runs train.py with the export's model save slowed down, and says when the export has begun.
_SLOW_EXPORT = """
import sys, time, runpy
from pathlib import Path
import lossmatch.export as export

original = export.save_export_contents

def slow(directory, *args, **kwargs):
    original(directory, *args, **kwargs)
    print("EXPORT-STARTED", directory, flush=True)
    time.sleep(120)

export.save_export_contents = slow
sys.argv = [{train!r}, *sys.argv[1:]]
runpy.run_path({train!r}, run_name="__main__")
"""


def _slow_export_script(tmp_path) -> str:
    script = tmp_path / "slow_export.py"
    script.write_text(_SLOW_EXPORT.format(train=TRAIN))
    return str(script)


def test_sigterm_during_export_leaves_no_partial_export(tmp_path):
    proc = _popen([], tmp_path, script=_slow_export_script(tmp_path))
    seen = _wait_for(proc, lambda line: line.startswith("EXPORT-STARTED"))
    tmp_dir = Path(seen[-1].split()[1])
    assert tmp_dir.is_dir() and tmp_dir.name.endswith(".tmp")
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 143
    assert not tmp_dir.exists()
    assert _only_run(tmp_path).info.status == "KILLED"
    _no_export_left(tmp_path)


def test_sigkill_is_recovered_by_the_next_run(tmp_path):
    # Killed hard during the export: nothing can clean up in that process.
    proc = _popen([], tmp_path, script=_slow_export_script(tmp_path))
    seen = _wait_for(proc, lambda line: line.startswith("EXPORT-STARTED"))
    leftover = Path(seen[-1].split()[1])
    proc.kill()
    proc.wait(timeout=60)
    killed = _only_run(tmp_path)
    assert killed.info.status == "RUNNING" and leftover.is_dir()

    # The next run on the same store marks it FAILED and removes its temporary export.
    assert run_train(["seed=3"], tmp_path).returncode == 0
    client = mlflow.MlflowClient(f"sqlite:///{tmp_path}/mlruns/mlflow.db")
    again = client.get_run(killed.info.run_id)
    assert again.info.status == "FAILED"
    assert str(proc.pid) in again.data.tags["lossmatch_end"]
    assert not leftover.exists()


def test_four_concurrent_runs_on_a_fresh_store_are_all_recorded(tmp_path):
    procs = [_popen([f"seed={seed}"], tmp_path) for seed in range(4)]
    outputs = [p.communicate(timeout=600)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0], "\n".join(o[-1500:] for o in outputs)
    uri = f"sqlite:///{tmp_path}/mlruns/mlflow.db"
    client = mlflow.MlflowClient(uri)
    runs = client.search_runs([e.experiment_id for e in client.search_experiments()])
    assert sorted(r.data.tags["seed"] for r in runs) == ["0", "1", "2", "3"]
    assert all(r.info.status == "FINISHED" for r in runs)
    # Distinct run directories, each export holding its own run's model and metrics.
    import json

    import yaml

    saved = [json.loads(p.read_text()) for p in (tmp_path / "outputs").rglob("metrics.json")]
    assert len({s["export_dir"] for s in saved}) == 4
    for s in saved:
        meta = yaml.safe_load((Path(s["export_dir"]) / "export.yaml").read_text())
        assert meta["mlflow_run_id"] == s["mlflow_run_id"]
        assert client.get_run(s["mlflow_run_id"]).data.metrics["threshold"] == pytest.approx(s["threshold"])


def test_predict_command_names_every_missing_value(tmp_path):
    # conf/predict.yaml leaves export, data.left and data.right mandatory (???).
    proc = subprocess.run(
        [sys.executable, str(ROOT / "pipelines" / "predict.py"), "data.left=a.csv", f"hydra.run.dir={tmp_path / 'p'}"],
        capture_output=True, text=True, timeout=120, env={**os.environ, "PROJECT_ROOT": str(ROOT)}, cwd=tmp_path,
    )
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert proc.stderr.strip().splitlines() == [
        "lossmatch: error: data.right, export: missing values; give them on the command line (data.right=... export=...)"
    ]
    assert not (tmp_path / "p").exists()


def test_a_cache_folder_that_cannot_be_written_is_one_line(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    proc = run_train([f"cache.dir={blocker / 'cache'}"], tmp_path, timeout=120)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert proc.stderr.strip().splitlines() == [
        f"lossmatch: error: cache.dir: {blocker} is not writable (not a directory); "
        "choose another cache.dir, or cache.enabled=false"
    ]
    assert not (tmp_path / "mlruns").exists()


def test_flags_and_their_values_are_told_from_overrides():
    from lossmatch.cli import split_command_line

    args = ["a=1", "-m", "b=2,3", "-cn", "train", "--config-dir=conf", "--experimental-rerun", "x.pickle", "c=4"]
    assert split_command_line(args) == (
        ["-m", "-cn", "train", "--config-dir=conf", "--experimental-rerun", "x.pickle"], ["a=1", "b=2,3", "c=4"]
    )
