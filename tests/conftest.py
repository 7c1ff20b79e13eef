"""Shared fixtures: the real Hydra config, shrunk to tiny data and one epoch."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CONF = ROOT / "conf"
# The Magellan benchmark copies sit beside the repository (../shared/data/magellan);
# LOSSMATCH_MAGELLAN points the tests at another copy. Tests that need them skip, naming both.
MAGELLAN = Path(os.environ.get("LOSSMATCH_MAGELLAN") or ROOT.parent / "shared" / "data" / "magellan")
MAGELLAN_MISSING = f"Magellan benchmark copies not found at {MAGELLAN} (set LOSSMATCH_MAGELLAN to their folder)"

os.environ.setdefault("PROJECT_ROOT", str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def tiny_overrides(tmp_path: Path) -> list[str]:
    """One epoch on a small FEBRL4 sample, tracked into a throw-away store."""
    return [
        "data.sample=300",
        "trainer.epochs=1",
        "trainer.batch_size=128",
        f"tracking.uri=sqlite:///{tmp_path}/mlruns/mlflow.db",
        f"tracking.artifact_location={tmp_path}/mlruns/artifacts",
        f"paths.output_dir={tmp_path}/outputs",
    ]


@pytest.fixture
def compose_cfg():
    """compose_cfg(overrides) -> the composed train.yaml, as train.py would see it."""
    from hydra import compose, initialize_config_dir

    def _compose(overrides: list[str]):
        with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
            return compose(config_name="train", overrides=overrides)

    return _compose
