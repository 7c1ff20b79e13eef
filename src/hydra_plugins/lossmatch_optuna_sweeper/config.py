"""Structured configs of the sweeper, stored in Hydra's ConfigStore.

``hydra/sweeper=lossmatch_optuna`` selects the sweeper; ``hydra/sweeper/sampler=<tpe|random|grid|cmaes>``
and ``hydra/sweeper/pruner=<median|hyperband|none>`` pick the sampler and pruner. The keys follow
the official hydra-optuna-sweeper (``sampler``, ``direction``, ``storage``, ``study_name``,
``n_trials``, ``n_jobs``, ``max_failure_rate``, ``params``, ``custom_search_space``) so that its
configs carry over; the rest is documented field by field below and in ``docs/sweeps.md``.

Tested on Optuna 5.0 (``optuna>=5.0,<6``). No ``from __future__ import annotations`` here: Hydra
executes plugin modules outside ``sys.modules``, where dataclasses cannot resolve string annotations.
"""

from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING

_PROVIDER = "lossmatch_optuna_sweeper"


class Direction(Enum):
    minimize = 1
    maximize = 2


@dataclass
class SamplerConfig:
    _target_: str = MISSING


@dataclass
class TPESamplerConfig(SamplerConfig):
    """https://optuna.readthedocs.io/en/stable/reference/samplers/generated/optuna.samplers.TPESampler.html"""

    _target_: str = "optuna.samplers.TPESampler"
    seed: int | None = None
    n_startup_trials: int = 10
    n_ei_candidates: int = 24
    multivariate: bool = False
    # Parallel trials (n_jobs > 1, several processes) see each other's running trials as bad
    # results, so they do not all sample the same point; Optuna 5's default.
    constant_liar: bool = True


@dataclass
class RandomSamplerConfig(SamplerConfig):
    """https://optuna.readthedocs.io/en/stable/reference/samplers/generated/optuna.samplers.RandomSampler.html"""

    _target_: str = "optuna.samplers.RandomSampler"
    seed: int | None = None


@dataclass
class GridSamplerConfig(SamplerConfig):
    """https://optuna.readthedocs.io/en/stable/reference/samplers/generated/optuna.samplers.GridSampler.html

    The grid is built at run time from ``params`` (choice, range, or a stepped interval);
    n_trials is capped at the grid size.
    """

    _target_: str = "optuna.samplers.GridSampler"
    _partial_: bool = True
    seed: int | None = None


@dataclass
class CmaEsSamplerConfig(SamplerConfig):
    """https://optuna.readthedocs.io/en/stable/reference/samplers/generated/optuna.samplers.CmaEsSampler.html

    Needs the ``cmaes`` package (``pip install 'lossmatch[sweep]'``).
    """

    _target_: str = "optuna.samplers.CmaEsSampler"
    seed: int | None = None
    sigma0: float | None = None
    n_startup_trials: int = 1
    consider_pruned_trials: bool = False
    use_separable_cma: bool = False


@dataclass
class PrunerConfig:
    _target_: str = MISSING


@dataclass
class MedianPrunerConfig(PrunerConfig):
    """https://optuna.readthedocs.io/en/stable/reference/generated/optuna.pruners.MedianPruner.html"""

    _target_: str = "optuna.pruners.MedianPruner"
    n_startup_trials: int = 5
    n_warmup_steps: int = 0
    interval_steps: int = 1
    n_min_trials: int = 1


@dataclass
class HyperbandPrunerConfig(PrunerConfig):
    """https://optuna.readthedocs.io/en/stable/reference/generated/optuna.pruners.HyperbandPruner.html"""

    _target_: str = "optuna.pruners.HyperbandPruner"
    min_resource: int = 1
    max_resource: Any = "auto"
    reduction_factor: int = 3


@dataclass
class NopPrunerConfig(PrunerConfig):
    """No pruning: every trial runs to the end (trial.should_prune() is always False)."""

    _target_: str = "optuna.pruners.NopPruner"


@dataclass
class MlflowConfig:
    """One parent MLflow run per sweep, each trial a nested child run. Off while tracking_uri is null.

    Never write a password into tracking_uri here: use ``${oc.env:MLFLOW_TRACKING_URI}`` (Hydra
    saves the interpolation, not its value).
    """

    tracking_uri: str | None = None
    # Experiment of the parent run (created if missing). Children nest in the UI only when the
    # task logs its runs into the same experiment.
    experiment: str | None = None
    artifact_location: str | None = None
    # Name of the parent run; null: the study name.
    run_name: str | None = None
    # Optuna plots logged to the parent run as PNG when a sweep ends (optuna.visualization.matplotlib);
    # importances and contour are skipped while there are too few trials or parameters.
    plots: list[str] = field(
        default_factory=lambda: [
            "optimization_history",
            "param_importances",
            "slice",
            "contour",
        ]
    )


@dataclass
class LossmatchOptunaSweeperConf:
    _target_: str = (
        "hydra_plugins.lossmatch_optuna_sweeper.optuna_sweeper.LossmatchOptunaSweeper"
    )
    defaults: list[Any] = field(
        default_factory=lambda: [{"sampler": "tpe"}, {"pruner": "none"}]
    )
    # The sampler and pruner arrive as configs: the sweeper instantiates them itself (the
    # sampler once per trial, with a seed derived from the trial number).
    _recursive_: bool = False

    sampler: SamplerConfig = MISSING
    pruner: PrunerConfig = MISSING

    # minimize or maximize the value that the task function returns (one objective).
    direction: Direction = Direction.minimize

    # null: in memory (lost at exit; with an out-of-process launcher a journal file is created in
    # the sweep directory instead). An RDB URL: sqlite:///sweeps.db, postgresql://user@host/db
    # (password from ${oc.env:...}, never literally). A journal file: journal:///sweeps.log
    # (relative), journal:////abs/sweeps.log, or a plain path ending in .log.
    storage: str | None = None

    # The same study_name on the same storage is the same study: a re-run resumes it and several
    # processes cooperate on it. null: the task's name (hydra.job.name).
    study_name: str | None = None

    # Total of the study (not per run): a re-run stops once the study has n_trials finished
    # trials (COMPLETE, PRUNED, or FAIL that is not retried).
    n_trials: int = 20

    # Trials asked and launched together (one launcher batch); the launcher decides whether they
    # run in parallel (joblib, submitit, ray) or one after another (basic).
    n_jobs: int = 1

    # The sweep stops with an error once more than max_failure_rate * n_trials trials failed.
    max_failure_rate: float = 0.25

    # Liveness of running trials on a persistent storage: a trial whose sweeper process stopped
    # beating for grace_period seconds (null: 2 * heartbeat_interval) is failed and run again
    # (at most max_retry times) by the next sweeper that looks.
    heartbeat_interval: int = 60
    grace_period: int | None = None
    max_retry: int = 3

    # Search space, e.g. {loss.alpha: "interval(0, 1)", loss.gamma: "tag(log, interval(0.5, 5))"}.
    params: dict[str, str] | None = None

    # Dotted path of a function (cfg, optuna.trial.Trial) -> None that suggests more parameters.
    custom_search_space: str | None = None

    mlflow: MlflowConfig = field(default_factory=MlflowConfig)


_store = ConfigStore.instance()
_store.store(
    group="hydra/sweeper",
    name="lossmatch_optuna",
    node=LossmatchOptunaSweeperConf,
    provider=_PROVIDER,
)
for _name, _node in {
    "tpe": TPESamplerConfig,
    "random": RandomSamplerConfig,
    "grid": GridSamplerConfig,
    "cmaes": CmaEsSamplerConfig,
}.items():
    _store.store(
        group="hydra/sweeper/sampler", name=_name, node=_node, provider=_PROVIDER
    )
for _name, _node in {
    "median": MedianPrunerConfig,
    "hyperband": HyperbandPrunerConfig,
    "none": NopPrunerConfig,
}.items():
    _store.store(
        group="hydra/sweeper/pruner", name=_name, node=_node, provider=_PROVIDER
    )
