"""Wall time of ``python train.py`` on FEBRL4 against the classic recordlinkage recipe, in one run.

Both are whole commands (interpreter start, imports, data, blocking, comparisons, training,
evaluation, and for lossmatch the MLflow run with its artifacts and exit), run as
subprocesses, interleaved for ``--rounds`` rounds after one untimed warm-up each (the warm-up
also creates lossmatch's MLflow store, which a user pays once). Prints each time, the medians,
the ratio of medians (target <= 1.0) and both test F1 (lossmatch's target >= 0.998), then the
time a bad input takes to be refused (target < 2 s; no TensorFlow import before the checks).

    python bench/e2e_vs_peers.py [--rounds 3] [-- extra train.py overrides]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def timed(cmd: list[str]) -> tuple[float, subprocess.CompletedProcess]:
    started = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    elapsed = time.perf_counter() - started
    if proc.returncode not in (0, 2):
        sys.exit(f"failed: {' '.join(cmd)}\n{proc.stderr[-3000:]}")
    return elapsed, proc


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("overrides", nargs="*", help="extra train.py overrides")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="lossmatch-bench-"))
    ours = [sys.executable, str(ROOT / "train.py"), f"tracking.uri=sqlite:///{tmp}/mlruns/mlflow.db",
            f"tracking.artifact_location={tmp}/mlruns/artifacts", f"paths.output_dir={tmp}/outputs", *args.overrides]
    peer = [sys.executable, str(ROOT / "bench" / "peers" / "recordlinkage_classic.py")]

    print("warm-up (untimed): lossmatch, then recordlinkage", flush=True)
    timed(ours)
    timed(peer)
    times: dict[str, list[float]] = {"lossmatch": [], "recordlinkage": []}
    f1 = {}
    for r in range(args.rounds):
        for name, cmd in (("lossmatch", ours), ("recordlinkage", peer)):
            elapsed, proc = timed(cmd)
            times[name].append(elapsed)
            if name == "lossmatch":
                metrics = json.loads(max((tmp / "outputs").rglob("metrics.json"), key=lambda p: p.stat().st_mtime).read_text())
                f1[name] = metrics["test"]["f1"]
            else:
                f1[name] = json.loads(proc.stdout.strip().splitlines()[-1])["f1"]
            print(f"round {r + 1}: {name:13s} {elapsed:6.2f} s  test F1 {f1[name]:.4f}", flush=True)

    med = {name: statistics.median(t) for name, t in times.items()}
    print(f"\nmedian wall time: lossmatch {med['lossmatch']:.2f} s, recordlinkage {med['recordlinkage']:.2f} s")
    print(f"ratio lossmatch / recordlinkage: {med['lossmatch'] / med['recordlinkage']:.2f}  (target <= 1.0)")
    print(f"test F1: lossmatch {f1['lossmatch']:.4f} (target >= 0.998), recordlinkage {f1['recordlinkage']:.4f}")

    bad = [timed([*ours, "seed=abc"])[0] for _ in range(3)]
    print(f"bad input refused in {statistics.median(bad):.2f} s (median of 3; target < 2 s)")


if __name__ == "__main__":
    main()
