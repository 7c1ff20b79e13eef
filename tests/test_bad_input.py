"""Bad input ends the run before training with one clear line, and leaves no MLflow run behind."""

from __future__ import annotations

import pytest
from conftest import NAMES, csv_overrides, table, tiny_overrides, write

from lossmatch.errors import InputError
from lossmatch.pipeline import train

# (case, how to break the input, words the one-line message must contain)
CASES = [
    ("missing file", lambda d: {"data.left": str(d / "nope.csv")}, ["data.left", "nope.csv", "not found"]),
    ("missing id column", lambda d: {"data.id_left": "key"}, ["key", "left.csv"]),
    ("missing compared column", lambda d: {"similarity.map": "{surname: [jaro_winkler]}"}, ["surname", "left table", "left.csv"]),
    (
        "duplicate ids",
        lambda d: (write(d / "left.csv", table("l", NAMES).replace("l1,", "l0,")), {})[1],
        ["duplicate", "l0"],
    ),
    (
        "unknown match ids",
        lambda d: (write(d / "matches.csv", "id_l,id_r\nl1,r1\nl98,r2\nl99,zz\n"), {})[1],
        ["l98", "l99", "matches"],
    ),
    ("empty table", lambda d: (write(d / "right.csv", "id,name,city\n"), {})[1], ["right.csv", "no rows"]),
    (
        "not utf-8",
        lambda d: (write(d / "left.csv", table("l", ["jürgen", *NAMES[1:]]), "latin-1"), {})[1],
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
    cfg = compose_cfg([*csv_overrides(tables, **changes), *tiny_overrides(tmp_path)])
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
    cfg = compose_cfg([*csv_overrides(tables), *tiny_overrides(tmp_path)[1:]])
    result = train(cfg, output_dir=tmp_path / "run")
    # Full blocking proposes every pair, so each of the 20 known matches is a positive of exactly one split.
    assert sum(result[s]["tp"] + result[s]["fn"] for s in ("train", "val", "test")) == len(NAMES)
    assert result["blocking"]["pair_completeness"] == 1.0
    # Split 0.2 / 0.2 by entity: round(20 * 0.2) = 4 entities in test, so 4 x 4 = 16 candidate
    # pairs of which 4 are matches.
    test = result["test"]
    assert test["tp"] + test["fn"] == 4
    assert test["tp"] + test["fp"] + test["tn"] + test["fn"] == 16
