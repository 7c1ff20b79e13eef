"""The task's side: ``current_trial()`` gives a job its own Optuna trial, or None outside a sweep.

How a job finds its trial, whatever the launcher:

* the sweeper adds ``hydra.job.env_set`` entries to each job: ``LOSSMATCH_OPTUNA_TRIAL`` (the
  trial number), ``LOSSMATCH_OPTUNA_STUDY`` (study name) and, with MLflow,
  ``LOSSMATCH_OPTUNA_MLFLOW_PARENT_RUN_ID``; Hydra sets them while the job runs (and saves them
  in the job's ``.hydra/hydra.yaml``: nothing secret goes there);
* the storage URL, which may hold a password, is not saved: the sweeper process puts it in its
  own environment (``LOSSMATCH_OPTUNA_STORAGE``), which jobs in the same process and the worker
  processes it starts (joblib, submitit) inherit; a job that has no such variable (Ray on another
  machine) falls back to ``hydra.sweeper.storage`` of its own config, e.g. ``${oc.env:...}``;
* a job in the sweeper's process (basic launcher) gets the sweeper's own trial object, so even an
  in-memory study works.

This module imports Optuna only when a trial is asked for: Hydra imports plugin packages in
every run.
"""

from __future__ import annotations

import os
from typing import Any

ENV_TRIAL = "LOSSMATCH_OPTUNA_TRIAL"
ENV_STUDY = "LOSSMATCH_OPTUNA_STUDY"
ENV_PARENT_RUN = "LOSSMATCH_OPTUNA_MLFLOW_PARENT_RUN_ID"
ENV_STORAGE = "LOSSMATCH_OPTUNA_STORAGE"
ENV_TRACKING_URI = "LOSSMATCH_OPTUNA_MLFLOW_TRACKING_URI"

# Trials run by a sweeper in this process, by (study name, number): the basic launcher's jobs.
_LIVE: dict[tuple[str, int], Any] = {}
# Trials opened from storage in this process (worker processes), reused across calls.
_OPENED: dict[tuple[str, int, str], Any] = {}


class SweepTrial:
    """A job's handle on its Optuna trial.

    ``report(value, step)`` and ``should_prune()`` drive pruning (raise ``optuna.TrialPruned``
    when it says so); ``set_user_attr`` records figures that are not the objective (e.g.
    ``test_f1``, ``mlflow_run_id``: the sweeper tags that MLflow run with the trial's final
    state). ``mlflow_parent_run_id`` and ``mlflow_tags()`` nest the task's MLflow run under the
    sweep's parent run.
    """

    def __init__(
        self, trial: Any, study_name: str, mlflow_parent_run_id: str | None
    ) -> None:
        self._trial = trial
        self.study_name = study_name
        self.mlflow_parent_run_id = mlflow_parent_run_id

    @property
    def number(self) -> int:
        return self._trial.number

    @property
    def params(self) -> dict[str, Any]:
        return dict(self._trial.params)

    @property
    def optuna_trial(self) -> Any:
        """The ``optuna.trial.Trial`` itself, e.g. for Optuna's own integration callbacks."""
        return self._trial

    def report(self, value: float, step: int) -> None:
        self._trial.report(float(value), int(step))

    def should_prune(self) -> bool:
        return bool(self._trial.should_prune())

    def set_user_attr(self, key: str, value: Any) -> None:
        self._trial.set_user_attr(key, value)

    def mlflow_tags(self) -> dict[str, str]:
        """Tags for the task's MLflow run: nesting under the sweep and the trial's identity."""
        tags = {
            "optuna.study_name": self.study_name,
            "optuna.trial_number": str(self.number),
        }
        if self.mlflow_parent_run_id:
            tags["mlflow.parentRunId"] = self.mlflow_parent_run_id
        return tags

    def __repr__(self) -> str:
        return f"SweepTrial(study_name={self.study_name!r}, number={self.number})"


def current_trial() -> SweepTrial | None:
    """This job's trial when it runs inside a sweep of this plugin, else None."""
    number = os.environ.get(ENV_TRIAL, "")
    study_name = os.environ.get(ENV_STUDY, "")
    if not number.lstrip("-").isdigit() or int(number) < 0 or not study_name:
        return None
    number_int = int(number)
    parent = os.environ.get(ENV_PARENT_RUN) or None
    live = _LIVE.get((study_name, number_int))
    if live is not None:
        return SweepTrial(live, study_name, parent)
    storage_url = os.environ.get(ENV_STORAGE) or _storage_from_job_config()
    key = (study_name, number_int, storage_url or "")
    if key not in _OPENED:
        _OPENED[key] = _open_trial(study_name, number_int, storage_url)
    return SweepTrial(_OPENED[key], study_name, parent)


def _job_sweeper_config() -> Any:
    from hydra.core.hydra_config import HydraConfig

    return HydraConfig.get().sweeper if HydraConfig.initialized() else None


def _storage_from_job_config() -> str | None:
    sweeper = _job_sweeper_config()
    return None if sweeper is None else sweeper.get("storage")


def _open_trial(study_name: str, number: int, storage_url: str | None) -> Any:
    import optuna
    from hydra.utils import instantiate

    from ._storage import open_storage, parse_storage, study_trial_id

    spec = parse_storage(storage_url)
    if not spec.shareable:
        raise RuntimeError(
            f"trial {number} of study {study_name!r} runs outside the sweeper's process but the study is "
            "in memory: set hydra.sweeper.storage (a journal file or a database)"
        )
    storage = open_storage(spec)
    sweeper = _job_sweeper_config()
    pruner = (
        instantiate(sweeper.pruner)
        if sweeper is not None and sweeper.get("pruner")
        else None
    )
    study = optuna.load_study(study_name=study_name, storage=storage, pruner=pruner)
    return optuna.trial.Trial(study, study_trial_id(storage, study_name, number))
