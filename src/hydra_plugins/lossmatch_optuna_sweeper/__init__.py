"""lossmatch's Hydra sweeper on current Optuna: ``hydra/sweeper=lossmatch_optuna``.

Generic (it knows nothing of lossmatch): it optimises the number that the task function returns.
A task reaches its own trial with ``current_trial()`` (None outside a sweep)::

    from hydra_plugins.lossmatch_optuna_sweeper import current_trial

    trial = current_trial()
    if trial is not None:
        trial.report(val_f1, step=epoch)
        if trial.should_prune():
            raise optuna.TrialPruned()

See ``docs/sweeps.md``.
"""

from ._current_trial import SweepTrial, current_trial

__version__ = "0.1.0"
__all__ = ["SweepTrial", "current_trial"]
