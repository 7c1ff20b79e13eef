"""A toy task for the sweeper's tests: a quadratic in x and y, plus switches for each scenario.

Run as ``python my_app.py -m [overrides]``; it knows nothing of lossmatch (and imports no TensorFlow).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import hydra
import optuna
from omegaconf import DictConfig

from hydra_plugins.lossmatch_optuna_sweeper import current_trial


def _wait_for(path: Path, timeout: float = 120.0) -> None:
    end = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > end:
            raise TimeoutError(f"{path} did not appear")
        time.sleep(0.05)


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def main(cfg: DictConfig) -> float:
    trial = current_trial()
    number = -1 if trial is None else trial.number
    value = (cfg.x - 1.0) ** 2 + (cfg.y + 0.5) ** 2
    if cfg.record_dir:
        Path(cfg.record_dir).mkdir(parents=True, exist_ok=True)
        Path(cfg.record_dir, f"{os.getpid()}-{number}.txt").write_text(
            f"{cfg.x} {cfg.y}\n"
        )
    if (
        cfg.barrier_dir
    ):  # every process's first job waits until barrier_count processes got here
        barrier = Path(cfg.barrier_dir)
        barrier.mkdir(parents=True, exist_ok=True)
        (barrier / str(os.getpid())).touch()
        end = time.monotonic() + 120
        while (
            len(list(barrier.iterdir())) < cfg.barrier_count and time.monotonic() < end
        ):
            time.sleep(0.05)
    if cfg.block_on_trial is not None and number == cfg.block_on_trial:
        Path(cfg.block_dir, f"started-{number}").touch()
        _wait_for(Path(cfg.block_dir, "release"), timeout=600)
    if cfg.sleep:
        time.sleep(cfg.sleep)
    if cfg.fail_always or (
        cfg.fail_on_trial is not None and number == cfg.fail_on_trial
    ):
        raise ValueError(f"toy failure in trial {number} at x={cfg.x:.3f}")
    if cfg.exit_on_trial is not None and number == cfg.exit_on_trial:
        sys.exit(3)
    if cfg.return_nan:
        return float("nan")
    if cfg.curve and trial is not None:
        # Trial 0 reports a good curve; later trials a far worse one, which a median pruner
        # with one start-up trial prunes at the first step.
        for step in range(5):
            trial.report(1.0 if number == 0 else 100.0 + number, step)
            if trial.should_prune():
                raise optuna.TrialPruned()
    if trial is not None:
        trial.set_user_attr("test_score", round(1.0 / (1.0 + value), 6))
    if cfg.mlflow_uri and trial is not None:
        import mlflow

        mlflow.set_tracking_uri(cfg.mlflow_uri)
        mlflow.set_experiment(cfg.mlflow_experiment)
        with mlflow.start_run(
            parent_run_id=trial.mlflow_parent_run_id,
            nested=True,
            tags=trial.mlflow_tags(),
        ) as run:
            trial.set_user_attr("mlflow_run_id", run.info.run_id)
            mlflow.log_metric("objective", value)
    return value


if __name__ == "__main__":
    main()
