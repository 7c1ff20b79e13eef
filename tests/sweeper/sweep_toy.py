"""Run the toy task (my_app.py) as a Hydra multirun in a subprocess, as a user would; read its study."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

APP = Path(__file__).with_name("my_app.py")


def app_command(sweep_dir: Path, overrides: list[str]) -> list[str]:
    return [sys.executable, str(APP), "-m", f"hydra.sweep.dir={sweep_dir}", *overrides]


def app_env(extra: dict | None = None) -> dict:
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "HYDRA_FULL_ERROR": "0"}
    env.update(extra or {})
    return env


def run_app(
    sweep_dir: Path, *overrides: str, env: dict | None = None, timeout: float = 180
) -> subprocess.CompletedProcess:
    return subprocess.run(
        app_command(sweep_dir, list(overrides)),
        capture_output=True,
        text=True,
        timeout=timeout,
        env=app_env(env),
        cwd=sweep_dir.parent,
    )


def start_app(
    sweep_dir: Path, *overrides: str, env: dict | None = None
) -> subprocess.Popen:
    return subprocess.Popen(
        app_command(sweep_dir, list(overrides)),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=app_env(env),
        cwd=sweep_dir.parent,
        start_new_session=True,  # its own process group: a kill reaches the sweeper and its jobs
    )


def load_study(storage: str, name: str = "toy"):
    import optuna

    return optuna.load_study(study_name=name, storage=storage)


def states(study) -> dict:
    """{state name: count} over the study's trials."""
    counts: dict = {}
    for trial in study.get_trials(deepcopy=False):
        counts[trial.state.name] = counts.get(trial.state.name, 0) + 1
    return counts


def journal(path: Path):
    """The Optuna storage object of a journal file (what journal:///path opens)."""
    import optuna

    return optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(str(path))
    )
