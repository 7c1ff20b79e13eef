"""Seconds the Optuna sweeper adds per trial, against Hydra's own basic sweeper, per storage.

Work: the sweeper tests' toy task (tests/sweeper/my_app.py, a quadratic that returns at once),
swept with the basic launcher. Each configuration runs twice, with ``--small`` and ``--large``
trials, in fresh processes; the per-trial time is the slope (T_large - T_small) / (large - small),
so interpreter start-up, imports and schema creation cancel out. The baseline is Hydra's basic
sweeper running the same number of jobs (``--config-name=basic x=choice(...)``): what every Hydra
job costs anyway (composition, logging set-up, .hydra files). The sweeper's overhead per trial is
slope - baseline slope, printed for in-memory, SQLite and journal storages, with ratios.

    python bench/sweeper_overhead.py [--small 4] [--large 16] [--repeat 1]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

APP = Path(__file__).resolve().parents[1] / "tests" / "sweeper" / "my_app.py"


def run(n: int, mode: str, workdir: Path) -> float:
    sweep_dir = workdir / f"{mode}-{n}-{time.monotonic_ns()}"
    if mode == "basic":
        values = ",".join(str(i / 10) for i in range(n))
        options, overrides = ["--config-name=basic"], [f"x=choice({values})"]
    else:
        storage = {
            "memory": "null",
            "sqlite": f"sqlite:///{sweep_dir}.db",
            "journal": f"{sweep_dir}.log",
        }[mode]
        # the toy config beats every second for the tests; a sweep's default is 60 s
        options = []
        overrides = [
            f"hydra.sweeper.n_trials={n}",
            f"hydra.sweeper.storage={storage}",
            "hydra.sweeper.heartbeat_interval=60",
        ]
    cmd = [
        sys.executable,
        str(APP),
        *options,
        "-m",
        f"hydra.sweep.dir={sweep_dir}",
        *overrides,
    ]
    start = time.perf_counter()
    subprocess.run(
        cmd,
        check=True,
        capture_output=True,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=4)
    parser.add_argument("--large", type=int, default=16)
    parser.add_argument(
        "--repeat", type=int, default=1, help="best of R runs per point"
    )
    args = parser.parse_args()
    modes = ["basic", "memory", "sqlite", "journal"]
    slopes = {}
    with tempfile.TemporaryDirectory() as tmp:
        for mode in modes:
            small = min(run(args.small, mode, Path(tmp)) for _ in range(args.repeat))
            large = min(run(args.large, mode, Path(tmp)) for _ in range(args.repeat))
            slopes[mode] = (large - small) / (args.large - args.small)
            print(
                f"{mode:8s} {args.small:3d} trials {small:6.2f} s, {args.large:3d} trials {large:6.2f} s, "
                f"per trial {slopes[mode]:.3f} s",
                flush=True,
            )
    base = slopes["basic"]
    print(f"\nbaseline: Hydra's basic sweeper, {base:.3f} s per job")
    for mode in modes[1:]:
        print(
            f"{mode:8s} sweeper overhead {slopes[mode] - base:+.3f} s per trial "
            f"({slopes[mode] / base:.2f}x the basic sweeper's per-job time)"
        )


if __name__ == "__main__":
    main()
