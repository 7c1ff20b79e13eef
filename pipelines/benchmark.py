"""The benchmark table: the recipe (``experiment=benchmark``) on DeepMatcher-format sets, seeds, a reference row.

    python pipelines/benchmark.py DIR [DIR ...] [--seeds 5] [--output FOLDER] [--no-reference]
        [Hydra overrides for every run, e.g. loss=combined tracking.uri=...]

Each DIR holds tableA.csv, tableB.csv and train.csv, valid.csv, test.csv (ltable_id, rtable_id,
label), as the DeepMatcher project publishes its sets. For each set the recipe is trained once
per seed (seeds 1..N, or a list such as ``--seeds 1,7,9``) through the ordinary pipeline: one
MLflow run and one run directory with ``metrics.json`` each. The reference row is scikit-learn's
HistGradientBoostingClassifier on exactly the same features, its threshold chosen on valid. The
table (``benchmark.csv``, fractions; ``benchmark.md``, percentages) gives per set: pairs,
positives, test precision / recall / F1 of the single run (the first seed) and F1 mean ± sd over
the seeds, the loss, seconds per run, and the published Magellan / DeepMatcher / Ditto test F1
when the set's folder name is known (``lossmatch.benchmark.PUBLISHED``). It is also logged to
MLflow (experiment ``lossmatch/benchmark``). Bad input (a missing directory or file, an unknown
override) is one line and exit status 2, before anything trains.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("PROJECT_ROOT", str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

CONF = ROOT / "conf"
REQUIRED_FILES = ("tableA.csv", "tableB.csv", "train.csv", "valid.csv", "test.csv")


def parse_seeds(text: str) -> list[int]:
    """``5`` -> seeds 1..5; ``1,7,9`` -> those seeds."""
    from lossmatch.errors import InputError

    try:
        values = [int(part) for part in str(text).split(",") if part.strip()]
    except ValueError:
        raise InputError(f"--seeds: expected a count such as 5 or a list such as 1,7,9, got {text!r}") from None
    if "," not in str(text):
        if len(values) != 1 or values[0] < 1:
            raise InputError(f"--seeds: expected a count >= 1 or a list of seeds, got {text!r}")
        return list(range(1, values[0] + 1))
    if not values or min(values) < 0 or len(set(values)) != len(values):
        raise InputError(f"--seeds: expected distinct seeds >= 0, got {text!r}")
    return values


def check_directory(directory: str) -> Path:
    """A DeepMatcher-format directory, or one line saying what is missing."""
    from lossmatch.errors import InputError

    path = Path(directory)
    if not path.is_dir():
        raise InputError(f"{directory}: no such directory (expected a DeepMatcher-format set: {', '.join(REQUIRED_FILES)})")
    missing = [name for name in REQUIRED_FILES if not (path / name).is_file()]
    if missing:
        raise InputError(f"{directory}: missing {', '.join(missing)} (a DeepMatcher-format set holds {', '.join(REQUIRED_FILES)})")
    return path


def _portable(override: str) -> str:
    """An override as a param: a value that is a path of this machine is not logged."""
    key, _, value = override.partition("=")
    return f"{key}=<path>" if "/" in value or "\\" in value else override


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("items", nargs="+", metavar="DIR or override",
                        help="DeepMatcher-format directories, then Hydra overrides (key=value) for every run")
    parser.add_argument("--seeds", default="5", help="a count N (seeds 1..N) or a list 1,7,9 (default 5)")
    parser.add_argument("--output", default=None, help="folder for the table and the runs (default: outputs/benchmark/<time>)")
    parser.add_argument("--no-reference", action="store_true", help="skip the gradient-boosting reference row")
    args = parser.parse_intermixed_args(argv)
    overrides = [a for a in args.items if "=" in a]
    directories = [a for a in args.items if "=" not in a]

    from lossmatch.cli import preflight, report_input_errors

    with report_input_errors():
        if not directories:
            from lossmatch.errors import InputError

            raise InputError("no data set given: pass one or more DeepMatcher-format directories")
        seeds = parse_seeds(args.seeds)
        for directory in directories:
            check_directory(directory)
            # Every override and value checked as train.py would, before anything trains.
            preflight(CONF, "train", ["experiment=benchmark", f"data.path={directory}", *overrides])
    return run(directories, seeds, overrides, args.output, reference=not args.no_reference,
               report=report_input_errors)


def run(directories, seeds, overrides, output, *, reference: bool, report) -> int:
    from lossmatch import benchmark, tracking
    from lossmatch.cli import compose

    cfg = compose(CONF, "train", ["experiment=benchmark", f"data.path={directories[0]}", *overrides])
    stamp = dt.datetime.now().strftime("%Y-%m-%d_%H-%M-%S")
    out = Path(output) if output else Path(cfg.paths.output_dir) / "benchmark" / stamp
    out.mkdir(parents=True, exist_ok=True)
    results = []
    with report():
        for directory in directories:
            result = benchmark.run_set(directory, seeds, overrides, out, config_dir=CONF, reference=reference)
            results.append(result)
            print(f"[benchmark] {benchmark.summary_line(result)}", flush=True)
        frame = benchmark.table(results)
        paths = {"csv": out / "benchmark.csv", "md": out / "benchmark.md"}
        frame.to_csv(paths["csv"], index=False)
        paths["md"].write_text(benchmark.markdown(frame), encoding="utf-8")
        uri = tracking.use_credentials(str(cfg.tracking.uri))
        tracking.setup_tracking(uri, "lossmatch/benchmark", cfg.tracking.get("artifact_location"))
        params = {"sets": ",".join(r.name for r in results), "seeds": ",".join(map(str, seeds)),
                  "overrides": " ".join(_portable(o) for o in overrides) or "(none)", "reference": str(reference).lower()}
        benchmark.log_table(frame, paths, params=params)
    print()
    print(paths["md"].read_text(encoding="utf-8"))
    print(f"table: {paths['csv']} and {paths['md']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
