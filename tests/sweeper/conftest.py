"""Fixtures of the sweeper tests."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def _migrated_mlflow_db(tmp_path_factory) -> Path:
    """An empty MLflow SQLite store with its schema created once (MLflow's migrations take ~15 s)."""
    from mlflow.tracking import MlflowClient

    path = tmp_path_factory.mktemp("mlflow-template") / "mlflow.db"
    MlflowClient(f"sqlite:///{path}").search_experiments()
    return path


@pytest.fixture
def mlflow_db(_migrated_mlflow_db, tmp_path) -> Path:
    """A fresh copy of the migrated store in this test's directory."""
    path = tmp_path / "mlflow.db"
    shutil.copy2(_migrated_mlflow_db, path)
    return path
