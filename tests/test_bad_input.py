"""Bad input ends the run before training with one clear line, and leaves no MLflow run behind."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from conftest import ROOT, tiny_overrides

from lossmatch.errors import InputError
from lossmatch.training import train


def _write(path, text, encoding="utf-8"):
    path.write_bytes(text.encode(encoding))
    return path


NAMES = ["anna", "bob", "carla", "dieter", "emma", "fritz", "greta", "hans", "ida", "jan",
         "karl", "lena", "max", "nina", "otto", "paula", "quirin", "rosa", "sven", "tina"]
CITIES = ["berlin", "paris", "rome", "oslo", "lyon"]


def _table(prefix, names):
    rows = [f"{prefix}{i},{n},{CITIES[i % 5]}" for i, n in enumerate(names)]
    return "id,name,city\n" + "\n".join(rows) + "\n"


@pytest.fixture
def tables(tmp_path):
    """A small valid CSV data set (20 x 20 records, 20 matches); each case breaks one thing."""
    d = tmp_path / "data"
    d.mkdir()
    _write(d / "left.csv", _table("l", NAMES))
    _write(d / "right.csv", _table("r", [n[:-1] + "x" if i % 3 else n for i, n in enumerate(NAMES)]))
    _write(d / "matches.csv", "id_l,id_r\n" + "".join(f"l{i},r{i}\n" for i in range(len(NAMES))))
    return d


def _csv_overrides(d, **changes):
    base = {
        "data": "csv",
        "similarity": "csv",
        "data.left": str(d / "left.csv"),
        "data.right": str(d / "right.csv"),
        "data.matches": str(d / "matches.csv"),
        "data.matches_id_left": "id_l",
        "data.matches_id_right": "id_r",
        "similarity.map": "{name: [jaro_winkler], city: [exact]}",
    }
    base.update(changes)
    return [f"{k}={v}" for k, v in base.items()]


# (case, how to break the input, words the one-line message must contain)
CASES = [
    ("missing file", lambda d: {"data.left": str(d / "nope.csv")}, ["data.left", "nope.csv", "not found"]),
    ("missing id column", lambda d: {"data.id_left": "key"}, ["key", "left.csv"]),
    ("missing compared column", lambda d: {"similarity.map": "{surname: [jaro_winkler]}"}, ["surname", "left table", "left.csv"]),
    (
        "duplicate ids",
        lambda d: (_write(d / "left.csv", _table("l", NAMES).replace("l1,", "l0,")), {})[1],
        ["duplicate", "l0"],
    ),
    (
        "unknown match ids",
        lambda d: (_write(d / "matches.csv", "id_l,id_r\nl1,r1\nl98,r2\nl99,zz\n"), {})[1],
        ["l98", "l99", "matches"],
    ),
    ("empty table", lambda d: (_write(d / "right.csv", "id,name,city\n"), {})[1], ["right.csv", "no rows"]),
    (
        "not utf-8",
        lambda d: (_write(d / "left.csv", _table("l", ["jürgen", *NAMES[1:]]), "latin-1"), {})[1],
        ["left.csv", "UTF-8", "data.encoding"],
    ),
    ("loss parameter out of range", lambda d: {"loss": "focal", "loss.alpha": "1.5"}, ["alpha", "1.5", "[0, 1]"]),
    ("combined weight out of range", lambda d: {"loss": "combined", "loss.weight_f1": "-0.1"}, ["weight_f1", "-0.1"]),
    ("blocking too coarse", lambda d: {"max_candidate_pairs": "50"}, ["max_candidate_pairs=50", "400"]),
    ("bad class weight", lambda d: {"trainer.class_weight": "{0: -1, 1: 1}"}, ["trainer.class_weight", "-1"]),
]


@pytest.mark.parametrize("case,breaker,words", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_one_clear_error_before_training(case, breaker, words, tables, compose_cfg, tmp_path):
    changes = breaker(tables)
    cfg = compose_cfg([*_csv_overrides(tables, **changes), *tiny_overrides(tmp_path)])
    with pytest.raises(InputError) as info:
        train(cfg, output_dir=tmp_path / "run")
    message = str(info.value)
    assert "\n" not in message, message
    for word in words:
        assert word.lower() in message.lower(), (word, message)
    # Nothing was tracked or exported: the store was never opened, the run dir holds no export.
    assert not (tmp_path / "mlruns" / "mlflow.db").exists()
    assert not (tmp_path / "run" / "export").exists()


def test_the_valid_tables_do_train(tables, compose_cfg, tmp_path):
    """The fixture itself is good: only the breakage above makes the cases fail."""
    cfg = compose_cfg([*_csv_overrides(tables), *tiny_overrides(tmp_path)[1:]])
    test = train(cfg, output_dir=tmp_path / "run")["test"]
    # 20 one-to-one matches, full blocking, split 0.2 / 0.2 by entity: round(20 * 0.2) = 4
    # entities in test, so 4 x 4 = 16 candidate pairs of which 4 are matches.
    assert test["tp"] + test["fn"] == 4
    assert test["tp"] + test["fp"] + test["tn"] + test["fn"] == 16


def _run_train(args, tmp_path):
    env = {**os.environ, "PROJECT_ROOT": str(ROOT)}
    env.pop("HYDRA_FULL_ERROR", None)
    return subprocess.run(
        [sys.executable, str(ROOT / "train.py"), *args, *tiny_overrides(tmp_path), f"hydra.run.dir={tmp_path}/hydra"],
        capture_output=True, text=True, env=env, timeout=300,
    )


def test_command_line_error_is_one_line_without_traceback(tmp_path):
    proc = _run_train(["loss=focal", "loss.alpha=1.5"], tmp_path)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    # The whole message, on a line of its own: which setting, which parameter, range and value.
    assert "lossmatch: error: loss=focal: focal_loss: alpha must be a number in [0, 1], got 1.5" in proc.stderr.splitlines()
    # Refused before any tracking: no store was created.
    assert not (tmp_path / "mlruns" / "mlflow.db").exists()


def test_unknown_loss_lists_the_known_ones(tmp_path):
    proc = _run_train(["loss=nope"], tmp_path)
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    # The unknown name and every loss of conf/loss/ are named, not only a few.
    assert "nope" in proc.stderr
    for known in sorted(p.stem for p in (ROOT / "conf" / "loss").glob("*.yaml")):
        assert known in proc.stderr, known
    assert not (tmp_path / "mlruns" / "mlflow.db").exists()
