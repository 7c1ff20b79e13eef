"""A seeded sampler whose randomness depends on the trial number, not on the process.

A seeded Optuna sampler replays the same random draws in every process that builds it: a
resumed sweep would re-propose its first trials' parameters, and two cooperating processes
would propose the same points until TPE leaves its random start-up phase. Seeding each trial
with (seed, trial number) keeps one process's sweep reproducible (same seed and config, same
parameters per trial number) and makes every trial's draws its own wherever it runs.

Optuna samplers keep their learning state in the study (trials, system attributes), so a fresh
sampler per trial loses nothing; only its random generator differs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from optuna.distributions import BaseDistribution
from optuna.samplers import BaseSampler
from optuna.study import Study
from optuna.trial import FrozenTrial, TrialState


def trial_seed(seed: int, number: int) -> int:
    """A well-mixed 32-bit seed for trial ``number`` of a sweep seeded with ``seed``."""
    return int(np.random.SeedSequence([int(seed), int(number)]).generate_state(1)[0])


class PerTrialSeedSampler(BaseSampler):
    """Delegates to ``make(trial_seed(seed, trial.number))``, one inner sampler per trial."""

    def __init__(self, make: Callable[[int], BaseSampler], seed: int) -> None:
        self._make, self._seed = make, seed
        self._inner: dict[int, BaseSampler] = {}
        self.template = make(
            seed
        )  # for its type and for trials this process did not start

    def _for(self, trial: FrozenTrial) -> BaseSampler:
        inner = self._inner.get(trial.number)
        if inner is None:
            inner = self._inner[trial.number] = self._make(
                trial_seed(self._seed, trial.number)
            )
        return inner

    def __str__(self) -> str:
        return f"{type(self.template).__name__}(seed={self._seed}, reseeded per trial number)"

    def before_trial(self, study: Study, trial: FrozenTrial) -> None:
        self._for(trial).before_trial(study, trial)

    def infer_relative_search_space(
        self, study: Study, trial: FrozenTrial
    ) -> dict[str, BaseDistribution]:
        return self._for(trial).infer_relative_search_space(study, trial)

    def sample_relative(
        self,
        study: Study,
        trial: FrozenTrial,
        search_space: dict[str, BaseDistribution],
    ) -> dict[str, Any]:
        return self._for(trial).sample_relative(study, trial, search_space)

    def sample_independent(
        self,
        study: Study,
        trial: FrozenTrial,
        param_name: str,
        param_distribution: BaseDistribution,
    ) -> Any:
        return self._for(trial).sample_independent(
            study, trial, param_name, param_distribution
        )

    def after_trial(
        self,
        study: Study,
        trial: FrozenTrial,
        state: TrialState,
        values: Sequence[float] | None,
    ) -> None:
        inner = self._inner.pop(trial.number, None) or self._make(
            trial_seed(self._seed, trial.number)
        )
        inner.after_trial(study, trial, state, values)

    def reseed_rng(self) -> None:
        pass  # the seed is the trial number's, by design
