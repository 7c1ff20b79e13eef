"""Split by entity: no leakage across splits, matches kept whole, seeded."""

import numpy as np
import pandas as pd
import pytest

from lossmatch.data.split import assign_pairs, split_by_entity
from lossmatch.errors import InputError

# 200 left, 300 right. Entities with matches: 1-1 pairs, one left matched to two
# rights (0 -> 0, 1), and a chain (5-5, 6-5, 6-6) that joins four records.
N_LEFT, N_RIGHT = 200, 300
MATCHES = pd.DataFrame(
    {
        "left": [0, 0, 5, 6, 6] + list(range(10, 100)),
        "right": [0, 1, 5, 5, 6] + list(range(10, 100)),
    }
)


def splits(seed=0, fractions=None):
    return split_by_entity(N_LEFT, N_RIGHT, MATCHES, fractions or {"val": 0.2, "test": 0.2}, seed=seed)


def test_every_record_gets_a_split_and_matches_stay_together():
    ls, rs = splits()
    # Unmatched records are kept: every row has a label.
    assert len(ls) == N_LEFT and len(rs) == N_RIGHT
    assert set(ls) | set(rs) == {"train", "val", "test"}
    # Both ends of every match lie in the same split, chains included.
    assert (ls[MATCHES["left"]] == rs[MATCHES["right"]]).all()
    assert ls[5] == ls[6] == rs[5] == rs[6]


def test_no_record_in_two_splits():
    ls, rs = splits()
    full = pd.DataFrame([(i, j) for i in range(N_LEFT) for j in range(0, N_RIGHT, 7)], columns=["left", "right"])
    parts = assign_pairs(full, ls, rs)
    # Each record appears in the pairs of one split at most.
    for side in ("left", "right"):
        owners = pd.concat([df[[side]].assign(split=name) for name, df in parts.items()]).drop_duplicates()
        assert owners[side].is_unique
    # Cross-split pairs were dropped, same-split pairs all kept.
    same = (ls[full["left"]] == rs[full["right"]]).sum()
    assert sum(len(df) for df in parts.values()) == same
    # Every true match among the candidates lands inside one split.
    matched = MATCHES.merge(full)
    kept = pd.concat(parts.values()).merge(MATCHES)
    assert len(kept) == len(matched)


def test_reproducible_and_seed_dependent():
    a, b, c = splits(1), splits(1), splits(2)
    assert (a[0] == b[0]).all() and (a[1] == b[1]).all()
    assert (a[0] != c[0]).any()


def test_fractions_roughly_respected():
    ls, rs = splits(fractions={"val": 0.1, "test": 0.3})
    labels = np.concatenate([ls, rs])
    share = {s: (labels == s).mean() for s in ("train", "val", "test")}
    # Entities are 1-4 records, so record shares are close to entity shares.
    assert share["val"] == pytest.approx(0.1, abs=0.03)
    assert share["test"] == pytest.approx(0.3, abs=0.03)
    # Stratified: the 93 matched entities are cut in proportion too (~28 in test).
    test_matches = (ls[MATCHES["left"]] == "test").sum()
    assert 20 <= test_matches <= 36


@pytest.mark.parametrize(
    "fractions, expected",
    [
        ({"val": 0.5, "test": 0.5}, "below 1"),
        ({"val": -0.1, "test": 0.2}, "data.split.val"),
        ({"val": 0.2, "test": 1.5}, "data.split.test"),
        ({"val": 0.2, "test": "x"}, "data.split.test"),
        ({"val": 0.2, "test": 0.2, "train": 0.6}, "unknown keys"),
    ],
)
def test_bad_fractions(fractions, expected):
    with pytest.raises(InputError, match=expected.replace(".", r"\.")):
        split_by_entity(3, 3, MATCHES.iloc[:0], fractions)
