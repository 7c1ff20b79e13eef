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

    def __init__(self, **options: Any) -> None:
        # The options are the fields of config.LossmatchOptunaSweeperConf (SweeperOptions).
        from ._impl import SweeperImpl, SweeperOptions

        self.sweeper = SweeperImpl(SweeperOptions(**options))

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
