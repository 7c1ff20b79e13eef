"""The sweep: ask Optuna for trials, launch them as Hydra jobs, tell Optuna how they ended.

Tested on Optuna 5.0 and Hydra 1.3; only public Optuna calls (``create_study``, ``ask``,
``tell``, ``enqueue``-style retries through ``RetryHeartbeatStaleTrialCallback``,
``fail_stale_trials``, storage methods of ``BaseStorage``).

What counts (``n_trials`` is the total of the study, over every run and process):

* a trial is *finished* when it is COMPLETE, PRUNED, or FAIL and not superseded; a FAIL trial is
  superseded when its sweeper process stopped (killed, Ctrl-C, machine lost) and a retry with its
  parameters was enqueued (its number is in the retry's ``retry_history``), or when it was a
  *surplus* ask (two processes asked for the last slot at once: the higher number gives way and
  is marked with the system attribute ``lossmatch_optuna_sweeper:surplus``);
* a run stops asking once finished + running trials reach n_trials, and ends once n_trials are
  finished, waiting meanwhile for trials that other processes run (or for them to go stale and
  be retried here);
* the failure rate is failed / n_trials; the sweep stops with ``TooManyFailedTrials`` as soon as
  more than ``max_failure_rate * n_trials`` trials failed.
"""

from __future__ import annotations

import importlib.util
import logging
import math
import os
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import optuna
from hydra.core.plugins import Plugins
from hydra.core.utils import JobReturn, JobStatus
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from hydra.utils import get_method, instantiate
from omegaconf import DictConfig, OmegaConf, flag_override
from optuna.distributions import BaseDistribution
from optuna.trial import FrozenTrial, TrialState

from . import _current_trial as current
from ._mlflow import CHILD_ATTR, SweepRuns
from ._sampler import PerTrialSeedSampler
from ._search_space import describe, grid_values, params_from_overrides
from ._storage import (
    Heartbeat,
    StorageSpec,
    beat,
    fail_stale_trials,
    has_password,
    open_storage,
    parse_storage,
    redact,
    retry_callback,
)
from .config import Direction

log = logging.getLogger(__name__)

SURPLUS_ATTR = "lossmatch_optuna_sweeper:surplus"
FAIL_REASON_ATTR = "fail_reason"
_BASIC_LAUNCHER = "hydra._internal.core_plugins.basic_launcher.BasicLauncher"


class TooManyFailedTrials(RuntimeError):
    """More trials failed than ``max_failure_rate`` allows."""


class SweepConfigError(ValueError):
    """A sweeper option that cannot work, found before any trial runs."""


@dataclass
class SweeperOptions:
    sampler: Any
    pruner: Any
    direction: Any
    storage: str | None
    study_name: str | None
    n_trials: int
    n_jobs: int
    max_failure_rate: float
    heartbeat_interval: int
    grace_period: int | None
    max_retry: int
    params: Any
    custom_search_space: str | None
    mlflow: Any


@dataclass
class Census:
    """The study's trials as the n_trials budget sees them (see the module docstring)."""

    finished: list[FrozenTrial] = field(default_factory=list)
    running: list[FrozenTrial] = field(default_factory=list)
    waiting: list[FrozenTrial] = field(default_factory=list)

    @property
    def failed(self) -> list[FrozenTrial]:
        return [t for t in self.finished if t.state == TrialState.FAIL]


def _counted(trials: Sequence[FrozenTrial]) -> list[FrozenTrial]:
    superseded = set()
    for trial in trials:
        superseded.update(trial.system_attrs.get("retry_history", []))
    return [
        t
        for t in trials
        if t.number not in superseded and not t.system_attrs.get(SURPLUS_ATTR)
    ]


def census(trials: Sequence[FrozenTrial]) -> Census:
    result = Census()
    for trial in _counted(trials):
        if trial.state.is_finished():
            result.finished.append(trial)
        elif trial.state == TrialState.RUNNING:
            result.running.append(trial)
        elif trial.state == TrialState.WAITING:
            result.waiting.append(trial)
    return result


def budget_before(trials: Sequence[FrozenTrial], number: int) -> int:
    """How many counted trials (finished, running or waiting) have a number below ``number``.

    Trial numbers are handed out atomically by the storage, so every process agrees on which of
    two simultaneous asks came first: the later one is surplus when the earlier filled the study.
    """
    return sum(1 for t in _counted(trials) if t.number < number)


def job_outcome(ret: JobReturn) -> tuple[TrialState, float | None, str | None]:
    """(state, objective value, failure message) of one finished Hydra job."""
    if ret.status == JobStatus.COMPLETED:
        value = ret.return_value
        try:
            number = float(value)
        except (TypeError, ValueError):
            return (
                TrialState.FAIL,
                None,
                f"the task returned {value!r}, expected one number",
            )
        if not math.isfinite(number):
            return (
                TrialState.FAIL,
                None,
                f"the task returned {number}, expected a finite number",
            )
        return TrialState.COMPLETE, number, None
    # JobReturn.return_value would re-raise the error after writing "Error executing job" to
    # stderr, which is wrong for a pruned trial; the error itself is all we need.
    error = ret._return_value
    if isinstance(error, optuna.TrialPruned):
        return TrialState.PRUNED, None, None
    return TrialState.FAIL, None, f"{type(error).__name__}: {error}"


def _quote(value: str) -> str:
    """A string as a quoted Hydra override value."""
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


def _direction_name(direction: Any) -> str:
    if isinstance(direction, Direction):
        return direction.name
    if isinstance(direction, (list, tuple)) or OmegaConf.is_list(direction):
        raise SweepConfigError(
            f"hydra.sweeper.direction={list(direction)}: this sweeper optimises one objective; "
            "give minimize or maximize"
        )
    name = str(direction).rsplit(".", 1)[-1].lower()
    if name not in ("minimize", "maximize"):
        raise SweepConfigError(
            f"hydra.sweeper.direction={direction!r}: expected minimize or maximize"
        )
    return name


def _fmt(value: Any) -> str:
    return f"{value:.6g}" if isinstance(value, float) else str(value)


def _fmt_params(params: dict[str, Any]) -> str:
    return "{" + ", ".join(f"{k}: {_fmt(v)}" for k, v in params.items()) + "}"


class SweeperImpl(Sweeper):
    def __init__(self, options: SweeperOptions) -> None:
        if not 0.0 <= float(options.max_failure_rate) <= 1.0:
            raise SweepConfigError(
                f"hydra.sweeper.max_failure_rate={options.max_failure_rate}: expected a number in [0, 1]"
            )
        if int(options.n_trials) < 1 or int(options.n_jobs) < 1:
            raise SweepConfigError(
                f"hydra.sweeper.n_trials={options.n_trials}, n_jobs={options.n_jobs}: both must be at least 1"
            )
        if int(options.heartbeat_interval) < 1:
            raise SweepConfigError(
                f"hydra.sweeper.heartbeat_interval={options.heartbeat_interval}: expected >= 1 second"
            )
        self.options = options
        self.direction = _direction_name(options.direction)
        self.spec: StorageSpec = parse_storage(options.storage)
        self.grace_period = float(
            options.grace_period or 2 * options.heartbeat_interval
        )
        self.job_idx = 0

    # Hydra calls setup once, then sweep.
    def setup(
        self,
        *,
        hydra_context: HydraContext,
        task_function: TaskFunction,
        config: DictConfig,
    ) -> None:
        self.config = config
        self.hydra_context = hydra_context
        self.launcher = Plugins.instance().instantiate_launcher(
            config=config, hydra_context=hydra_context, task_function=task_function
        )
        self.in_process = config.hydra.launcher.get("_target_") == _BASIC_LAUNCHER
        self.sweep_dir = str(config.hydra.sweep.dir)

    def sweep(self, arguments: list[str]) -> None:
        opts = self.options
        params_conf = [f"{k!s}={v}" for k, v in (opts.params or {}).items()]
        space, fixed, deletions = params_from_overrides(params_conf + list(arguments))
        if not space and not opts.custom_search_space:
            log.warning("The search space is empty: every trial runs the same config")
        n_trials = int(opts.n_trials)
        sampler, n_trials = self._sampler(space, n_trials)
        pruner = instantiate(opts.pruner)
        extender = (
            get_method(opts.custom_search_space) if opts.custom_search_space else None
        )

        if not self.spec.shareable and not self.in_process:
            path = os.path.join(os.path.abspath(self.sweep_dir), "optuna_journal.log")
            self.spec = parse_storage(f"journal:///{path}")
            log.info(
                "storage is null but the launcher runs jobs in other processes: the study goes to %s",
                path,
            )
        study_name = self.study_name = opts.study_name or str(
            self.config.hydra.job.name
        )
        self.storage = open_storage(
            self.spec,
            heartbeat_interval=int(opts.heartbeat_interval),
            grace_period=int(self.grace_period),
            max_retry=int(opts.max_retry),
        )
        study = optuna.create_study(
            study_name=study_name,
            storage=self.storage,
            sampler=sampler,
            pruner=pruner,
            direction=self.direction,
            load_if_exists=True,
        )
        if study.direction.name.lower() != self.direction:
            raise SweepConfigError(
                f"study {study_name!r} in {self.spec.redacted()} was created to {study.direction.name.lower()}, "
                f"not {self.direction}: use another study_name"
            )
        self.study_id = (
            self.storage.get_study_id_from_name(study_name)
            if self.storage is not None
            else None
        )
        already = census(study.get_trials(deepcopy=False))
        log.info(
            "Study %r (storage: %s): %s, sampler %s, pruner %s, %d of n_trials=%d finished",
            study_name,
            self.spec.redacted(),
            self.direction,
            sampler,
            type(pruner).__name__,
            len(already.finished),
            n_trials,
        )
        log.info("Search space:\n%s", describe(space) or "(empty)")

        runs = self._open_mlflow(study, space, fixed, sampler, pruner, n_trials)
        saved_env = self._prepare_jobs(study_name, runs)
        status = "FAILED"
        try:
            self._loop(study, space, fixed, deletions, extender, n_trials, runs)
            status = "FINISHED"
        finally:
            for key, value in saved_env.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
            self._report(study, n_trials, runs, status)

    # ----------------------------------------------------------------------------------- set-up
    def _sampler(
        self, space: dict[str, BaseDistribution], n_trials: int
    ) -> tuple[Any, int]:
        cfg = self.options.sampler
        target = str(cfg.get("_target_", ""))
        if (
            target.endswith("CmaEsSampler")
            and importlib.util.find_spec("cmaes") is None
        ):
            raise SweepConfigError(
                "hydra/sweeper/sampler=cmaes needs the cmaes package: pip install 'lossmatch[sweep]'"
            )
        is_grid = target.endswith("GridSampler")
        grid = (
            {name: grid_values(name, dist) for name, dist in space.items()}
            if is_grid
            else None
        )

        def make(seed: int | None) -> Any:
            sampler = instantiate(cfg, seed=seed)
            return sampler(grid) if is_grid else sampler

        if is_grid:
            size = math.prod(len(v) for v in grid.values()) if grid else 1
            if size < n_trials:
                log.info(
                    "The grid has %d points: n_trials %d -> %d", size, n_trials, size
                )
                n_trials = size
        seed = cfg.get("seed")
        return (
            make(None) if seed is None else PerTrialSeedSampler(make, int(seed))
        ), n_trials

    def _open_mlflow(
        self,
        study: Any,
        space: dict,
        fixed: dict,
        sampler: Any,
        pruner: Any,
        n_trials: int,
    ) -> SweepRuns | None:
        conf = self.options.mlflow
        if conf is None or not conf.get("tracking_uri"):
            return None
        plots = list(conf.get("plots") or [])
        runs = SweepRuns(
            str(conf.tracking_uri),
            conf.get("experiment"),
            conf.get("artifact_location"),
            plots,
        )
        runs.open_parent(
            study,
            conf.get("run_name"),
            {
                "study_name": study.study_name,
                "direction": self.direction,
                "search_space": describe(space),
                "fixed_overrides": _fmt_params(fixed),
                "sampler": str(sampler),
                "pruner": type(pruner).__name__,
                "n_trials": n_trials,
                "storage": self.spec.redacted(),
            },
            shared=self.spec.shareable,
        )
        return runs

    def _prepare_jobs(
        self, study_name: str, runs: SweepRuns | None
    ) -> dict[str, str | None]:
        """Tell every job how to reach its trial, and keep the storage password out of job configs.

        Per-job values go through ``hydra.job.env_set``; Hydra composes each job from the master
        config's ``hydra.overrides.hydra`` plus the job's overrides, so the keys are declared
        there once (a job override of a declared key is a plain ``hydra.`` override, which the
        launcher's log line leaves out). The storage URL travels in this process's environment
        only (not saved by Hydra).
        """
        env = {current.ENV_STORAGE: self.spec.url}
        if runs is not None:
            env[current.ENV_TRACKING_URI] = runs.tracking_uri
        saved = {key: os.environ.get(key) for key in env}
        for key, value in env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value

        declared = [
            f"++hydra.job.env_set.{current.ENV_TRIAL}=-1",
            f"++hydra.job.env_set.{current.ENV_STUDY}={_quote(study_name)}",
        ]
        if runs is not None:
            declared.append(
                f"++hydra.job.env_set.{current.ENV_PARENT_RUN}={runs.parent_run_id}"
            )
        overrides = list(self.config.hydra.overrides.hydra)
        raw_storage = OmegaConf.to_container(
            self.config.hydra.sweeper, resolve=False
        ).get("storage")
        if has_password(raw_storage) or any(
            o.lstrip("+").startswith("hydra.sweeper.storage=") and has_password(o)
            for o in overrides
        ):
            log.warning(
                "The storage URL holds a password: it is kept out of the job configs that Hydra saves, "
                "but pass it as ${oc.env:VARIABLE} rather than literally"
            )
            overrides = [
                o
                for o in overrides
                if not (
                    o.lstrip("+").startswith("hydra.sweeper.storage=")
                    and has_password(o)
                )
            ]
            declared.append(f"++hydra.sweeper.storage={_quote(redact(raw_storage))}")
        with flag_override(self.config, ["struct", "readonly"], [False, False]):
            self.config.hydra.overrides.hydra = overrides + declared
        return saved

    # ------------------------------------------------------------------------------ the loop
    def _loop(
        self,
        study: Any,
        space: dict,
        fixed: dict,
        deletions: list[str],
        extender: Any,
        n_trials: int,
        runs: SweepRuns | None,
    ) -> None:
        opts = self.options
        poll = max(0.5, min(float(opts.heartbeat_interval), 5.0))
        waiting_logged: tuple[int, ...] = ()
        last_stale_check = -math.inf
        while True:
            # Staleness changes on the heartbeat's time scale: looking once per interval is enough.
            if time.monotonic() - last_stale_check >= float(opts.heartbeat_interval):
                last_stale_check = time.monotonic()
                for number in fail_stale_trials(
                    study, self.spec, self.grace_period, int(opts.max_retry)
                ):
                    log.warning(
                        "trial %d was left RUNNING by a stopped sweeper: failed it; its parameters run again",
                        number,
                    )
            counts = census(study.get_trials(deepcopy=False))
            self._check_failures(counts, n_trials)
            if len(counts.finished) >= n_trials:
                return
            free = n_trials - len(counts.finished) - len(counts.running)
            if free <= 0:
                others = tuple(t.number for t in counts.running)
                if others != waiting_logged:
                    log.info(
                        "waiting for trial(s) %s, running in other processes",
                        ", ".join(map(str, others)),
                    )
                    waiting_logged = others
                time.sleep(poll)
                continue
            # The basic launcher runs a batch one job after another anyway: one trial at a time
            # lets the sampler learn from each result, and ties a sys.exit to its own trial.
            size = 1 if self.in_process else min(int(opts.n_jobs), free)
            batch = self._ask(study, space, extender, size, n_trials)
            if batch:
                self._run(study, batch, fixed, deletions, n_trials, runs)

    def _ask(
        self, study: Any, space: dict, extender: Any, size: int, n_trials: int
    ) -> list[tuple[Any, str | None]]:
        batch = []
        for _ in range(size):
            with warnings.catch_warnings():
                # Optuna warns that its heartbeat is meant for optimize(); this module beats
                # for the trials it asks (Heartbeat), which is what optimize() does.
                warnings.filterwarnings("ignore", message="Heartbeat of storage")
                trial = study.ask(fixed_distributions=space)
            self._beat(trial.number)
            inherited_child = trial.user_attrs.get(CHILD_ATTR)
            if (
                budget_before(study.get_trials(deepcopy=False), trial.number)
                >= n_trials
            ):
                # Another process took the last slot between our count and our ask.
                self.storage.set_trial_system_attr(
                    self._trial_id(trial.number), SURPLUS_ATTR, True
                )
                study.tell(trial, state=TrialState.FAIL)
                log.info(
                    "trial %d not run: the study already has n_trials=%d trials",
                    trial.number,
                    n_trials,
                )
                break
            if extender is not None:
                extender(self.config, trial)
            batch.append((trial, inherited_child))
        return batch

    def _run(
        self,
        study: Any,
        batch: list[tuple[Any, str | None]],
        fixed: dict,
        deletions: list[str],
        n_trials: int,
        runs: SweepRuns | None,
    ) -> None:
        overrides = []
        for trial, _ in batch:
            values = {**trial.params, **fixed}
            overrides.append(
                tuple(f"{name}={value}" for name, value in values.items())
                + tuple(deletions)
                + (f"hydra.job.env_set.{current.ENV_TRIAL}={trial.number}",)
            )
            current._LIVE[(study.study_name, trial.number)] = trial
        ids = (
            [self._trial_id(t.number) for t, _ in batch]
            if self.storage is not None
            else []
        )
        reason = ""
        try:
            with Heartbeat(
                self.spec, self.storage, ids, float(self.options.heartbeat_interval)
            ):
                try:
                    returns = list(
                        self.launcher.launch(overrides, initial_job_idx=self.job_idx)
                    )
                except (Exception, SystemExit) as err:
                    # A task that exits (sys.exit) or a launcher that loses a worker: the batch's
                    # trials fail with that message and the sweep goes on.
                    reason = f"the job did not return: {type(err).__name__}: {err}"
                    returns = [None] * len(batch)
                    log.debug("launcher error", exc_info=True)
        except BaseException:
            self._interrupted(study, [t for t, _ in batch])
            raise
        finally:
            for trial, _ in batch:
                current._LIVE.pop((study.study_name, trial.number), None)
        self.job_idx += len(batch)
        for (trial, inherited_child), ret in zip(batch, returns):
            if ret is None:
                state, value, message = TrialState.FAIL, None, redact(reason)
            else:
                state, value, message = job_outcome(ret)
            self._tell(
                study, trial, state, value, message, n_trials, runs, inherited_child
            )

    def _tell(
        self,
        study: Any,
        trial: Any,
        state: TrialState,
        value: float | None,
        message: str | None,
        n_trials: int,
        runs: SweepRuns | None,
        inherited_child: str | None,
    ) -> None:
        try:
            if message is not None:
                trial.set_user_attr(FAIL_REASON_ATTR, message[:2000])
            study.tell(
                trial,
                value if state == TrialState.COMPLETE else None,
                state=state,
                skip_if_finished=True,
            )
        except optuna.exceptions.UpdateFinishedTrialError:
            pass
        except RuntimeError as err:
            # GridSampler stops the study once every grid point was tried; study.stop() only
            # works inside optimize(), so it raises here, after the trial was told.
            if "Study.stop" not in str(err):
                raise
        trials = study.get_trials(deepcopy=False)
        frozen = trials[trial.number]
        if frozen.state != state:
            log.warning(
                "trial %d was marked %s by another sweeper (its heartbeat was late): this result is dropped",
                trial.number,
                frozen.state.name,
            )
        counts = census(trials)
        best = self._best_of(counts)
        best_text = (
            "none yet" if best is None else f"{_fmt(best.value)} (trial {best.number})"
        )
        value_text = "" if frozen.value is None else f" value={_fmt(frozen.value)}"
        line = (
            f"trial {trial.number} {frozen.state.name}{value_text} params={_fmt_params(frozen.params)}"
            f" | best {best_text} | {len(counts.finished)}/{n_trials} finished"
        )
        if message is not None:
            log.warning("%s | %s", line, message)
        else:
            log.info(line)
        if runs is not None:
            runs.record_trial(frozen, study.study_name, inherited_child)

    def _check_failures(self, counts: Census, n_trials: int) -> None:
        failed = counts.failed
        allowed = math.floor(float(self.options.max_failure_rate) * n_trials + 1e-9)
        if len(failed) <= allowed:
            return
        last = max(failed, key=lambda t: t.number)
        reason = last.user_attrs.get(
            FAIL_REASON_ATTR, "its sweeper process stopped and retries ran out"
        )
        raise TooManyFailedTrials(
            f"{len(failed)} trials of study {self.study_name!r} failed, more than "
            f"max_failure_rate={self.options.max_failure_rate} x n_trials={n_trials} allows ({allowed}); "
            f"last: trial {last.number}: {reason}"
        )

    def _interrupted(self, study: Any, trials: list[Any]) -> None:
        """Ctrl-C or an error mid-batch: fail the batch's trials and enqueue them again now."""
        if not self.spec.shareable:
            return
        for trial in trials:
            try:
                frozen = study.get_trials(deepcopy=False)[trial.number]
                study.tell(trial, state=TrialState.FAIL)
                retry_callback(int(self.options.max_retry))(study, frozen)
            except BaseException:
                pass  # the next run's stale check catches what is left

    # ------------------------------------------------------------------------------ helpers
    def _trial_id(self, number: int) -> int:
        return self.storage.get_trial_id_from_study_id_trial_number(
            self.study_id, number
        )

    def _beat(self, number: int) -> None:
        if self.storage is not None:
            beat(self.spec, self.storage, self._trial_id(number))

    def _best_of(self, counts: Census) -> FrozenTrial | None:
        """The best COMPLETE trial (the lowest number among equals), as Study.best_trial picks it."""
        complete = [
            t
            for t in counts.finished
            if t.state == TrialState.COMPLETE and t.value is not None
        ]
        if not complete:
            return None
        sign = 1.0 if self.direction == "minimize" else -1.0
        return min(complete, key=lambda t: (sign * t.value, t.number))

    def _report(
        self, study: Any, n_trials: int, runs: SweepRuns | None, status: str
    ) -> None:
        counts = census(study.get_trials(deepcopy=False))
        best = self._best_of(counts)
        states = {
            s: sum(1 for t in counts.finished if t.state == s)
            for s in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
        }
        log.info(
            "Study %r: %d of n_trials=%d finished (%d complete, %d pruned, %d failed)",
            study.study_name,
            len(counts.finished),
            n_trials,
            states[TrialState.COMPLETE],
            states[TrialState.PRUNED],
            states[TrialState.FAIL],
        )
        results: dict[str, Any] = {
            "name": "lossmatch_optuna",
            "study_name": study.study_name,
        }
        if best is None:
            log.info("No trial completed: no best trial")
        else:
            log.info(
                "Best trial %d: value %s (%s)\n  params: %s\n  user attrs: %s",
                best.number,
                _fmt(best.value),
                self.direction,
                _fmt_params(best.params),
                _fmt_params(best.user_attrs),
            )
            results.update(
                best_trial=best.number,
                best_params=dict(best.params),
                best_value=best.value,
                best_user_attrs={
                    k: v
                    for k, v in best.user_attrs.items()
                    if isinstance(v, (int, float, str, bool))
                },
            )
        look = self._look_command(runs)
        if look:
            log.info("See the study: %s", look)
        try:
            os.makedirs(self.sweep_dir, exist_ok=True)
            OmegaConf.save(
                OmegaConf.create(results),
                os.path.join(self.sweep_dir, "optimization_results.yaml"),
            )
        except Exception as err:
            log.warning("could not write optimization_results.yaml: %s", err)
        if runs is not None:
            runs.finish(study, status)

    def _look_command(self, runs: SweepRuns | None) -> str | None:
        target = self.spec.dashboard_target()
        if target and importlib.util.find_spec("optuna_dashboard") is not None:
            return f"optuna-dashboard {target}"
        if runs is not None:
            return f"mlflow ui --backend-store-uri {redact(runs.tracking_uri)}"
        if target:
            return f"pip install optuna-dashboard && optuna-dashboard {target}"
        return None
