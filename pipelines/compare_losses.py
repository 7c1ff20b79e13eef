"""Which loss, on which data, by how much, how sure: a loss comparison, aggregated from MLflow.

    python pipelines/compare_losses.py [--quick] [--seeds N] [--losses bce focal ...]
        [--data "data=synthetic"] [--data "data=deepmatcher data.pairs=blocked data.path=DIR similarity=beer"]
        [--study [LOSS:]STUDY ... --storage URL] [--ensemble] [--resume ID] [Hydra overrides ...]
    python pipelines/compare_losses.py --report ID [ID ...] [tracking.uri=...]

Runs every loss (default: all eight of conf/loss/) x N seeds (default 5: seeds 1..N) x each
``--data`` setting (Hydra overrides of one data set; default: the config's data, FEBRL4)
through ``lossmatch.pipeline.run``, the code path of ``train.py``, with
``experiment=compare_losses`` and the common overrides, in this one process. Each run is
a child of one parent MLflow run in the experiment ``lossmatch/comparisons``; the children
stay in their data set's experiment and carry the tag ``comparison=<parent run id>``.
Then the comparison is rebuilt from MLflow: ``comparison.csv``, ``comparison.md`` and the
plots, written under ``outputs/comparisons/`` and logged on the parent run.

Options:
  --quick            2 seeds, 3 epochs, 500 left records of each data set (FEBRL4 by default)
  --study, --storage each loss also with the best parameters of a finished Optuna study
                     (row ``<loss>-tuned``); LOSS:STUDY names the loss when it cannot be told
  --ensemble         per data set and seed, the validation-fitted weighted average of the
                     losses' probabilities (``pipelines/ensemble.py``), one more row ``ensemble``
  --resume ID        continue an interrupted comparison (same command): finished runs are kept
  --report ID ...    train nothing: rebuild the report of finished comparisons from MLflow, several
                     together in one table and one rank across all their data sets (e.g. data sets
                     compared by separate commands with different seeds or samples)
"""

from __future__ import annotations

import argparse
import os
import shlex
import signal
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("PROJECT_ROOT", str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

QUICK_SEEDS = 2
QUICK_OVERRIDES = ("trainer.epochs=3", "trainer.validation_every_steps=null")  # three passes over the sample
QUICK_SAMPLE = 500  # left records of each data set


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="\n\n".join(__doc__.split("\n\n")[1:]),
    )
    parser.add_argument("--quick", action="store_true", help="2 seeds, 3 epochs, a 500-record sample of each data set")
    parser.add_argument("--seeds", type=int, default=None, help="number of seeds, 1..N (default 5; --quick: 2)")
    parser.add_argument("--losses", nargs="+", default=None, help="losses to compare (default: all of conf/loss/)")
    parser.add_argument("--data", action="append", default=None, metavar="OVERRIDES",
                        help="one data set as Hydra overrides in one quoted string; repeat for several")
    parser.add_argument("--study", nargs="+", default=[], metavar="[LOSS:]STUDY", help="finished Optuna studies")
    parser.add_argument("--storage", default=None, help="the studies' Optuna storage URL")
    parser.add_argument("--ensemble", action="store_true", help="add the ensemble of the losses per data set and seed")
    parser.add_argument("--experiment", default=None, help="MLflow experiment of the parent run (default lossmatch/comparisons)")
    parser.add_argument("--name", default=None, help="the parent run's name (default comparison-<date>)")
    parser.add_argument("--resume", default=None, metavar="ID", help="the parent run id of a comparison to continue")
    parser.add_argument("--baseline", default="bce", help="the loss every other is compared with (default bce)")
    parser.add_argument("--report", nargs="+", default=None, metavar="ID",
                        help="only rebuild the report of these comparisons (parent run ids) from MLflow")
    parser.add_argument("overrides", nargs="*", help="Hydra overrides for every run, as for train.py")
    return parser


def parse(argv: list[str]) -> argparse.Namespace:
    args = _parser().parse_args(argv)
    # `--losses bce focal trainer.epochs=5`: an item with '=' is an override, never a loss or a study.
    for name in ("losses", "study", "report"):
        values = getattr(args, name)
        args.overrides += [v for v in values or [] if "=" in v]
        kept = [part for v in values or [] if "=" not in v for part in v.split(",") if part]
        # --report given (even with only overrides after it) means report mode: [] is an error, not a run.
        setattr(args, name, kept if (kept or name == "study" or (name == "report" and values is not None)) else None)
    return args


def _terminate(signum, frame):
    from lossmatch.errors import Terminated

    raise Terminated(signum)


def main(argv: list[str]) -> int:
    args = parse(argv)
    from lossmatch.cli import compose, report_input_errors
    from lossmatch.errors import InputError

    debug = any(o.lstrip("+") in ("debug=true", "debug=True") for o in args.overrides)
    signal.signal(signal.SIGTERM, _terminate)  # `kill` ends the parent and the current run KILLED
    if args.report is not None:
        with report_input_errors(debug=debug):
            return report_only(args)
    with report_input_errors(debug=debug):
        from lossmatch import compare_runs

        losses = args.losses or list(compare_runs.LOSSES)
        from lossmatch.config import known_options

        known = known_options("loss")
        for loss in losses:
            if loss not in known:
                from lossmatch.config import closest_first

                raise InputError(f"--losses {loss}: no such loss; choose from {', '.join(closest_first(loss, known))}")
        if args.baseline not in losses:
            raise InputError(f"--baseline {args.baseline}: not among the compared losses ({', '.join(losses)})")
        if args.study and not args.storage:
            raise InputError("--study needs --storage (the Optuna storage URL of the studies)")
        n_seeds = args.seeds if args.seeds is not None else (QUICK_SEEDS if args.quick else 5)
        if n_seeds < 1:
            raise InputError(f"--seeds must be at least 1, got {n_seeds}")
        common = [*(QUICK_OVERRIDES if args.quick else ()), *args.overrides]
        settings = [shlex.split(d) for d in args.data] if args.data else [["data=febrl4"] if args.quick else []]
        if args.quick:
            settings = [s if any(o.startswith("data.sample=") for o in s) else [*s, f"data.sample={QUICK_SAMPLE}"]
                        for s in settings]
        base = compose(ROOT / "conf", "train", ["experiment=compare_losses", *settings[0], *common])
        entries = [compare_runs.Entry(loss, loss) for loss in losses]
        for spec in args.study:
            loss, _, study = spec.rpartition(":")
            entries.append(compare_runs.tuned_entry(study, args.storage, loss=loss or None, tracking_uri=str(base.tracking.uri)))
        print(f"checking {len(settings) * len(entries) * n_seeds} run configurations ...", flush=True)
        runs = compare_runs.plan(ROOT / "conf", settings, entries, list(range(1, n_seeds + 1)), common)
        params = compare_runs.parent_params(runs, common, ROOT, quick=args.quick, ensemble=args.ensemble, baseline=args.baseline)
        after = None
        if args.ensemble:
            from lossmatch.ensemble_runs import ensemble_comparison

            def after(uri, comparison_id, out_dir):
                names = list(dict.fromkeys(r.data.name for r in runs))
                ensemble_comparison(uri, comparison_id, labels=[e.label for e in entries], data=names)

        outcome = compare_runs.run_comparison(
            runs, out_root=Path(str(base.paths.output_dir)) / "comparisons",
            experiment=args.experiment or compare_runs.COMPARISON_EXPERIMENT, name=args.name, resume=args.resume,
            params=params, after_runs=after, baseline=args.baseline,
        )
        print()
        print(outcome.files["md"].read_text(encoding="utf-8"))
        if outcome.failed:
            print(f"{len(outcome.failed)} run(s) failed or skipped:")
            for line in outcome.failed:
                print(f"  {line}")
        print(f"comparison {outcome.comparison_id}: {outcome.files['csv']}")
        print(f"figures and runs.log in {outcome.out_dir}; the parent run holds them as artifacts")
    return 1 if outcome.failed else 0


def report_only(args: argparse.Namespace) -> int:
    """``--report ID ...``: the report of finished comparisons, rebuilt from MLflow into a new folder."""
    import time

    from lossmatch import compare_runs, tracking
    from lossmatch.cli import compose
    from lossmatch.errors import InputError

    if not args.report:
        raise InputError("--report needs the parent run id of at least one comparison")
    base = compose(ROOT / "conf", "train", ["experiment=compare_losses", *args.overrides])
    uri = tracking.use_credentials(str(base.tracking.uri))
    tracking.check_store(uri)
    ids = list(dict.fromkeys(args.report))
    for comparison_id in ids:
        compare_runs.existing_parent(uri, comparison_id)
    out_dir = Path(str(base.paths.output_dir)) / "comparisons" / f"report-{time.strftime('%Y-%m-%d_%H-%M-%S')}"
    files = compare_runs.report(uri, ids, out_dir, baseline=args.baseline)
    print(files["md"].read_text(encoding="utf-8"))
    print(f"report of {len(ids)} comparison(s) {', '.join(ids)}: {files['csv']}")
    return 0


if __name__ == "__main__":
    from lossmatch.errors import Terminated

    try:
        code = main(sys.argv[1:])
    except (KeyboardInterrupt, Terminated) as exc:
        # The parent run and the run in progress are already marked KILLED; finished runs stay.
        print("\nlossmatch: comparison stopped; continue it with the same command and --resume <comparison id>",
              file=sys.stderr, flush=True)
        sys.exit(143 if isinstance(exc, Terminated) else 130)
    import gc

    gc.freeze()  # a fast interpreter exit after TensorFlow (see lossmatch.cli._fast_exit)
    sys.exit(code)
