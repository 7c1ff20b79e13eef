"""The Sweeper class that Hydra discovers.

Hydra imports every public module under ``hydra_plugins`` whenever it looks for a plugin, in
every run, sweep or not; so this module stays cheap and imports Optuna (``_impl``) only when a
sweep is actually set up.
"""

from __future__ import annotations

from typing import Any

from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig


class LossmatchOptunaSweeper(Sweeper):
    """Hydra sweeper on current Optuna: resumable, shareable studies, pruning, MLflow."""

    def __init__(
        self,
        sampler: Any,
        pruner: Any,
        direction: Any,
        storage: str | None,
        study_name: str | None,
        n_trials: int,
        n_jobs: int,
        max_failure_rate: float,
        heartbeat_interval: int,
        grace_period: int | None,
        max_retry: int,
        params: DictConfig | None,
        custom_search_space: str | None,
        mlflow: Any,
    ) -> None:
        from ._impl import SweeperImpl, SweeperOptions

        self.sweeper = SweeperImpl(
            SweeperOptions(
                sampler=sampler,
                pruner=pruner,
                direction=direction,
                storage=storage,
                study_name=study_name,
                n_trials=n_trials,
                n_jobs=n_jobs,
                max_failure_rate=max_failure_rate,
                heartbeat_interval=heartbeat_interval,
                grace_period=grace_period,
                max_retry=max_retry,
                params=params,
                custom_search_space=custom_search_space,
                mlflow=mlflow,
            )
        )

    def setup(
        self,
        *,
        hydra_context: HydraContext,
        task_function: TaskFunction,
        config: DictConfig,
    ) -> None:
        self.sweeper.setup(
            hydra_context=hydra_context, task_function=task_function, config=config
        )

    def sweep(self, arguments: list[str]) -> None:
        return self.sweeper.sweep(arguments)
