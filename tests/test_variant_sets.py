"""bench/variant_sets.py: dirty and textual versions of a DeepMatcher-format set, pairs unchanged."""

from __future__ import annotations

import pandas as pd
from conftest import load_script


def _script():
    return load_script("bench/variant_sets.py")


def _tiny_set(path):
    path.mkdir()
    n = 200
    for table, offset in (("tableA.csv", 0), ("tableB.csv", 1000)):
        pd.DataFrame({"id": range(n), "title": [f"item {i + offset}" for i in range(n)],
                      "brand": [f"brand{i % 7}" for i in range(n)], "price": [float(i) for i in range(n)]},
                     ).to_csv(path / table, index=False)
    for split, rows in (("train", [(0, 0, 1), (1, 2, 0)]), ("valid", [(3, 3, 1)]), ("test", [(4, 5, 0)])):
        pd.DataFrame(rows, columns=["ltable_id", "rtable_id", "label"]).to_csv(path / f"{split}.csv", index=False)
    return path


def test_dirty_and_textual_versions_keep_every_value_and_the_official_pairs(tmp_path):
    source = _tiny_set(tmp_path / "Structured-Tiny")
    script = _script()
    dirty = script.write_variant(source, "dirty", tmp_path / "out", seed=0)
    textual = script.write_variant(source, "textual", tmp_path / "out")
    assert (dirty.name, textual.name) == ("Dirty-Tiny", "Textual-Tiny")
    for target in (dirty, textual):
        for pairs in script.PAIR_FILES:  # the official splits, byte for byte
            assert (target / pairs).read_bytes() == (source / pairs).read_bytes()
    before, after = pd.read_csv(source / "tableA.csv"), pd.read_csv(dirty / "tableA.csv")
    for column in ("brand", "price"):
        moved = after[column].isna()
        # About half of each non-title attribute moved (200 values, probability 0.5: 75..125 is > 99.9 %).
        assert 75 <= moved.sum() <= 125
        # A moved value now ends the title (brand, then price: the title is extended in column order).
        tokens = before.loc[moved, column].astype(str)
        assert all(t in title.split() for t, title in zip(tokens, after.loc[moved, "title"], strict=True))
        # The values that stayed are unchanged.
        assert (after.loc[~moved, column].astype(str) == before.loc[~moved, column].astype(str)).all()
    text = pd.read_csv(textual / "tableB.csv")
    assert list(text.columns) == ["id", "text"] and text.loc[3, "text"] == "item 1003 brand3 3.0"
