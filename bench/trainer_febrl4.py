"""FEBRL4's default run with this checkout's trainer against a baseline checkout's, interleaved.

    git worktree add --detach /tmp/lossmatch-base <baseline commit>
    python bench/trainer_febrl4.py --base /tmp/lossmatch-base [--rounds 3] [--seeds 42,1]

Each round runs ``python train.py seed=S`` once from the baseline and once from this checkout
(alternating which goes first), each with its own ``src`` on ``PYTHONPATH`` and a throw-away
MLflow store, and reads back the test F1 and the seconds spent in training (MLflow's
``train_seconds``) and in the whole run. It prints every run, then per checkout the medians and
the ratios this/baseline: a ratio below 1 is faster. Timings on a shared machine are noisy;
the ratio of medians over interleaved rounds is the figure to compare.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]


def run_once(checkout: Path, seed: int, work: Path) -> dict:
    import mlflow

    out = work / f"{checkout.name}-{seed}-{time.time_ns()}"
    store = work / "mlruns"
    env = {**os.environ, "PYTHONPATH": str(checkout / "src"), "PROJECT_ROOT": str(checkout),
           "TF_CPP_MIN_LOG_LEVEL": "3"}
    cmd = [sys.executable, str(checkout / "train.py"), f"seed={seed}", "trainer.verbose=0",
           f"tracking.uri=sqlite:///{store}/mlflow.db", f"tracking.artifact_location={store}/artifacts",
           f"hydra.run.dir={out}"]
    started = time.perf_counter()
    proc = subprocess.run(cmd, cwd=checkout, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"{checkout}: train.py failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    result = json.loads((out / "metrics.json").read_text())
    client = mlflow.MlflowClient(f"sqlite:///{store}/mlflow.db")
    train_seconds = client.get_run(result["mlflow_run_id"]).data.metrics["train_seconds"]
    return {"test_f1": result["test"]["f1"], "train_seconds": train_seconds, "wall": wall,
            "epochs": result.get("epochs_run")}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", required=True, help="a checkout of the baseline commit")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seeds", default="42")
    args = parser.parse_args(argv)
    checkouts = {"baseline": Path(args.base).resolve(), "this": HERE}
    seeds = [int(s) for s in args.seeds.split(",")]
    runs = {name: [] for name in checkouts}
    with tempfile.TemporaryDirectory(prefix="trainer-febrl4-") as tmp:
        for r in range(args.rounds):
            for seed in seeds:
                order = list(checkouts) if r % 2 == 0 else list(reversed(checkouts))
                for name in order:
                    row = run_once(checkouts[name], seed, Path(tmp) / name)
                    runs[name].append(row)
                    print(f"round {r + 1} seed {seed} {name:8s}: test F1 {row['test_f1']:.4f}  "
                          f"training {row['train_seconds']:.1f} s  run {row['wall']:.1f} s  epochs {row['epochs']}",
                          flush=True)
    med = {name: {k: statistics.median(x[k] for x in rows) for k in ("train_seconds", "wall")}
           for name, rows in runs.items()}
    for name, rows in runs.items():
        f1 = [x["test_f1"] for x in rows]
        print(f"{name:8s}: test F1 min {min(f1):.4f} median {statistics.median(f1):.4f}; median training "
              f"{med[name]['train_seconds']:.1f} s, run {med[name]['wall']:.1f} s")
    print(f"ratio this/baseline: training {med['this']['train_seconds'] / med['baseline']['train_seconds']:.2f}, "
          f"whole run {med['this']['wall'] / med['baseline']['wall']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
