"""A run inside a sweep of lossmatch's Optuna sweeper (``hparams_search=<loss>_optuna``).

The sweeper plugin (``hydra_plugins.lossmatch_optuna_sweeper``) is generic; this module is
the task's side of it: nest the run's MLflow run under the sweep's parent run, report
validation F1 per epoch for pruning, record the run id and the test F1 on the trial (shown
by the sweep's summary, never optimised). Outside a sweep every function here does nothing.
"""

from __future__ import annotations


def current_trial():
    """The running job's trial, or None (no sweep, or the plugin is not installed)."""
    try:
        from hydra_plugins.lossmatch_optuna_sweeper import current_trial as plugin_trial
    except ImportError:
        return None
    return plugin_trial()


def run_options(trial) -> dict:
    """``tracking.mlflow_run`` options: nested under the sweep's parent run, tagged with the trial."""
    if trial is None:
        return {}
    return {"parent_run_id": trial.mlflow_parent_run_id, "tags": trial.mlflow_tags()}


def identity(trial) -> dict:
    """``run_naming.run_identity`` options: the study and trial tags of a sweep's run."""
    return {} if trial is None else {"study": trial.study_name, "trial": trial.number}


def record(trial, **attrs) -> None:
    """Figures of this run on the trial (``test_f1`` is recorded, never optimised)."""
    if trial is not None:
        for key, value in attrs.items():
            trial.set_user_attr(key, value)


def pruning(trial) -> list:
    """The Keras callback that reports validation F1 per epoch to the trial ([] outside a sweep)."""
    if trial is None:
        return []
    from lossmatch.callbacks import TrialPruning

    return [TrialPruning(trial)]


def stop_if_pruned(callbacks) -> None:
    """Raise ``optuna.TrialPruned`` if the pruner stopped the fit (the MLflow run ends KILLED)."""
    for cb in callbacks:
        if getattr(cb, "pruned_at", None) is not None:
            import optuna

            raise optuna.TrialPruned(f"pruned after epoch {cb.pruned_at}: validation F1 below the median of earlier trials")
