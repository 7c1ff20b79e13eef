"""Wall time of a 4-loss comparison (``python train.py -m loss=bce,focal,soft_f1,combined``)
against one ``python train.py``, on FEBRL4, in one session.

Both commands run as subprocesses on one MLflow store and feature cache, interleaved for
``--rounds`` rounds after one untimed warm-up (which creates the store and fills the cache,
as a user's first run does). Prints each time, the medians, the ratio of medians (target
< 1.5) and checks that every job of the multirun reports the same metrics as the same loss
run alone (results must not depend on running in a multirun or on the cache).

    python bench/multirun_ratio.py [--rounds 3] [-- extra train.py overrides]
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
LOSSES = ("bce", "focal", "soft_f1", "combined")


def timed(cmd: list[str]) -> float:
    started = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if proc.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{proc.stderr[-3000:]}")
    return time.perf_counter() - started


def figures(folder: Path) -> dict[str, dict]:
    """loss -> the run's threshold and split metrics, from each metrics.json under ``folder``."""
    out = {}
    for path in folder.rglob("metrics.json"):
        m = json.loads(path.read_text())
        out[m["loss"]] = {k: m[k] for k in ("threshold", "val", "test", "train", "epochs_run")}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-check", action="store_true", help="skip the 4 reference runs of each loss alone")
    parser.add_argument("overrides", nargs="*", help="extra train.py overrides")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="lossmatch-multirun-"))
    store = [f"tracking.uri=sqlite:///{tmp}/mlruns/mlflow.db", f"tracking.artifact_location={tmp}/mlruns/artifacts",
             "trainer.verbose=0", *args.overrides]
    train = [sys.executable, str(ROOT / "train.py")]

    def single(out):
        return [*train, *store, f"paths.output_dir={out}"]

    def multi(out):
        return [*train, "-m", f"loss={','.join(LOSSES)}", *store, f"paths.output_dir={out}"]

    print("warm-up (untimed): one run" + ("" if args.no_check else ", then each loss alone (reference figures)"),
          flush=True)
    timed(single(tmp / "warm"))
    for loss in () if args.no_check else LOSSES:
        timed([*single(tmp / "alone"), f"loss={loss}"])
    alone = figures(tmp / "alone") if not args.no_check else {}
    times: dict[str, list[float]] = {"one run": [], "4-loss multirun": []}
    for r in range(args.rounds):
        for name, cmd in (("one run", single(tmp / f"single{r}")), ("4-loss multirun", multi(tmp / f"multi{r}"))):
            elapsed = timed(cmd)
            times[name].append(elapsed)
            print(f"round {r + 1}: {name:16s} {elapsed:7.2f} s", flush=True)
        jobs = figures(tmp / f"multi{r}")
        if alone:
            same = all(jobs[loss] == alone[loss] for loss in LOSSES)
            print(f"round {r + 1}: multirun metrics {'identical to' if same else 'DIFFERENT from'} each loss run alone")
    med = {name: statistics.median(t) for name, t in times.items()}
    print(f"\nmedian: one run {med['one run']:.2f} s, 4-loss multirun {med['4-loss multirun']:.2f} s")
    print(f"ratio multirun / one run: {med['4-loss multirun'] / med['one run']:.2f}  (target < 1.5)")
    print("test F1 per loss: " + ", ".join(f"{loss} {jobs[loss]['test']['f1']:.4f}" for loss in LOSSES))


if __name__ == "__main__":
    main()
