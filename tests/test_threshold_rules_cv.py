"""bench/threshold_rules_cv.py: 3:1:1 re-splits of train + valid, the sealed test split, the rule table."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from conftest import load_script

from lossmatch.data.deepmatcher import DeepMatcherSource
from lossmatch.errors import InputError


@pytest.fixture(scope="module")
def cv():
    return load_script("bench/threshold_rules_cv.py")


NAMES = ["anna", "bob", "carla", "dieter", "emma", "fritz", "greta", "hans", "ida", "jan", "karl", "lena",
         "max", "nina", "otto", "paula", "quirin", "rosa", "sven", "tina", "uwe", "vera", "willi", "xaver",
         "yvonne", "zora", "arne", "berta", "cem", "dora"]


def tiny_deepmatcher(root, *, duplicate=False):
    """30 records a side (record i of A matches record i of B); train + valid: 10 + 5 matches, 30 + 15
    non-matches (i, i+1) and (i, i+2); test: 5 matches and 5 non-matches (i, i+3), none of them in
    train or valid. ``duplicate``: pair (0, 0) is listed once more in valid, as DBLP-ACM lists some."""
    root.mkdir()
    pd.DataFrame({"id": range(30), "name": NAMES}).to_csv(root / "tableA.csv", index=False)
    pd.DataFrame({"id": range(30), "name": [n + "a" if i % 2 else n for i, n in enumerate(NAMES)]}).to_csv(
        root / "tableB.csv", index=False)

    def pairs(left, right, label):
        return pd.DataFrame({"ltable_id": left, "rtable_id": right, "label": label})

    ids = np.arange(30)
    train = pd.concat([pairs(ids[:10], ids[:10], 1), pairs(ids[:20], ids[:20] + 1, 0),
                       pairs(ids[:10], ids[:10] + 2, 0)])
    valid = pd.concat([pairs(ids[10:15], ids[10:15], 1), pairs(ids[20:29], ids[20:29] + 1, 0),
                       pairs(ids[10:16], ids[10:16] + 2, 0)])
    if duplicate:
        valid = pd.concat([valid, pairs([0], [0], 1)])
    test = pd.concat([pairs(ids[25:30], ids[25:30], 1), pairs(ids[:5], ids[:5] + 3, 0)])
    for name, frame in {"train.csv": train, "valid.csv": valid, "test.csv": test}.items():
        frame.to_csv(root / name, index=False)
    return root


def rows_of(frame: pd.DataFrame) -> list[tuple]:
    return sorted(map(tuple, frame[["ltable_id", "rtable_id", "label"]].astype(str).to_numpy()))


def test_resplit_is_3_1_1_stratified_disjoint_and_covers_the_pool(cv, tmp_path):
    pool = cv.read_pool(tiny_deepmatcher(tmp_path / "set"))
    # 15 matches and 45 non-matches in train + valid; 3:1:1 of each is 9/3/3 and 27/9/9.
    assert (len(pool), int(pool["label"].sum())) == (60, 15)
    parts = cv.resplit(pool, seed=1)
    labels = pool["label"].to_numpy()
    assert {s: (len(p), int(labels[p].sum())) for s, p in parts.items()} == {
        "train": (36, 9), "val": (12, 3), "test": (12, 3)}
    # Every row of the pool is in exactly one part.
    assert np.array_equal(np.sort(np.concatenate(list(parts.values()))), np.arange(60))


def test_resplit_is_deterministic_per_seed(cv, tmp_path):
    pool = cv.read_pool(tiny_deepmatcher(tmp_path / "set"))
    first, again, other = cv.resplit(pool, 1), cv.resplit(pool, 1), cv.resplit(pool, 2)
    assert all(np.array_equal(first[s], again[s]) for s in first)
    # Another seed draws another split (the same on every machine: scikit-learn's seeded shuffle).
    assert not np.array_equal(first["test"], other["test"])


def test_a_pair_listed_twice_goes_whole_into_one_part(cv, tmp_path):
    pool = cv.read_pool(tiny_deepmatcher(tmp_path / "set", duplicate=True))
    twice = np.flatnonzero((pool["ltable_id"] == "0") & (pool["rtable_id"] == "0"))
    assert len(twice) == 2
    for seed in range(1, 6):
        parts = cv.resplit(pool, seed)
        # Both rows of pair (0, 0) sit in the same part: it is never chosen on and scored at once.
        assert sum(np.isin(twice, p).all() for p in parts.values()) == 1


def test_written_resplit_loads_and_holds_no_row_of_the_original_test_split(cv, tmp_path):
    original = tiny_deepmatcher(tmp_path / "set")
    test_rows = set(rows_of(pd.read_csv(original / "test.csv")))
    with cv.sealed([original / "test.csv"]):
        pool = cv.read_pool(original)
        target = cv.write_resplit(original, pool, cv.resplit(pool, 3), tmp_path / "out" / "set-r3")
    written = {s: pd.read_csv(target / f) for s, f in (("train", "train.csv"), ("val", "valid.csv"),
                                                       ("test", "test.csv"))}
    # The three written files are the pool, row for row, and none holds a row of the original test.csv.
    assert sorted(sum((rows_of(f) for f in written.values()), [])) == rows_of(pool)
    assert not test_rows & set(sum((rows_of(f) for f in written.values()), []))
    assert [len(written[s]) for s in ("train", "val", "test")] == [36, 12, 12]
    # It is a DeepMatcher directory the recipe's data source reads: the same tables, the new splits.
    data = DeepMatcherSource(path=str(target)).load()
    assert {s: len(p) for s, p in data.labelled_pairs.items()} == {"train": 36, "val": 12, "test": 12}
    assert data.left["name"].tolist() == NAMES


def test_a_sealed_test_split_cannot_be_opened_by_any_path(cv, tmp_path):
    original = tiny_deepmatcher(tmp_path / "set")
    (tmp_path / "link.csv").symlink_to(original / "test.csv")
    with cv.sealed([original / "test.csv"]):
        with pytest.raises(cv.TestSplitRead, match="test.csv"):
            pd.read_csv(original / "test.csv")
        # Through a link, and by Python's own open, too.
        with pytest.raises(cv.TestSplitRead):
            open(tmp_path / "link.csv").close()
        # The other files of the directory stay readable.
        assert len(pd.read_csv(original / "valid.csv")) == 20
    # Once the block ends the file is an ordinary file again.
    assert len(pd.read_csv(original / "test.csv")) == 10


def test_the_run_refuses_a_training_that_opens_the_test_split(cv, tmp_path, monkeypatch):
    original = tiny_deepmatcher(tmp_path / "set")

    def peeking(directory, seed, cache, overrides=()):
        pd.read_csv(original / "test.csv")  # what the estimate must never do

    monkeypatch.setattr(cv, "train_once", peeking)
    with pytest.raises(cv.TestSplitRead):
        cv.main([str(original), "--repeats", "1", "--out", str(tmp_path / "out")])


def test_rule_rows_choose_on_valid_and_score_on_test(cv):
    # Valid (metrics' doctest pairs): the max-F1 cut is 0.3 (F1 6/7, see best_f1_threshold), the
    # half-best-F1 cut 3/7 = 0.4286; at 3/7 valid predicts 0.6, 0.7, 0.9: tp 2, fp 1, fn 1, F1 4/6.
    y_val, p_val = [0, 0, 1, 1, 1, 0], [0.1, 0.6, 0.7, 0.4, 0.9, 0.2]
    # Test: at 0.3 predicted 0.35, 0.8, 0.5: tp 2, fp 1, fn 0, F1 4/5; at 3/7 predicted 0.8, 0.5:
    # tp 1, fp 1, fn 1, F1 2/4. Test's own best cut predicts the same three as 0.3: F1 4/5.
    y_test, p_test = [1, 1, 0, 0], [0.35, 0.8, 0.5, 0.1]
    rows = {r["rule"]: r for r in cv.rule_rows(y_val, p_val, y_test, p_test, ["max_f1", "half_best_f1"])}
    assert rows["max_f1"]["threshold"] == pytest.approx(0.3)
    assert rows["half_best_f1"]["threshold"] == pytest.approx(3 / 7)
    assert (rows["max_f1"]["val_f1"], rows["half_best_f1"]["val_f1"]) == pytest.approx((6 / 7, 4 / 6))
    assert (rows["max_f1"]["test_f1"], rows["half_best_f1"]["test_f1"]) == pytest.approx((4 / 5, 2 / 4))
    assert rows["half_best_f1"]["test_precision"] == rows["half_best_f1"]["test_recall"] == pytest.approx(0.5)
    assert rows["max_f1"]["test_best_f1"] == rows["half_best_f1"]["test_best_f1"] == pytest.approx(4 / 5)


def test_summarise_means_pooled_positives_and_paired_wins(cv):
    runs = pd.DataFrame([
        # set A: max_f1 0.8, 0.6; half 0.7, 0.7 -> means 0.7 / 0.7; differences +0.1, -0.1.
        ("A", 1, "max_f1", 0.8, 5, 0.9), ("A", 1, "half_best_f1", 0.7, 5, 0.9),
        ("A", 2, "max_f1", 0.6, 6, 0.8), ("A", 2, "half_best_f1", 0.7, 6, 0.8),
        # set B: max_f1 0.5, 0.5; half 0.9, 0.5 -> means 0.5 / 0.7; differences -0.4, 0.
        ("B", 1, "max_f1", 0.5, 3, 1.0), ("B", 1, "half_best_f1", 0.9, 3, 1.0),
        ("B", 2, "max_f1", 0.5, 4, 0.6), ("B", 2, "half_best_f1", 0.5, 4, 0.6),
    ], columns=["set", "repeat", "rule", "test_f1", "test_positives", "test_best_f1"])
    per_set, per_rule, paired = cv.summarise(runs)
    a_max = per_set[(per_set["set"] == "A") & (per_set["rule"] == "max_f1")].iloc[0]
    # mean 0.7, sample sd sqrt(((0.1)^2 + (0.1)^2) / 1) = 0.1414; positives 5 + 6; ceiling (0.9 + 0.8) / 2.
    assert (a_max["test_f1"], a_max["sd"], a_max["test_positives"], a_max["ceiling"]) == pytest.approx(
        (0.7, math.sqrt(0.02), 11, 0.85))
    # Mean over sets: max_f1 (0.7 + 0.5) / 2 = 0.6, half_best_f1 (0.7 + 0.7) / 2 = 0.7.
    assert dict(zip(per_rule["rule"], per_rule["test_f1"])) == pytest.approx({"max_f1": 0.6, "half_best_f1": 0.7})
    by_set = paired.set_index("set")
    assert by_set.loc["A", "mean"] == pytest.approx(0.0)
    assert by_set.loc["B", "mean"] == pytest.approx(-0.2)
    assert by_set.loc["A", ["max_f1 wins", "half_best_f1 wins", "ties"]].tolist() == [1, 1, 0]
    assert by_set.loc["B", ["max_f1 wins", "half_best_f1 wins", "ties"]].tolist() == [0, 1, 1]


def test_bad_input_is_refused_in_one_line(cv, tmp_path):
    original = tiny_deepmatcher(tmp_path / "set")
    with pytest.raises(InputError, match="--rules: expected some of max_f1, half_best_f1, got 'mean'"):
        cv.main([str(original), "--rules", "mean"])
    pd.DataFrame({"ltable_id": [0], "rtable_id": [0], "label": [2]}).to_csv(original / "valid.csv", index=False)
    with pytest.raises(InputError, match=r"valid.csv: column 'label' must be 0 or 1, got '2'"):
        cv.read_pool(original)
    # Four matches cannot fill five stratified folds.
    few = pd.DataFrame({"ltable_id": [str(i) for i in range(20)], "rtable_id": [str(i) for i in range(20)],
                        "label": [1] * 4 + [0] * 16})
    with pytest.raises(InputError, match="4 matches among 20 pairs"):
        cv.resplit(few, 1)


def test_one_short_training_per_repeat_gives_the_rule_table(cv, tmp_path, capsys):
    original = tiny_deepmatcher(tmp_path / "set")
    out = tmp_path / "out"
    # The real stages on the tiny set, a short budget; the original test.csv stays sealed throughout.
    assert cv.main([str(original), "--repeats", "1", "--out", str(out), "trainer.min_steps=0",
                    "trainer.max_steps=20", "trainer.validation_every_steps=10", "model.members=2"]) == 0
    runs = pd.read_csv(out / "threshold_rules_cv.csv")
    assert runs["rule"].tolist() == ["max_f1", "half_best_f1"]  # one repeat, each rule
    assert runs["test_positives"].tolist() == [3, 3]
    # No rule passes the F1 at pseudo-test's own best cut.
    assert (runs["test_f1"] <= runs["test_best_f1"] + 1e-12).all()
    printed = capsys.readouterr().out
    assert "set repeat 1: trained in" in printed and "Paired differences over repeats:" in printed
