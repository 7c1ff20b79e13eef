"""Wall time of a 4-loss comparison (``python train.py -m loss=bce,focal,soft_f1,combined``)
against one ``python train.py``, on FEBRL4, in one session.

Both commands run as subprocesses on one MLflow store and feature cache, interleaved for
``--rounds`` rounds after one untimed warm-up (which creates the store and fills the cache,
as a user's first run does). Prints each time, the medians, the ratio of medians (target
< 1.5) and checks that every job of the multirun reports the same metrics as the same loss
run alone (results must not depend on running in a multirun or on the cache).

With ``--parallel N`` each round also times the multirun on Hydra's joblib launcher with N
worker processes (``pip install 'lossmatch[sweep]'``), and prints its ratio beside the
sequential one.

    python bench/multirun_ratio.py [--rounds 3] [--parallel 2] [-- extra train.py overrides]
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
    parser.add_argument("--parallel", type=int, default=0, help="also time the multirun on N joblib processes")
    parser.add_argument("overrides", nargs="*", help="extra train.py overrides")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="lossmatch-multirun-"))
    store = [f"tracking.uri=sqlite:///{tmp}/mlruns/mlflow.db", f"tracking.artifact_location={tmp}/mlruns/artifacts",
             "trainer.verbose=0", *args.overrides]
    train = [sys.executable, str(ROOT / "train.py")]

    def single(out):
        return [*train, *store, f"paths.output_dir={out}"]

    def multi(out, *launcher):
        return [*train, "-m", f"loss={','.join(LOSSES)}", *store, f"paths.output_dir={out}", *launcher]

    commands = {"one run": lambda r: single(tmp / f"single{r}"), "4-loss multirun": lambda r: multi(tmp / f"multi{r}")}
    if args.parallel:
        joblib = ["hydra/launcher=joblib", f"hydra.launcher.n_jobs={args.parallel}"]
        commands[f"4-loss multirun, {args.parallel} processes"] = lambda r: multi(tmp / f"parallel{r}", *joblib)

    print("warm-up (untimed): one run" + ("" if args.no_check else ", then each loss alone (reference figures)"),
          flush=True)
    timed(single(tmp / "warm"))
    for loss in () if args.no_check else LOSSES:
        timed([*single(tmp / "alone"), f"loss={loss}"])
    alone = figures(tmp / "alone") if not args.no_check else {}
    times: dict[str, list[float]] = {name: [] for name in commands}
    for r in range(args.rounds):
        for name, command in commands.items():
            elapsed = timed(command(r))
            times[name].append(elapsed)
            print(f"round {r + 1}: {name:28s} {elapsed:7.2f} s", flush=True)
        for name, folder in (("multirun", f"multi{r}"), ("parallel multirun", f"parallel{r}")):
            if alone and (tmp / folder).exists():
                same = figures(tmp / folder) == {loss: alone[loss] for loss in LOSSES}
                print(f"round {r + 1}: {name} metrics {'identical to' if same else 'DIFFERENT from'} each loss run alone")
    med = {name: statistics.median(t) for name, t in times.items()}
    print("\nmedian: " + ", ".join(f"{name} {m:.2f} s" for name, m in med.items()))
    for name in list(commands)[1:]:
        print(f"ratio {name} / one run: {med[name] / med['one run']:.2f}  (target < 1.5)")
    jobs = figures(tmp / f"multi{args.rounds - 1}")
    print("test F1 per loss: " + ", ".join(f"{loss} {jobs[loss]['test']['f1']:.4f}" for loss in LOSSES))

if __name__ == "__main__":
    main()
