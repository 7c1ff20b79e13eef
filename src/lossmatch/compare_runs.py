"""Running a loss comparison: every loss x seed x data set through the train code path, in MLflow.

``pipelines/compare_losses.py`` is the command line; this module does the work:

1. :func:`plan`: one Hydra config per run, composed with Hydra's compose API from
   ``conf/train.yaml`` + ``experiment=compare_losses`` + the data set's overrides + the
   common overrides + ``loss=<name>`` (and a tuned loss's best parameters) + ``seed=<n>``.
   Every config is checked (``lossmatch.config.validate``) before the first run starts.
2. :func:`run_comparison`: one **parent** MLflow run per comparison, in an experiment of
   its own (``lossmatch/comparisons``), and each training run as a child run through
   ``lossmatch.pipeline.run`` in this one process (TensorFlow is imported once). Children
   stay in their data set's experiment (``lossmatch/<data>``), so every experiment's
   charts hold one data set; they carry ``mlflow.parentRunId`` (MLflow's nesting) and
   the tags ``comparison`` (the parent's run id) and ``comparison_loss`` (the loss's name
   in the table: ``focal``, or ``focal-tuned`` for a study's best parameters). MLflow's
   UI nests runs only within one experiment, so the parent's experiment lists only the
   parent; the tag finds the children (``tags.comparison = '<id>'``).
   Runs go data set by data set, seed by seed, loss by loss, so an interrupted comparison
   already has paired results; ``resume=<id>`` skips the runs that finished.
3. :func:`report`: the aggregation, rebuilt **from MLflow** (``lossmatch.compare``):
   ``comparison.csv``, ``comparison.md``, F1 by loss, mean rank across data sets and the
   test precision-recall curves of each loss's median-seed run (from the runs'
   ``predictions.parquet``), logged as artifacts of the parent run.
"""

from __future__ import annotations

import contextlib
import math
import re
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from lossmatch.errors import InputError

__all__ = [
    "COMPARISON_EXPERIMENT",
    "COMPARISON_TAG",
    "LABEL_TAG",
    "LOSSES",
    "DataSetting",
    "Entry",
    "PlannedRun",
    "comparison_runs",
    "existing_parent",
    "parent_params",
    "plan",
    "report",
    "run_comparison",
    "tuned_entry",
]

# Every loss of conf/loss/, the baseline first.
LOSSES = (
    "bce",
    "weighted_bce",
    "soft_f1",
    "soft_fbeta",
    "soft_jaccard",
    "focal",
    "combined",
    "pairwise_soft_zero_one",
)
COMPARISON_EXPERIMENT = "lossmatch/comparisons"
COMPARISON_TAG = "comparison"  # on every child: the parent run's id
LABEL_TAG = "comparison_loss"  # on every child: the loss's row in the table
KIND_TAG = "lossmatch_kind"  # on the parent: "comparison"
# Override keys that describe this machine (where things go), not the comparison.
_MACHINE_KEYS = re.compile(r"^[+~]*(tracking|paths|hydra)\.")


@dataclass(frozen=True)
class Entry:
    """One row of the table per data set: a loss, maybe with the best parameters of a study."""

    label: str
    loss: str
    overrides: tuple[str, ...] = ()
    tags: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class DataSetting:
    """A data set as Hydra overrides (``data=synthetic``, ``data=deepmatcher data.path=...``) and its name."""

    overrides: tuple[str, ...]
    name: str = ""


@dataclass
class PlannedRun:
    data: DataSetting
    entry: Entry
    seed: int
    cfg: object  # the composed DictConfig


def _compose(config_dir: Path, overrides: Sequence[str]):
    from lossmatch.cli import compose

    return compose(config_dir, "train", list(overrides))


def plan(
    config_dir: Path,
    data_settings: Sequence[Sequence[str]],
    entries: Sequence[Entry],
    seeds: Sequence[int],
    common: Sequence[str] = (),
    *,
    experiment: str | None = "compare_losses",
) -> list[PlannedRun]:
    """Every run of the comparison, composed and checked, in running order (data, seed, loss).

    Raises:
        InputError: an unknown option or key, a bad value, or a store that cannot be used,
            for any run (nothing has started yet).
    """
    from lossmatch.cli import preflight
    from lossmatch.config import validate

    base = [f"experiment={experiment}"] if experiment else []
    runs = []
    for setting in data_settings:
        for entry in entries:
            overrides = [*base, *setting, *common, f"loss={entry.loss}", *entry.overrides]
            # The store and every option once per (data, loss); the seed changes nothing checked here.
            preflight(config_dir, "train", [*overrides, f"seed={seeds[0]}"])
            for seed in seeds:
                cfg = _compose(config_dir, [*overrides, f"seed={seed}"])
                validate(cfg)
                name = str(cfg.data.name)
                runs.append(PlannedRun(DataSetting(tuple(setting), name), entry, int(seed), cfg))
    # Data sets in the given order, then seed, then loss: an interrupted comparison has paired results.
    settings = [tuple(s) for s in data_settings]
    position = {e.label: i for i, e in enumerate(entries)}
    runs.sort(key=lambda r: (settings.index(r.data.overrides), r.seed, position[r.entry.label]))
    names = {}
    for r in runs:
        if names.setdefault(r.data.name, r.data.overrides) != r.data.overrides:
            raise InputError(f"compare: two data settings are both named {r.data.name!r}; set data.name to tell them apart")
    return runs


def tuned_entry(study_name: str, storage: str, *, loss: str | None = None, tracking_uri: str | None = None) -> Entry:
    """The best parameters of a finished Optuna study as an entry ``<loss>-tuned``.

    The study's parameter names are Hydra overrides (``loss.gamma``, ``trainer.learning_rate``),
    as lossmatch's sweeper records them. The loss is ``loss`` when given, else the ``loss``
    tag of the best trial's MLflow run (``mlflow_run_id`` user attribute), else the study
    name's first part (the sweeps' default name is ``<loss>-<similarity>``).

    Raises:
        InputError: no such study, or no completed trial in it.
    """
    import optuna

    from lossmatch.tracking import redact

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        study = optuna.load_study(study_name=study_name, storage=storage)
    except KeyError:
        raise InputError(f"--study {study_name}: no such study in {redact(storage)}") from None
    try:
        best = study.best_trial
    except ValueError:
        raise InputError(f"--study {study_name}: no completed trial yet in {redact(storage)}") from None
    if loss is None:
        loss = _loss_of_trial(best, tracking_uri) or study_name.split("-", 1)[0]
    if loss not in LOSSES:
        raise InputError(
            f"--study {study_name}: cannot tell which loss it tuned (got {loss!r}); write LOSS:STUDY, e.g. focal:{study_name}"
        )
    overrides = tuple(f"{key}={_override_value(value)}" for key, value in sorted(best.params.items()))
    tags = {"tuned_study": study_name, "tuned_trial": str(best.number), "tuned_val_f1": f"{best.value:.6g}"}
    return Entry(f"{loss}-tuned", loss, overrides, tags)


def _loss_of_trial(trial, tracking_uri: str | None) -> str | None:
    run_id = trial.user_attrs.get("mlflow_run_id")
    if not run_id or not tracking_uri:
        return None
    import mlflow

    try:
        return mlflow.MlflowClient(tracking_uri=tracking_uri).get_run(run_id).data.tags.get("loss")
    except Exception:  # the study's runs may live in another store
        return None


def _override_value(value) -> str:
    # repr keeps floats exact (Hydra reads 0.1 back as 0.1); strings are quoted for the parser.
    if isinstance(value, str):
        return repr(value)
    return repr(value) if isinstance(value, float) else str(value)


# -- running -------------------------------------------------------------------------------------
def comparison_runs(tracking_uri: str, comparison_id: str) -> pd.DataFrame:
    """Every run tagged with this comparison (``mlflow.search_runs`` frame, all experiments)."""
    from lossmatch.compare import search_runs

    return search_runs(tracking_uri, None, filter_string=f"tags.{COMPARISON_TAG} = '{comparison_id}'")


def finished_keys(runs: pd.DataFrame) -> set[tuple[str, str, int]]:
    """(data, label, seed) of the FINISHED runs of a comparison frame."""
    needed = {"tags.data", f"tags.{LABEL_TAG}", "tags.seed"}
    if runs.empty or not needed <= set(runs.columns):
        return set()
    done = runs[runs["status"] == "FINISHED"].dropna(subset=list(needed))
    return {(str(d), str(label), int(s)) for d, label, s in zip(done["tags.data"], done[f"tags.{LABEL_TAG}"], done["tags.seed"])}


@dataclass
class Progress:
    """One line per run: position, data, loss, seed, test F1, seconds, and the time left."""

    total: int
    stream: object = None
    done: int = 0
    seconds: float = 0.0
    widths: tuple[int, int] = (12, 12)

    def start(self, run: PlannedRun) -> None:
        data, label = self.widths
        print(f"[{self.done + 1:>{len(str(self.total))}}/{self.total}] {run.data.name:<{data}} {run.entry.label:<{label}} "
              f"seed {run.seed:<3}", end=" ", file=self.stream or sys.stdout, flush=True)

    def finish(self, text: str, seconds: float) -> None:
        self.done += 1
        self.seconds += seconds
        left = (self.total - self.done) * self.seconds / self.done
        eta = f"  (~{_duration(left)} left)" if self.done < self.total else ""
        print(f"{text}  {seconds:7.1f} s{eta}", file=self.stream or sys.stdout, flush=True)


def _duration(seconds: float) -> str:
    minutes = int(round(seconds / 60))
    return f"{minutes // 60}h{minutes % 60:02d}m" if minutes >= 60 else f"{minutes}m"


@contextlib.contextmanager
def _quiet(log) -> Iterable[None]:
    """A run's own printing (blocking, features, summary) goes to the comparison's log file."""
    with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
        yield


def _run_dir(out: Path, run: PlannedRun) -> Path:
    base = out / "runs" / _slug(run.data.name) / f"{run.entry.label}-seed{run.seed}"
    candidate, n = base, 1
    while candidate.exists():  # a resumed comparison retries a run in a new folder
        n += 1
        candidate = base.with_name(f"{base.name}-{n}")
    return candidate


def _slug(name: str) -> str:
    return re.sub(r"[^\w.-]+", "_", name).strip("_") or "data"


def _portable_override(override: str, root: Path) -> str:
    """``key=value`` as a param may show it: an absolute path relative to the project root, or its last part."""
    from lossmatch.run_naming import readable_params

    key, sep, value = override.partition("=")
    return f"{key}={readable_params({'x': value}, data_name='', root=root)['x']}" if sep else override


def parent_params(runs: Sequence[PlannedRun], common: Sequence[str], root: Path, **options) -> dict[str, str]:
    names = list(dict.fromkeys(r.data.name for r in runs))
    params = {
        "losses": ", ".join(dict.fromkeys(r.entry.label for r in runs)),
        "seeds": ", ".join(map(str, sorted({r.seed for r in runs}))),
        "data": ", ".join(names),
        "runs": str(len(runs)),
        **{k: str(v) for k, v in options.items()},
    }
    shown = [_portable_override(o, root) for o in common if not _MACHINE_KEYS.match(o)]
    if shown:
        params["overrides"] = " ".join(shown)
    for r in runs:
        params[f"data.{r.data.name}"] = " ".join(_portable_override(o, root) for o in r.data.overrides) or "(default)"
    for r in runs:
        for o in r.entry.overrides:
            key, _, value = o.partition("=")
            params[f"{r.entry.label}.{key}"] = value
    return params


@dataclass
class Outcome:
    comparison_id: str
    out_dir: Path
    failed: list[str]
    skipped: int
    files: dict[str, Path] = field(default_factory=dict)


def run_comparison(
    runs: Sequence[PlannedRun],
    *,
    out_root: Path,
    experiment: str = COMPARISON_EXPERIMENT,
    name: str | None = None,
    resume: str | None = None,
    params: Mapping[str, str] | None = None,
    after_runs: Callable[[str, str, Path], None] | None = None,
    baseline: str = "bce",
    stream=None,
) -> Outcome:
    """Run ``runs`` as children of one parent MLflow run, then write and log the report.

    ``after_runs(tracking_uri, comparison_id, out_dir)`` runs once all training runs are
    done, inside the parent run (the ensembles hook in here). A failed training run is
    reported and the comparison goes on; bad input of a data set (found only when its
    data is loaded) skips that data set's remaining runs.
    """
    import mlflow
    from omegaconf import open_dict

    from lossmatch import tracking
    from lossmatch.pipeline import run as train_run
    from lossmatch.run_naming import git_state

    out = print if stream is None else (lambda *a, **k: print(*a, **k, file=stream))
    if not runs:
        raise InputError("compare: nothing to run (no loss, seed or data set)")
    first = runs[0].cfg
    uri = tracking.use_credentials(str(first.tracking.uri))
    root = Path(str(first.paths.root_dir))
    tracking.check_store(uri)
    experiment_id = tracking.setup_tracking(uri, experiment, first.tracking.artifact_location)
    done: set = set()
    if resume:
        parent = existing_parent(uri, resume)
        experiment_id = parent.info.experiment_id
        mlflow.set_experiment(experiment_id=experiment_id)
        done = finished_keys(comparison_runs(uri, resume))
    stamp = time.strftime("%Y-%m-%d_%H-%M-%S")
    tags = {KIND_TAG: "comparison", **git_state(root)}
    with tracking.mlflow_run(None if resume else (name or f"comparison-{stamp}"), tags=tags, run_id=resume, nested=False) as parent:
        comparison_id = parent.info.run_id
        out_dir = Path(out_root) / f"{stamp}_{comparison_id[:8]}"
        out_dir.mkdir(parents=True, exist_ok=True)
        _log_new_params(dict(params or {}), parent.data.params if resume else {}, out)
        todo = [r for r in runs if (r.data.name, r.entry.label, r.seed) not in done]
        out(f"comparison {comparison_id}: {len(runs)} runs ({len(runs) - len(todo)} already finished), "
            f"{len({r.data.name for r in runs})} data set(s); each run's output in {out_dir / 'runs.log'}")
        out(f"MLflow: {tracking.ui_command(uri)}  (experiment {experiment}, run {comparison_id})")
        widths = (max(len(r.data.name) for r in runs), max(len(r.entry.label) for r in runs))
        progress = Progress(len(todo), stream, widths=widths)
        failed: list[str] = []
        broken: dict[str, str] = {}
        with open(out_dir / "runs.log", "a", encoding="utf-8") as log:
            for r in todo:
                progress.start(r)
                if r.data.name in broken:
                    progress.finish(f"skipped: {broken[r.data.name]}", 0.0)
                    failed.append(f"{r.data.name} {r.entry.label} seed {r.seed}: skipped")
                    continue
                with open_dict(r.cfg):
                    r.cfg.tracking.tags = {COMPARISON_TAG: comparison_id, LABEL_TAG: r.entry.label, **r.entry.tags}
                    r.cfg.tracking.run_name = f"{r.entry.label}-seed{r.seed}"
                started = time.perf_counter()
                print(f"\n=== {r.data.name} {r.entry.label} seed {r.seed} ===", file=log, flush=True)
                try:
                    with _quiet(log):
                        result = train_run(r.cfg, output_dir=_run_dir(out_dir, r))
                except InputError as exc:
                    broken[r.data.name] = " ".join(str(exc).split())
                    failed.append(f"{r.data.name} {r.entry.label} seed {r.seed}: {broken[r.data.name]}")
                    progress.finish(f"input error: {broken[r.data.name]}", time.perf_counter() - started)
                except Exception as exc:  # one diverged or broken run must not end a long comparison
                    message = f"{type(exc).__name__}: {' '.join(str(exc).split())[:200]}"
                    print(message, file=log, flush=True)
                    failed.append(f"{r.data.name} {r.entry.label} seed {r.seed}: {message}")
                    progress.finish(f"FAILED ({message})", time.perf_counter() - started)
                else:
                    progress.finish(f"test F1 {result['test']['f1']:.4f}", time.perf_counter() - started)
                mlflow.set_experiment(experiment_id=experiment_id)
        if after_runs is not None:
            after_runs(uri, comparison_id, out_dir)
        mlflow.set_tag("failed_runs", str(len(failed)))
        files = report(uri, comparison_id, out_dir, baseline=baseline, log_to_parent=True)
    return Outcome(comparison_id, out_dir, failed, len(runs) - len(todo), files)


def _log_new_params(params: dict[str, str], logged: Mapping[str, str], out) -> None:
    """Params of a new comparison; a resumed one adds those it lacks (e.g. a data set added later).

    MLflow refuses to change a logged param, so a value that differs is reported, not logged.
    """
    from lossmatch import tracking

    changed = [k for k, v in params.items() if k in logged and logged[k] != v]
    if changed:
        out(f"note: this command differs from the comparison's logged params in {', '.join(changed)}; kept as logged")
    tracking.log_params({k: v for k, v in params.items() if k not in logged})


def existing_parent(uri: str, run_id: str):
    """The parent run of comparison ``run_id``.

    Raises:
        InputError: no such run, or a run that is not a comparison's parent.
    """
    import mlflow
    from mlflow.exceptions import MlflowException

    try:
        parent = mlflow.MlflowClient(tracking_uri=uri).get_run(run_id)
    except MlflowException:
        raise InputError(f"comparison {run_id}: no such run in the store") from None
    if parent.data.tags.get(KIND_TAG) != "comparison":
        raise InputError(f"comparison {run_id}: not a comparison's parent run (tag {KIND_TAG} is not 'comparison')")
    return parent


# -- the report ----------------------------------------------------------------------------------
def report(tracking_uri: str, comparison_id: str | Sequence[str], out_dir: Path, *, baseline: str = "bce",
           log_to_parent: bool = False) -> dict[str, Path]:
    """Aggregate the comparison's runs from MLflow and write (and optionally log) every file.

    Files: ``comparison.csv``, ``comparison.md``, ``f1_by_loss.png``, ``mean_rank.png`` and
    ``pr_curves_<data>.png`` (test precision-recall of each loss's median-seed run).
    Several comparison ids make one report of all their runs (e.g. data sets compared in
    separate commands, ranked together); ``log_to_parent`` needs a single id.
    """
    import mlflow

    from lossmatch import compare, plots
    from lossmatch.predictions import load_predictions, split_predictions

    ids = [comparison_id] if isinstance(comparison_id, str) else list(comparison_id)
    if log_to_parent and len(ids) != 1:
        raise ValueError("report: log_to_parent needs exactly one comparison id")
    runs = pd.concat([comparison_runs(tracking_uri, i) for i in ids], ignore_index=True)
    comparison = compare.compare(runs, baseline=baseline, loss_tag=LABEL_TAG)
    out_dir = Path(out_dir)
    files = compare.write_comparison(comparison, out_dir, baseline=baseline)
    test_matches = runs.set_index("run_id")["metrics.test_matches"] if "metrics.test_matches" in runs else pd.Series(dtype=float)
    for data, median in compare.median_seed_runs(comparison.runs).groupby("data", sort=True):
        curves = {}
        for _, row in median.iterrows():
            frame = load_predictions(row["run_id"], tracking_uri=tracking_uri)
            split = split_predictions(frame, "test", test_matches.get(row["run_id"], math.nan))
            curves[f"{row['loss']} (seed {row['seed']})"] = (split.y, split.p, split.missed)
        fig = plots.precision_recall_overlay_figure(curves, title=f"{data}: test precision-recall, median-seed run per loss")
        files[f"pr_curves_{data}"] = out_dir / f"pr_curves_{_slug(data)}.png"
        fig.savefig(files[f"pr_curves_{data}"], dpi=110)
        plots.close(fig)
    if log_to_parent:
        client = mlflow.MlflowClient(tracking_uri=tracking_uri)
        for path in files.values():
            client.log_artifact(ids[0], str(path))
    return files
