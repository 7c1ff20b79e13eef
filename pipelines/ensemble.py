"""Ensembles of finished runs: the weighted average of several losses' models, fitted on validation.

    python pipelines/ensemble.py --comparison ID [--losses bce soft_f1 ...] [tracking.uri=...]
    python pipelines/ensemble.py --experiment lossmatch/febrl4 --seed 1 --losses bce soft_f1 focal [tracking.uri=...]

For each data set and seed, the members' validation and test probabilities are read from
their runs' ``predictions.parquet``; ``scipy.optimize.differential_evolution`` finds the
weights that maximise validation F1, the threshold is the F1-best one on validation, and
the test pairs are scored once with both. The ensemble is logged as a run of its own
(``loss=ensemble``, run name ``ensemble-seed<n>``) in the members' experiment.

With ``--comparison`` (a loss comparison's parent run id, see compare_losses.py) every data
set and seed of the comparison gets its ensemble as a child run, tagged like the losses, and
the comparison's table and plots are rebuilt with the ensemble as one more row (logged on
the parent run again). ``compare_losses.py --ensemble`` does the same at the end of a comparison.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("PROJECT_ROOT", str(ROOT))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="\n\n".join(__doc__.split("\n\n")[1:]))
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--comparison", metavar="ID", help="a loss comparison's parent run id")
    which.add_argument("--experiment", help="the MLflow experiment of the member runs (one data set)")
    parser.add_argument("--seed", type=int, help="with --experiment: the seed whose runs are combined")
    parser.add_argument("--data", help="with --experiment: the data set (tag data), if the experiment holds several")
    parser.add_argument("--losses", nargs="+", help="the members (default: every loss that ran)")
    parser.add_argument("overrides", nargs="*", help="Hydra overrides naming the store, e.g. tracking.uri=...")
    args = parser.parse_args(argv)
    args.overrides += [v for v in args.losses or [] if "=" in v]
    losses = [part for v in args.losses or [] if "=" not in v for part in v.split(",") if part] or None

    from lossmatch.cli import compose, report_input_errors
    from lossmatch.errors import InputError

    with report_input_errors():
        cfg = compose(ROOT / "conf", "train", args.overrides)
        from lossmatch import tracking

        uri = tracking.use_credentials(str(cfg.tracking.uri))
        tracking.check_store(uri)
        if args.comparison:
            import time

            from lossmatch.compare_runs import report
            from lossmatch.ensemble_runs import ensemble_comparison

            made = ensemble_comparison(uri, args.comparison, labels=losses)
            if not made:
                print(f"comparison {args.comparison}: every data set and seed already has its ensemble")
            out_dir = Path(str(cfg.paths.output_dir)) / "comparisons" / f"{time.strftime('%Y-%m-%d_%H-%M-%S')}_{args.comparison[:8]}"
            files = report(uri, args.comparison, out_dir, log_to_parent=True)
            print(files["md"].read_text(encoding="utf-8"))
            print(f"comparison {args.comparison}: {files['csv']}")
            return 0
        if args.seed is None or not losses or len(losses) < 2:
            raise InputError("--experiment needs --seed N and at least two --losses to combine")
        from lossmatch.compare import search_runs
        from lossmatch.ensemble_runs import fit_and_log, member_groups

        runs = search_runs(uri, [args.experiment])
        groups = member_groups(runs, label_tag="loss", labels=losses, data=args.data, seeds=[args.seed])
        if len(groups) != 1:
            found = ", ".join(f"{d} seed {s}" for d, s in groups) or "none"
            raise InputError(
                f"--experiment {args.experiment} --seed {args.seed}: expected finished runs of {', '.join(losses)} "
                f"for one data set, found groups: {found} (use --data to choose one)"
            )
        ((data, seed), members), = groups.items()
        missing = sorted(set(losses) - set(members.index))
        if missing:
            raise InputError(f"--losses: no finished run of {', '.join(missing)} for {data} seed {seed} in {args.experiment}")
        result = fit_and_log(members, tracking_uri=uri)
        weights = ", ".join(f"{k} {v:.3f}" for k, v in result.weights.items())
        print(f"ensemble {data} seed {seed}: weights {weights}; threshold {result.threshold:.4f} (validation)")
        print(f"  validation F1 {result.val_f1:.4f}, test F1 {result.test_f1:.4f}; MLflow run {result.run_id}")
        print(f"  MLflow UI: {tracking.ui_command(uri)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
