"""Where the seconds of ``python train.py`` go: each stage of ``lossmatch.pipeline.run`` timed
in one process, for ``--runs`` runs in a row (as a multirun's jobs share one process), with the
feature cache on (its first run fills it) or off.

    python bench/run_phases.py [--runs 4] [--losses bce,focal,soft_f1,combined] [-- overrides]

Prints a table of seconds per phase and run; the first run also pays the imports. Figures are
for comparing phases within this output (the machine may be loaded), not absolute.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("PROJECT_ROOT", str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=4)
    parser.add_argument("--losses", default="bce,focal,soft_f1,combined")
    parser.add_argument("overrides", nargs="*")
    args = parser.parse_args()

    timings: list[dict[str, float]] = []
    clock = {}

    @contextlib.contextmanager
    def phase(name):
        start = time.perf_counter()
        yield
        clock[name] = clock.get(name, 0.0) + time.perf_counter() - start

    with phase("import lossmatch + hydra"):
        from hydra import compose, initialize_config_dir

        from lossmatch import pipeline, stages  # noqa: F401
        from lossmatch.stages import evaluate as ev_mod
        from lossmatch.stages import features as feat_mod
        from lossmatch.stages import fit as fit_mod
        from lossmatch.stages import log as log_mod
        from lossmatch.stages import prepare as prep_mod
    tmp = Path(tempfile.mkdtemp(prefix="lossmatch-phases-"))
    base = [f"tracking.uri=sqlite:///{tmp}/mlruns/mlflow.db", f"tracking.artifact_location={tmp}/mlruns/artifacts",
            f"paths.output_dir={tmp}/outputs", "trainer.verbose=0", *args.overrides]

    def timed(module, name, label):
        original = getattr(module, name)

        def wrapper(*a, **k):
            with phase(label):
                return original(*a, **k)

        setattr(pipeline, name, wrapper)

    timed(prep_mod, "prepare", "prepare (data, blocking, split)")
    timed(feat_mod, "compute_features", "features")
    timed(fit_mod, "fit", "fit (incl. TensorFlow import in run 1)")
    timed(ev_mod, "evaluate", "evaluate")
    timed(log_mod, "finish", "log (metrics, plots, export, matcher)")
    timed(log_mod, "start", "log start (params, tags)")
    original_setup = pipeline.tracking.setup_tracking

    def setup(*a, **k):
        with phase("MLflow set-up"):
            return original_setup(*a, **k)

    pipeline.tracking.setup_tracking = setup
    losses = args.losses.split(",")
    for i in range(args.runs):
        loss = losses[i % len(losses)]
        with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
            cfg = compose(config_name="train", overrides=[f"loss={loss}", *base])
        start = time.perf_counter()
        with contextlib.redirect_stdout(sys.stderr):
            result = pipeline.run(cfg, output_dir=tmp / f"run{i}")
        clock["whole run"] = time.perf_counter() - start
        clock["test F1"] = result["test"]["f1"]
        clock["epochs"] = result["epochs_run"]
        timings.append(dict(clock))
        clock.clear()

    names = list(dict.fromkeys(n for t in timings for n in t))
    print(f"{'phase':40s}" + "".join(f"{'run ' + str(i + 1):>9s}" for i in range(len(timings))))
    for name in names:
        print(f"{name:40s}" + "".join(f"{t.get(name, 0.0):9.2f}" for t in timings))


if __name__ == "__main__":
    main()
