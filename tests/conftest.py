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
        # One pass over the training pairs (a few optimizer steps), not the default epoch of
        # 100 steps: the tests check the pipeline, not the model's quality.
        "trainer.epochs=1",
        "trainer.validation_every_steps=null",
        "trainer.batch_size=128",
        f"tracking.uri=sqlite:///{tmp_path}/mlruns/mlflow.db",
        f"tracking.artifact_location={tmp_path}/mlruns/artifacts",
        f"paths.output_dir={tmp_path}/outputs",
        # The MLflow models (keras flavour, pyfunc matcher) cost seconds per run; the tests
        # of the models themselves (test_train_e2e, test_serving) switch them back on.
        "tracking.log_model=false",
    ]


@pytest.fixture
def compose_cfg():
    """compose_cfg(overrides) -> the composed train.yaml, as train.py would see it."""
    from hydra import compose, initialize_config_dir

    def _compose(overrides: list[str]):
        with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
            return compose(config_name="train", overrides=overrides)

    return _compose


# A small valid CSV data set (20 x 20 records, 20 matches), shared by the bad-input and stage tests.
def write(path, text, encoding="utf-8"):
    path.write_bytes(text.encode(encoding))
    return path


NAMES = ["anna", "bob", "carla", "dieter", "emma", "fritz", "greta", "hans", "ida", "jan",
         "karl", "lena", "max", "nina", "otto", "paula", "quirin", "rosa", "sven", "tina"]
CITIES = ["berlin", "paris", "rome", "oslo", "lyon"]


def table(prefix, names):
    rows = [f"{prefix}{i},{n},{CITIES[i % 5]}" for i, n in enumerate(names)]
    return "id,name,city\n" + "\n".join(rows) + "\n"


@pytest.fixture
def tables(tmp_path):
    """A small valid CSV data set (20 x 20 records, 20 matches); each case breaks one thing."""
    d = tmp_path / "data"
    d.mkdir()
    write(d / "left.csv", table("l", NAMES))
    write(d / "right.csv", table("r", [n[:-1] + "x" if i % 3 else n for i, n in enumerate(NAMES)]))
    write(d / "matches.csv", "id_l,id_r\n" + "".join(f"l{i},r{i}\n" for i in range(len(NAMES))))
    return d


def csv_overrides(d, **changes):
    base = {
        "data": "csv",
        "similarity": "csv",
        "data.left": str(d / "left.csv"),
        "data.right": str(d / "right.csv"),
        "data.matches": str(d / "matches.csv"),
        "data.matches_id_left": "id_l",
        "data.matches_id_right": "id_r",
        "similarity.map": "{name: [jaro_winkler], city: [exact]}",
        # A hand-written map alone (csv's default infers one from the tables: tested elsewhere).
        "similarity.auto": "false",
    }
    base.update(changes)
    return [f"{k}={v}" for k, v in base.items()]


def load_script(relative: str):
    """A script of the checkout that is not a package module (``bench/x.py``, ``pipelines/y.py``), imported."""
    import importlib.util

    path = ROOT / relative
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
