"""Growth with the data: seconds per phase and peak RSS from thousands to a million records per side.

For each N, a fresh process (so that peak RSS is its own) generates FEBRL-like tables of N
records per side (:func:`lossmatch.data.generate.generate_people`, seeded; the left table's
records are matched at ``--match-rate``), then runs every phase of a streaming run:

  generate    the two tables and their known matches
  blocking    candidate pair keys (rules: lossmatch.data.generate.SCALE_BLOCKING)
  labels      label of every candidate and pair completeness (binary search on sorted keys)
  split       split by entity and candidate pairs per split
  features    FEBRL4's similarity map (29 features), in chunks, to one Parquet file per split
  training    ``--epochs`` epochs of the default MLP and loss, streamed from disk (tf.data)
  prediction  probabilities of the validation and test pairs, streamed from disk

Data-preparation phases (blocking, labels, split) run ``--repeat`` times, best kept; the
same data preparation is also done the previous way (recordlinkage's Index union,
``np.isin`` labels, merge completeness) as a baseline in the same process, for sizes up to
``--baseline-up-to``. TensorFlow's import is timed apart (a constant, not a phase).

The parent prints the table, the growth exponent of every phase (slope of log seconds
against log records, and against log candidate pairs; target: no phase grows faster than
the candidate pairs, i.e. exponent against pairs <= 1.1) and data preparation / features.

    python bench/scale.py [5000 20000 50000 100000 200000] [--epochs 2] [--chunk-size 1000000] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
PHASES = ["generate", "blocking", "labels", "split", "features", "training", "prediction"]
PREPARATION = ["blocking", "labels", "split"]


class PeakRSS:
    """Samples this process's resident memory (``/proc/self/statm``) every 20 ms."""

    def __init__(self):
        self._page = os.sysconf("SC_PAGE_SIZE")
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def now(self) -> int:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * self._page

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, self.now())
            time.sleep(0.02)

    def reset(self) -> None:
        self.peak = self.now()


def one_size(args) -> dict:
    """Every phase for one N, in this process; returns seconds, peak RSS and counts."""

    import yaml

    from lossmatch.blocking import candidate_keys, pair_completeness
    from lossmatch.common import pair_keys, sorted_membership, split_keys
    from lossmatch.data.generate import SCALE_BLOCKING, generate_people
    from lossmatch.data.split import assign_pairs, split_by_entity
    from lossmatch.feature_store import write_features
    from lossmatch.similarity import SimilarityMap

    rss = PeakRSS()
    out = {"n": args.one, "seconds": {}, "peak_rss_gb": {}}

    def phase(name, fn):
        rss.reset()
        seconds = []
        # Data preparation takes milliseconds at small sizes, where one run is mostly noise:
        # best of --repeat runs (same result each time), at every size alike.
        for _ in range(args.repeat if name in PREPARATION else 1):
            start = time.perf_counter()
            value = fn()
            seconds.append(time.perf_counter() - start)
        out["seconds"][name] = min(seconds)
        out["peak_rss_gb"][name] = rss.peak / 2**30
        print(f"[scale] N={args.one:,} {name}: {out['seconds'][name]:.2f} s, peak RSS {rss.peak / 2**30:.2f} GB",
              file=sys.stderr, flush=True)
        return value

    data = phase("generate", lambda: generate_people(args.one, match_rate=args.match_rate, seed=args.seed))
    left, right, matches = data.left, data.right, data.matches
    n_right = len(right)
    keys = phase("blocking", lambda: candidate_keys(left, right, SCALE_BLOCKING))

    def labels():
        match_keys = np.sort(pair_keys(matches, n_right))
        return sorted_membership(keys, match_keys), pair_completeness(keys, matches, n_right)

    y, completeness = phase("labels", labels)

    def split():
        left_split, right_split = split_by_entity(len(left), n_right, matches, seed=args.seed)
        return {s: pair_keys(p, n_right) for s, p in assign_pairs(split_keys(keys, n_right), left_split,
                                                                   right_split).items()}

    split_keys_by_name = phase("split", split)
    out.update(pairs=len(keys), matches=len(matches), positives=int(y.sum()),
               completeness=float(completeness), split_pairs={s: len(k) for s, k in split_keys_by_name.items()})

    if args.one <= args.baseline_up_to:
        # The previous preparation, measured here, before TensorFlow runs: after tf.data had run
        # (it logs "M_TRIM_THRESHOLD=128 kb was set"), the same NumPy work took 3x longer.
        sys.path.insert(0, str(ROOT / "bench"))
        from blocking_speed import previous_candidate_pairs, previous_completeness

        previous = []
        for _ in range(args.repeat):  # best of --repeat, as for the current phases
            start = time.perf_counter()
            old = previous_candidate_pairs(left, right, SCALE_BLOCKING)
            old_y = np.isin(pair_keys(old, n_right), pair_keys(matches, n_right))
            old_pc = previous_completeness(old, matches)
            previous.append(time.perf_counter() - start)
        out["seconds_previous_preparation"] = min(previous)
        out["seconds_current_preparation"] = sum(out["seconds"][p] for p in ("blocking", "labels"))
        out["previous_equal"] = bool(split_keys(keys, n_right).equals(old) and np.array_equal(y, old_y)
                                     and completeness == old_pc)
        del old, old_y

    sm = SimilarityMap(yaml.safe_load((ROOT / "conf" / "similarity" / "febrl4.yaml").read_text())["map"])
    work = Path(args.workdir)
    files = phase("features", lambda: {
        s: write_features(work / f"{args.one}-{s}.parquet", sm, left, right, k, matches=matches,
                          chunk_size=args.chunk_size, progress=True)
        for s, k in split_keys_by_name.items()})
    out["features_gb"] = sum(f.path.stat().st_size for f in files.values()) / 2**30

    start = time.perf_counter()
    import keras

    out["seconds_tf_import"] = time.perf_counter() - start

    def train():

        from lossmatch.feature_store import tf_dataset
        from lossmatch.losses import combined_loss
        from lossmatch.model import build_mlp

        keras.utils.set_random_seed(args.seed)
        model = build_mlp(len(sm.feature_names), hidden_units=(64, 32), dropout=0.1)
        model.compile(optimizer=keras.optimizers.Adam(3e-3), loss=combined_loss())
        model.fit(tf_dataset(files["train"], batch_size=args.batch_size, shuffle=True, seed=args.seed),
                  epochs=args.epochs, verbose=0, shuffle=False)
        return model

    model = phase("training", train)

    def predict():
        from lossmatch.feature_store import predict_file

        return {s: predict_file(model, files[s]) for s in ("val", "test")}

    p = phase("prediction", predict)
    y_test = files["test"].column("label")
    predicted = p["test"] >= 0.5
    tp = int((predicted & (y_test == 1)).sum())
    out["test_f1_at_0.5"] = 2 * tp / max(int(predicted.sum()) + int(y_test.sum()), 1)

    out["peak_rss_gb_total"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    if not args.keep:
        for f in files.values():
            f.path.unlink()
    return out


def _slope(x, y) -> float:
    return float(np.polyfit(np.log(x), np.log(y), 1)[0]) if len(x) > 1 else float("nan")


def report(results: list[dict]) -> None:
    results = sorted(results, key=lambda r: r["n"])
    print("\nrecords/side  candidates  completeness  " + "  ".join(f"{p:>10}" for p in PHASES)
          + "  prep/feat  peak RSS GB")
    for r in results:
        prep = sum(r["seconds"][p] for p in PREPARATION)
        print(f"{r['n']:>12,}  {r['pairs']:>10,}  {r['completeness']:>12.4f}  "
              + "  ".join(f"{r['seconds'][p]:>10.2f}" for p in PHASES)
              + f"  {prep / r['seconds']['features']:>9.2f}  {r['peak_rss_gb_total']:>11.2f}")
    print("\nper-phase peak RSS (GB): " + "; ".join(
        f"N={r['n']:,}: " + ", ".join(f"{p} {r['peak_rss_gb'][p]:.2f}" for p in PHASES) for r in results))
    print("TensorFlow import (s, constant): " + ", ".join(f"{r['seconds_tf_import']:.1f}" for r in results))
    print("test F1 at 0.5 after training: " + ", ".join(f"{r['test_f1_at_0.5']:.3f}" for r in results))
    for r in results:
        if "seconds_previous_preparation" in r:
            prev, cur = r["seconds_previous_preparation"], r["seconds_current_preparation"]
            print(f"N={r['n']:,}: data preparation previous {prev:.2f} s, current {cur:.2f} s "
                  f"({prev / cur:.1f}x), identical results: {r['previous_equal']}")
    if len(results) > 1:
        n = [r["n"] for r in results]
        pairs = [r["pairs"] for r in results]
        print(f"\ngrowth exponents (log-log slopes) from {n[0]:,} to {n[-1]:,} records per side; "
              f"candidate pairs vs records: {_slope(n, pairs):.2f}")
        steps = [f"{a // 1000}k->{b // 1000}k" for a, b in itertools.pairwise(n)]
        print(f"  {'phase':<11}{'vs records':>11}{'vs pairs':>9}  {'<= 1.1':<7}  vs pairs between neighbouring sizes: "
              + " ".join(f"{step:>11}" for step in steps))
        for p in PHASES:
            t = [max(r["seconds"][p], 1e-3) for r in results]
            vs_pairs = _slope(pairs, t)
            # Slopes between neighbouring sizes show where growth happens (and how noisy it is).
            local = " ".join(f"{_slope(pairs[i:i + 2], t[i:i + 2]):>11.2f}" for i in range(len(steps)))
            print(f"  {p:<11}{_slope(n, t):>11.2f}{vs_pairs:>9.2f}  {'ok' if vs_pairs <= 1.1 else 'ABOVE':<7}  "
                  f"{'':>37}{local}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sizes", type=int, nargs="*", default=[5_000, 20_000, 50_000, 100_000, 200_000])
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # child process: one size
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each data-preparation phase (best kept)")
    parser.add_argument("--batch-size", type=int, default=1024)
    parser.add_argument("--chunk-size", type=int, default=1_000_000)
    parser.add_argument("--match-rate", type=float, default=0.5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--baseline-up-to", type=int, default=200_000,
                        help="measure the previous data preparation up to this many records")
    parser.add_argument("--workdir", default=None, help="where the feature files go (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the feature files")
    parser.add_argument("--json", default=None, help="also write the results to this file")
    args = parser.parse_args()
    if args.one is not None:
        print(json.dumps(one_size(args)))
        return
    workdir = args.workdir or tempfile.mkdtemp(prefix="lossmatch-scale-")
    results = []
    for n in args.sizes:
        cmd = [sys.executable, __file__, "--one", str(n), "--workdir", workdir, "--epochs", str(args.epochs),
               "--batch-size", str(args.batch_size), "--chunk-size", str(args.chunk_size), "--repeat", str(args.repeat),
               "--match-rate", str(args.match_rate), "--seed", str(args.seed),
               "--baseline-up-to", str(args.baseline_up_to)] + (["--keep"] if args.keep else [])
        done = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, check=False)
        if done.returncode != 0:
            print(f"N={n:,}: failed with exit status {done.returncode}", file=sys.stderr)
            break
        results.append(json.loads(done.stdout.strip().splitlines()[-1]))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    report(results)


if __name__ == "__main__":
    main()
