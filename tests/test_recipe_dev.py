"""bench/recipe_dev.py: the validation figures of a run, and the gradient-boosting reference scored the same way."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import load_script

from lossmatch.training import SplitData


def _script():
    return load_script("bench/recipe_dev.py")


def test_validation_figures_take_the_best_cut_on_validation_itself():
    # y = 0 0 1 1, p = 0.1 0.6 0.4 0.9. Cuts: 0.9 -> tp 1 fp 0 fn 1, F1 2/3; 0.6 -> tp 1 fp 1 fn 1,
    # F1 1/2; 0.4 -> tp 2 fp 1, P 2/3 R 1, F1 0.8; 0.1 -> P 1/2 R 1, F1 2/3. The best is 0.8.
    figures = _script().validation_figures([0, 0, 1, 1], [0.1, 0.6, 0.4, 0.9], "max_f1")
    assert figures["val_best_f1"] == pytest.approx(0.8)
    assert set(figures) == {"val_best_f1", "val_half_f1", "val_half_rule_f1"}


def _split(rng, n: int) -> SplitData:
    y = (np.arange(n) % 5 == 0).astype(np.float32)  # one match in five
    # Feature 0 is the label plus noise below 0.3: a threshold separates the classes; feature 1 is noise.
    X = np.column_stack([y + 0.3 * rng.random(n), rng.random(n)]).astype(np.float32)
    return SplitData(pd.DataFrame({"left": range(n), "right": range(n)}), X, y)


def test_reference_row_scores_the_boosted_trees_like_a_variant(capsys):
    rng = np.random.default_rng(0)
    splits = {"train": _split(rng, 200), "val": _split(rng, 100), "test": _split(rng, 100)}
    row = _script().reference_run("Tiny", splits, seed=1, hide_test=True)
    # Separable on feature 0: the trees rank every match first and every cut rule finds it.
    assert row["variant"] == "reference_hgb" and row["set"] == "Tiny"
    assert row["val_pr_auc"] == pytest.approx(1.0) and row["val_f1"] == pytest.approx(1.0)
    assert row["val_half_f1"] == pytest.approx(1.0) and row["val_half_rule_f1"] == pytest.approx(1.0)
    printed = capsys.readouterr().out
    assert "reference_hgb" in printed and "test F1" not in printed  # --hide-test keeps test out of sight
