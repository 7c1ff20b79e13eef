"""similarity=auto with columns that only one table fills (issue 11): left out of the per-attribute
features with one warning line, kept in the whole records, and a clear error when nothing is comparable."""

from __future__ import annotations

import logging

import pandas as pd
import pytest
from conftest import NAMES, csv_overrides, table, tiny_overrides, write

from lossmatch.config import validate
from lossmatch.errors import InputError
from lossmatch.similarity import SimilarityMap
from lossmatch.similarity.auto import infer_map
from lossmatch.stages.prepare import prepare

AUTO_LOGGER = "lossmatch.similarity.auto"
ONE_SIDED = ["token_overlap", "code_overlap"]


def _warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == AUTO_LOGGER and r.levelno == logging.WARNING]


def test_a_column_empty_or_absent_on_one_side_is_left_out_with_one_line(caplog):
    # tableB's price is all missing, and only tableB has a shop column.
    left = pd.DataFrame({"id": [1, 2, 3], "title": ["red pen 2", "blue ink", "green cap"], "price": ["3", "4", "5"]})
    right = pd.DataFrame({"id": [7, 8, 9], "title": ["red pen", "ink blue", "cap green"], "price": [None, "", None],
                          "shop": ["acme", "acme", "bolt"]})
    with caplog.at_level(logging.WARNING, logger=AUTO_LOGGER):
        spec = infer_map(left, right, ignore=["id"])
    # No per-attribute entry for either; each side's values are found in the other side's record.
    assert "price" not in spec and "shop" not in spec
    assert spec["price~*"] == ONE_SIDED and spec["*~shop"] == ONE_SIDED
    # The records hold them: left = title + price, right = title + shop (the only columns named per side).
    sm = SimilarityMap(spec)
    assert (sm.left_columns, sm.right_columns) == (["title", "price"], ["title", "shop"])
    X = sm.transform(left, right, [0, 1, 2], [0, 1, 2])
    assert X.shape == (3, len(sm.feature_names))
    # One line names both columns and why.
    (line,) = _warnings(caplog)
    assert "\n" not in line
    assert "'price' is empty in the right table" in line and "'shop' is only in the right table" in line


def test_a_column_empty_in_both_tables_is_named_and_gets_no_entry(caplog):
    left = pd.DataFrame({"title": ["red pen", "blue ink"], "notes": [None, None]})
    right = pd.DataFrame({"title": ["red pen", "ink blue"], "notes": ["", None]})
    with caplog.at_level(logging.WARNING, logger=AUTO_LOGGER):
        spec = infer_map(left, right)
    assert not any("notes" in key for key in spec)
    assert "'notes' is empty in both tables" in _warnings(caplog)[0]


LONG = "a fast quiet printer for the home office with duplex printing wireless network and a large paper tray {}"
TEXT = ["jaro_winkler", "levenshtein", "token_sort_ratio", "token_set_ratio", "partial_ratio", "token_jaccard",
        "token_overlap", "tfidf_word", "tfidf_char", "length_ratio", "missing_left", "missing_right"]


def test_the_map_of_tables_that_fill_every_column_is_the_one_main_inferred(caplog):
    left = pd.DataFrame({
        "id": range(5),
        "title": ["hp laserjet pro", "canon pixma mg", "epson workforce", "brother hl printer", "samsung xpress"],
        "brand": ["hp", None, None, None, None],
        "price": ["199.99", "89.00", "$149", "120", "99.5"],
        "model": ["M404n", "MG3620", "WF-2830", "HL-L2350DW", "M2020W"],
        "desc": [LONG.format(i) for i in range(5)],
    })
    right = pd.DataFrame({
        "id": range(5),
        "title": ["laserjet pro hp", "pixma mg canon", "workforce epson", "hl printer brother", "xpress samsung"],
        "brand": ["hp", "canon", None, None, None],
        "price": ["189.99", "89", "150.00", "115", ""],
        "model": ["m404n", "mg-3620", "wf2830", "HL-L2350DW", "SL-M2020W"],
        "desc": [LONG.format(i + 1) for i in range(5)],
    })
    with caplog.at_level(logging.WARNING, logger=AUTO_LOGGER):
        spec = infer_map(left, right, ignore=["id"])
    # Recorded from main before issue 11 (commit 34c399c) on these tables: every column has values on
    # both sides, so nothing is left out and nothing is logged.
    # Key order is feature order: compared as a list.
    assert list(spec.items()) == list({
        "title": TEXT,  # no title on both sides: no 'exact'
        "brand": ["exact", "jaro_winkler", "token_set_ratio", "missing_left", "missing_right"],  # 80 % missing
        # Sorted prices 89, 89, 99.5, 115, 120, 149, 150, 189.99, 199.99: quartiles 99.5 and 150, scale 25.2.
        "price": ["levenshtein", "numeric_abs", {"name": "gaussian", "scale": 25.2}, "missing_left", "missing_right"],
        "model": ["exact", "levenshtein", "jaro_winkler", "partial_ratio", "code_jaccard", "code_overlap",
                  "tfidf_char", "length_ratio", "missing_left", "missing_right"],
        "desc": ["exact", *TEXT],  # 19 words a value: text, not long; "... tray 1" .. "tray 4" on both sides
        **{key: ["token_overlap"] for column in ("title", "brand", "price", "model", "desc")
           for key in (f"{column}~*", f"*~{column}")},
        "*": [{"name": "tfidf_word", "context": True}, {"name": "tfidf_char", "context": True}, "token_set_ratio",
              "token_jaccard", "token_overlap", "code_jaccard", "code_overlap", "code_disjoint", "length_ratio"],
    }.items())
    assert _warnings(caplog) == []


@pytest.mark.parametrize(("left", "right", "words"), [
    # The left table's only attribute is empty, the right has another one: main inferred
    # {"*~title": ..., "*~b": ...}, whose left record has no column (a confusing error later).
    ({"title": [None, None]}, {"title": ["a", "b"], "b": ["x", "y"]},
     "the left table (a.csv) has no column with values ('title' is empty in the left table (a.csv), "
     "'b' is only in the right table (b.csv))"),
    ({"a": ["x", "y"]}, {"a": ["", None]},
     "the right table (b.csv) has no column with values ('a' is empty in the right table (b.csv))"),
    ({"a": [None, None]}, {"b": [None, None]},
     "the left table (a.csv) and the right table (b.csv) have no column with values ('a' is only in the left "
     "table (a.csv), and empty there, 'b' is only in the right table (b.csv), and empty there)"),
])
def test_a_table_with_no_column_with_values_is_one_clear_input_error(left, right, words):
    with pytest.raises(InputError) as err:
        infer_map(pd.DataFrame(left), pd.DataFrame(right), names=("left table (a.csv)", "right table (b.csv)"))
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith("similarity=auto: nothing can be compared, " + words + "; expected at least one "
                              "column with values in each table, best one of the same name in both.")


def test_tables_without_a_shared_column_name_compare_whole_records_and_say_how_to_pair(caplog):
    left = pd.DataFrame({"id": [1, 2], "name": ["ann lee", "bo chan"], "city": ["oslo", "rome"]})
    right = pd.DataFrame({"id": [3, 4], "full_name": ["lee ann", "chan bo"], "town": ["oslo", "roma"]})
    with caplog.at_level(logging.WARNING, logger=AUTO_LOGGER):
        spec = infer_map(left, right, ignore=["id"])
    # As main inferred (and docs/your-data.md shows): each side's values in the other record, and the records.
    assert list(spec)[:4] == ["name~*", "city~*", "*~full_name", "*~town"] and spec["name~*"] == ONE_SIDED
    assert spec["*"][0] == {"name": "tfidf_word", "context": True}
    (line,) = _warnings(caplog)
    assert "'name' is only in the left table" in line and "'town' is only in the right table" in line
    assert line.endswith("No column is compared by name: pair columns in similarity.map, e.g. "
                         "'name~full_name: [token_set_ratio]'.")


# ----------------------------------------------------------------------------- the run, on CSV files


def _csv_tables(tmp_path, right_rows: str):
    d = tmp_path / "data"
    d.mkdir()
    write(d / "left.csv", table("l", NAMES))
    write(d / "right.csv", "id,name,city\n" + right_rows)
    write(d / "matches.csv", "id_l,id_r\n" + "".join(f"l{i},r{i}\n" for i in range(len(NAMES))))
    return d


def _auto_config(compose_cfg, d, tmp_path):
    overrides = [o for o in csv_overrides(d) if not o.startswith(("similarity.map=", "similarity.auto="))]
    return validate(compose_cfg([*overrides, "similarity=auto", *tiny_overrides(tmp_path)[1:]]))


def test_a_run_on_tables_whose_right_city_is_empty_compares_names_only(compose_cfg, tmp_path, caplog):
    # right.csv: every city is missing.
    d = _csv_tables(tmp_path, "".join(f"r{i},{n}," + "\n" for i, n in enumerate(NAMES)))
    with caplog.at_level(logging.WARNING, logger=AUTO_LOGGER):
        prepared = prepare(_auto_config(compose_cfg, d, tmp_path))
    spec = prepared.training.similarity_map.to_dict()
    assert "name" in spec and "*" in spec and "city" not in spec and spec["city~*"] == ONE_SIDED
    (line,) = _warnings(caplog)
    # The table is named by its file.
    assert "'city' is empty in the right table (" in line and "right.csv)" in line


def test_a_run_on_tables_with_no_comparable_column_stops_before_training(compose_cfg, tmp_path):
    # right.csv: names and cities all missing.
    d = _csv_tables(tmp_path, "".join(f"r{i},,\n" for i in range(len(NAMES))))
    with pytest.raises(InputError, match=r"nothing can be compared, the right table \(.*right\.csv\) has no column "
                                         r"with values \('name' is empty in the right table"):
        prepare(_auto_config(compose_cfg, d, tmp_path))
