"""The full FEBRL4 targets of the default run (slow: deselected by default, `pytest -m slow`)."""

import os
import subprocess
import sys
import time

import pytest
from conftest import ROOT


@pytest.mark.slow
def test_combined_loss_on_full_febrl4_meets_targets(compose_cfg, tmp_path):
    import json

    env = {**os.environ, "PROJECT_ROOT": str(ROOT)}
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, str(ROOT / "train.py"), "loss=combined", f"hydra.run.dir={tmp_path}/run",
         f"tracking.uri=sqlite:///{tmp_path}/mlruns/mlflow.db", f"tracking.artifact_location={tmp_path}/mlruns/artifacts"],
        capture_output=True, text=True, env=env, timeout=600,
    )
    wall = time.perf_counter() - start
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert result["blocking"]["pair_completeness"] >= 0.998
    assert result["test"]["f1"] >= 0.995
    print(f"full FEBRL4 combined: {wall:.1f} s wall, test F1 {result['test']['f1']:.4f}")
