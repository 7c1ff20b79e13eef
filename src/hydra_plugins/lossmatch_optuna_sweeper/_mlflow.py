"""MLflow for a sweep: one parent run, each trial a nested child run (``mlflow.parentRunId``).

Everything goes through ``MlflowClient(tracking_uri)``, never the fluent ``mlflow.*`` API, so the
sweeper does not touch the active run or tracking URI of jobs running in its process.

The parent run's id is kept as the study's user attribute ``mlflow_parent_run_id``, so a resumed
sweep, or a second process on the same study, logs under the same parent. Two processes that
start the same new study at the same moment may both create a parent; both then keep the
earliest-started candidate (run id breaks ties) and delete their own, so they converge.
"""

from __future__ import annotations

import logging
import os
import tempfile
import warnings
from collections.abc import Sequence
from typing import Any

from ._storage import redact

log = logging.getLogger(__name__)

PARENT_ATTR = "mlflow_parent_run_id"
CHILD_ATTR = "mlflow_run_id"
_PARENT_TAG = "optuna.sweep_parent"
# How far apart two processes' parent runs may start and still count as a race for one study.
_RACE_WINDOW_MS = 120_000
PLOTS = ("optimization_history", "param_importances", "slice", "contour")


class SweepRuns:
    def __init__(
        self,
        tracking_uri: str,
        experiment: str | None,
        artifact_location: str | None,
        plots: Sequence[str] = PLOTS,
    ) -> None:
        from mlflow.tracking import MlflowClient

        unknown = sorted(set(plots) - set(PLOTS))
        if unknown:
            raise ValueError(
                f"hydra.sweeper.mlflow.plots: unknown {unknown}, expected some of {list(PLOTS)}"
            )
        self.plots = list(plots)
        self.tracking_uri = tracking_uri
        self.client = MlflowClient(tracking_uri=tracking_uri)
        name = experiment or "Default"
        found = self.client.get_experiment_by_name(name)
        if found is None:
            self.experiment_id = self.client.create_experiment(
                name, artifact_location=artifact_location
            )
        else:
            self.experiment_id = found.experiment_id
        self.parent_run_id: str | None = None

    def open_parent(
        self, study: Any, run_name: str | None, params: dict[str, Any], shared: bool
    ) -> str:
        """Reuse the study's parent run, or create it (and log the sweep's settings)."""
        known = study.user_attrs.get(PARENT_ATTR)
        if known and self._usable(known):
            self.parent_run_id = known
            self.client.update_run(known, status="RUNNING")
            log.info("MLflow: resuming parent run %s", known)
            return known
        tags = {_PARENT_TAG: "true", "optuna.study_name": study.study_name}
        run = self.client.create_run(
            self.experiment_id, run_name=run_name or study.study_name, tags=tags
        )
        mine = run.info.run_id
        chosen = (
            self._converge(study.study_name, mine, run.info.start_time)
            if shared
            else mine
        )
        if chosen == mine:
            for key, value in params.items():
                self.client.log_param(mine, key, _param_text(value))
            study.set_user_attr(PARENT_ATTR, mine)
        self.parent_run_id = chosen
        log.info("MLflow: parent run %s in experiment %s", chosen, self.experiment_id)
        return chosen

    def _usable(self, run_id: str) -> bool:
        try:
            return self.client.get_run(run_id).info.lifecycle_stage == "active"
        except Exception:
            return False

    def _converge(self, study_name: str, mine: str, started: int) -> str:
        found = self.client.search_runs(
            [self.experiment_id],
            filter_string=f"tags.`{_PARENT_TAG}` = 'true' and tags.`optuna.study_name` = '{study_name}'"
            f" and attributes.start_time >= {started - _RACE_WINDOW_MS}",
            max_results=50,
        )
        first = min(
            found, key=lambda r: (r.info.start_time, r.info.run_id), default=None
        )
        if first is None or first.info.run_id == mine:
            return mine
        self.client.delete_run(mine)
        return first.info.run_id

    def record_trial(
        self, trial: Any, study_name: str, inherited_child: str | None
    ) -> None:
        """Tag the task's run of this trial with its final state, or log a child run for it.

        ``inherited_child`` is the ``mlflow_run_id`` the trial carried when it started (a retry
        copies the killed attempt's attributes): that run belongs to the killed attempt.
        """
        assert self.parent_run_id is not None
        tags = {
            "optuna.study_name": study_name,
            "optuna.trial_number": str(trial.number),
            "optuna.trial_state": trial.state.name,
            "mlflow.parentRunId": self.parent_run_id,
        }
        child = trial.user_attrs.get(CHILD_ATTR)
        try:
            if child and child != inherited_child:
                run = self.client.get_run(child)
                if run.info.experiment_id != self.experiment_id:
                    log.warning(
                        "MLflow: trial %d's run %s is in experiment %s, the sweep's parent in %s: "
                        "the UI nests runs of one experiment only (set hydra.sweeper.mlflow.experiment)",
                        trial.number,
                        child,
                        run.info.experiment_id,
                        self.experiment_id,
                    )
                for key, value in tags.items():
                    self.client.set_tag(child, key, value)
                return
            # The task logged no run of its own: the sweeper logs a small one.
            run = self.client.create_run(
                self.experiment_id, run_name=f"trial {trial.number}", tags=tags
            )
            run_id = run.info.run_id
            for key, value in trial.params.items():
                self.client.log_param(run_id, key, _param_text(value))
            if trial.value is not None:
                self.client.log_metric(run_id, "objective", float(trial.value))
            if "fail_reason" in trial.user_attrs:
                self.client.set_tag(
                    run_id,
                    "optuna.fail_reason",
                    str(trial.user_attrs["fail_reason"])[:4000],
                )
            self.client.set_terminated(
                run_id,
                status="FINISHED" if trial.state.name == "COMPLETE" else "FAILED",
            )
        except Exception as err:  # MLflow trouble must not cost the study its trial
            log.warning(
                "MLflow: could not record trial %d: %s", trial.number, redact(err)
            )

    def finish(self, study: Any, status: str) -> None:
        """Best parameters and value, Optuna's plots, and the parent's end status."""
        run_id = self.parent_run_id
        assert run_id is not None
        try:
            best = _best_trial(study)
            if best is not None:
                self.client.log_metric(
                    run_id, "best_value", float(best.value), step=len(study.trials)
                )
                self.client.set_tag(
                    run_id, "optuna.best_trial_number", str(best.number)
                )
                for key, value in best.params.items():
                    self._param_or_tag(run_id, f"best.{key}", value)
            self._log_plots(study, run_id)
            self.client.set_terminated(run_id, status=status)
        except Exception as err:
            log.warning(
                "MLflow: could not finish parent run %s: %s", run_id, redact(err)
            )

    def _param_or_tag(self, run_id: str, key: str, value: Any) -> None:
        try:
            self.client.log_param(run_id, key, _param_text(value))
        except Exception:
            # Params are immutable: a study extended later (larger n_trials) has a new best.
            self.client.set_tag(run_id, key, _param_text(value))

    def _log_plots(self, study: Any, run_id: str) -> None:
        if not self.plots:
            return
        import matplotlib

        if os.environ.get(
            "MPLBACKEND"
        ) is None and not matplotlib.get_backend().lower().startswith("agg"):
            matplotlib.use("Agg")  # files only, never a window
        import matplotlib.pyplot as plt
        import optuna.visualization.matplotlib as ovm

        plots = {name: getattr(ovm, f"plot_{name}") for name in self.plots}
        with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
            warnings.simplefilter(
                "ignore"
            )  # Optuna's matplotlib plots are "experimental"
            for name, plot in plots.items():
                try:
                    axes = plot(study)
                except (
                    Exception
                ) as err:  # e.g. importances or a contour from too few trials
                    log.info("MLflow: no %s plot (%s)", name, err)
                    continue
                figure = _figure_of(axes)
                if figure is None:
                    continue
                path = os.path.join(tmp, f"{name}.png")
                figure.savefig(path, dpi=100, bbox_inches="tight")
                plt.close(figure)
                self.client.log_artifact(run_id, path, artifact_path="optuna")


def _figure_of(axes: Any) -> Any:
    if hasattr(axes, "figure"):
        return axes.figure
    try:  # plot_slice / plot_contour give an array of Axes for several parameters
        return axes.flat[0].figure
    except Exception:
        return None


def _best_trial(study: Any) -> Any:
    try:
        return study.best_trial
    except ValueError:  # no COMPLETE trial
        return None


def _param_text(value: Any) -> str:
    return str(value)[:6000]
