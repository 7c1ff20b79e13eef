"""Durations, dates and placeholder words: what similarity=auto makes of the benchmark sets' other formats."""

from __future__ import annotations

import math
import sys

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import load_script, tiny_overrides

from lossmatch.errors import InputError
from lossmatch.similarity import SimilarityMap
from lossmatch.similarity.auto import infer_map, profile_columns
from lossmatch.similarity.formats import has_digit, to_days, to_seconds

SIDES = ["missing_left", "missing_right"]
# 1970-01-01 .. 2013-01-01: 43 years of which 11 leap years (1972, 1976, ..., 2012) = 43 * 365 + 11.
JAN_1_2013 = 15706
# + January..September 2013 (31+28+31+30+31+30+31+31+30 = 273 days) + 20 days.
OCT_21_2013 = JAN_1_2013 + 273 + 20


def test_has_digit_is_any_isdigit_on_every_code_point():
    # The C scan stands for any(ch.isdigit() for ch in text): the same answer on every character
    # ("²" and "①" are digits to isdigit, not to regex's \d; "½" and "三" are numeric, not digits).
    every = [chr(c) for c in range(sys.maxunicode + 1)]
    assert [has_digit(c) for c in every] == [c.isdigit() for c in every]
    assert (has_digit("x²"), has_digit("① y"), has_digit("½ 三"), has_digit(""), has_digit("a" * 5000 + "7")) == (
        True, True, False, False, True)


def test_durations_in_seconds():
    # m:ss = 3 * 60 + 45; h:mm:ss = 3600 + 2 * 60 + 3; spaces around the colons as in tokenised text.
    assert [to_seconds(t) for t in ("3:45", "1:02:03", "3 : 45", "0:07")] == [225.0, 3723.0, 225.0, 7.0]
    # Seconds or minutes beyond 59, a plain number, a date, text and blank are not durations.
    for text in ("3:75", "1:60:00", "345", "3.45", "21-oct-13", "album only", ""):
        assert math.isnan(to_seconds(text)), text


def test_dates_in_days_in_any_spelling():
    spellings = ["21-oct-13", "21-Oct-2013", "October 21, 2013", "october 21 , 2013", "2013-10-21", "10/21/2013"]
    assert [to_days(t) for t in spellings] == [OCT_21_2013] * len(spellings)
    # A year alone is its first of January; the epoch is day 0 and the day before it -1.
    assert (to_days("2013"), to_days("1970-01-01"), to_days("31-dec-69")) == (JAN_1_2013, 0.0, -1.0)
    # Two-digit years on a fixed pivot, not relative to today: 68 is 2068, 69 is 1969.
    # 1970 .. 2068: 98 years, of which 24 leap years (1972 .. 2064) = 98 * 365 + 24 = 35794; 1969-01-01 = -365.
    assert (to_days("1-jan-68"), to_days("1-jan-69")) == (35794.0, -365.0)
    # No year in the text (dateutil would take it from today), a year dateutil over-reads, a
    # duration, prices and words are not dates.
    for text in ("may", "10-12", "jan 5", "106", "3:45", "$ 1.29", "4.00 %", "sigmod conference", "album only", ""):
        assert math.isnan(to_days(text)), text


def _songs_like_tables() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Ten records a side with one column per format (values differ between the sides as two stores differ)."""
    minutes = [f"{3 + i % 3}:{10 + i:02d}" for i in range(10)]  # 3:10, 4:11, 5:12, 3:13, ...
    left = pd.DataFrame({
        "id": range(10),
        "time": minutes,
        "released": [f"{1 + i}-oct-13" for i in range(10)],
        # "$ 1.29" has a space; 3 of 10 are the placeholder "album only" (70 % numbers: < 80 %).
        "price": ["album only"] * 3 + ["$ 1.29"] * 4 + ["$ 0.99"] * 3,
        "year": [str(1990 + i) for i in range(10)],
        # Half numbers, and four distinct words: text that holds numbers, not placeholders.
        "rooms": ["2", "3", "4", "5", "6", "one", "two", "three", "four", "4"],
    })
    right = pd.DataFrame({
        "id": range(10),
        "time": minutes,
        "released": [f"october {1 + i} , 2013" for i in range(8)] + ["2013", None],
        "price": ["$ 1.29"] * 5 + ["$ 0.99"] * 5,
        "year": [str(1990 + i) for i in range(10)],
        "rooms": ["2", "3", "4", "5", "6", "7", "8", "9", "one", "two"],
    })
    return left, right


def test_profiles_read_durations_dates_placeholders_and_years():
    left, right = _songs_like_tables()
    got = {p.column: (p.kind, p.parse) for p in profile_columns(left, right, ignore=["id"])}
    assert got == {"time": ("numeric", "duration"), "released": ("numeric", "date"),
                   "price": ("numeric", "number"), "year": ("numeric", "number"), "rooms": ("code", None)}
    profiles = {p.column: p for p in profile_columns(left, right, ignore=["id"])}
    # price: 3 "album only" of 20 values, 17 numbers = 0.85, numeric by the 80 % rule ("$ 1.29"
    # with its space is a number); the left side alone is numeric by the placeholder rule (below).
    assert profiles["price"].numeric_share == 0.85
    # rooms: 6 + 8 = 14 numbers of 20 (0.7 >= 0.5) but four distinct words > 3 placeholders:
    # short values with digits, a code as before.
    assert profiles["rooms"].numeric_share == 0.7
    # The dates' spread, in days: 19 values, oct 1..10 twice but for one 2013 (day 15706 = oct 1 - 273)
    # and one missing; scale is half the IQR of those 19 days.
    days = [OCT_21_2013 - 20 + i for i in range(10)] + [OCT_21_2013 - 20 + i for i in range(8)] + [JAN_1_2013]
    q1, q3 = np.percentile(days, [25, 75])
    assert profiles["released"].scale == float(f"{(q3 - q1) / 2:.3g}")


def test_placeholder_words_keep_a_price_column_numeric():
    left, right = _songs_like_tables()
    # On the left side alone: 7 numbers of 10 (0.7 < 0.8), the other three one spelling.
    (price,) = profile_columns(left[["price"]], left[["price"]])
    assert (price.numeric_share, price.kind, price.parse) == (0.7, "numeric", "number")
    # Four distinct words among as many numbers are more than 3 placeholders: not numeric.
    words = pd.DataFrame({"price": ["1", "2", "3", "4", "a", "b", "c", "d"]})
    (price,) = profile_columns(words, words)
    assert (price.numeric_share, price.kind) == (0.5, "code")
    # Three distinct words at exactly half numbers: numeric (both bounds inclusive).
    words = pd.DataFrame({"price": ["1", "2", "3", "a", "b", "c"]})
    assert profile_columns(words, words)[0].kind == "numeric"


def test_inferred_entries_read_durations_and_dates():
    left, right = _songs_like_tables()
    spec = infer_map(left, right, ignore=["id"])
    time_scale = next(p.scale for p in profile_columns(left, right, ignore=["id"]) if p.column == "time")
    date_scale = next(p.scale for p in profile_columns(left, right, ignore=["id"]) if p.column == "released")
    # Durations: the numeric entries read in seconds, plus "the same give or take one second".
    assert spec["time"] == ["exact", "levenshtein", {"name": "numeric_abs", "parse": "duration"},
                            {"name": "gaussian", "scale": time_scale, "parse": "duration"},
                            {"name": "gaussian", "scale": 1, "parse": "duration"}] + SIDES
    # Dates: no value spelt the same on both sides (no exact), no relative difference (a date has no zero).
    assert spec["released"] == ["levenshtein", {"name": "gaussian", "scale": date_scale, "parse": "date"},
                                {"name": "gaussian", "scale": 1, "parse": "date"}] + SIDES
    # Plain numbers keep their entries unchanged (no parse parameter).
    assert spec["year"] == ["exact", "levenshtein", "numeric_abs", {"name": "gaussian", "scale": 2.5}] + SIDES
    # It is an ordinary map: it survives YAML and computes.
    sm = SimilarityMap(yaml.safe_load(yaml.safe_dump(spec)))
    assert sm == SimilarityMap(spec)
    assert sm.transform(left, right, np.arange(10), np.arange(10)).shape == (10, len(sm.feature_names))


def test_parsed_similarity_values():
    left = pd.DataFrame({"t": ["3:45", "3:45", "album only", "21-oct-13", "0:00"]})
    right = pd.DataFrame({"t": ["3:30", "3:46", "3:45", "october 22 , 2013", "0:00"]})
    sm = SimilarityMap({"t": [{"name": "numeric_abs", "parse": "duration"},
                              {"name": "gaussian", "scale": 1, "parse": "duration"},
                              {"name": "gaussian", "scale": 1, "parse": "date"}]})
    X = sm.transform(left, right, np.arange(5), np.arange(5))
    names = sm.feature_names
    assert names == ["t~t:numeric_abs(parse=duration)", "t~t:gaussian(parse=duration,scale=1)",
                     "t~t:gaussian(parse=date,scale=1)", "t~t:missing"]
    # numeric_abs: 225 vs 210 s -> 1 - 15/225; 225 vs 226 -> 1 - 1/226; "album only" reads as
    # nothing -> 0 and missing; dates are no durations -> 0; 0 vs 0 -> 1.
    np.testing.assert_allclose(X[:, 0], [1 - 15 / 225, 1 - 1 / 226, 0, 0, 1], rtol=1e-6)
    # gaussian of scale 1 second: exp(-15^2/2) ~ 0, exp(-1/2) for one second apart.
    np.testing.assert_allclose(X[:, 1], [math.exp(-112.5), math.exp(-0.5), 0, 0, 1], rtol=1e-6, atol=1e-30)
    # gaussian of scale 1 day: one day apart -> exp(-1/2); the durations are no dates -> 0.
    np.testing.assert_allclose(X[:, 2], [0, 0, 0, math.exp(-0.5), 0], rtol=1e-6)
    # Missing: any entry whose value does not parse for it (pair 2: "album only"; pairs 0, 1, 3, 4:
    # each fails one of the parsers) raises the pair's indicator.
    assert X[:, 3].tolist() == [1, 1, 1, 1, 1]


def test_an_unknown_parser_is_one_input_error():
    for entry in ({"name": "numeric_abs", "parse": "weeks"}, {"name": "gaussian", "scale": 1, "parse": 3}):
        with pytest.raises(InputError, match="parse must be one of number, duration, date") as err:
            SimilarityMap({"t": [entry]})
        assert "\n" not in str(err.value)


def _format_sets():
    return load_script("bench/format_sets.py")


def test_generated_song_set_is_read_as_intended():
    tables = _format_sets().make_set("songs", entities=40, seed=3)
    kinds = {p.column: (p.kind, p.parse) for p in profile_columns(tables["tableA"], tables["tableB"], ignore=["id"])}
    assert kinds == {"Song_Name": ("text", None), "Artist_Name": ("text", None), "Album_Name": ("text", None),
                     "Genre": ("text", None), "Price": ("numeric", "number"), "CopyRight": ("text", None),
                     "Time": ("numeric", "duration"), "Released": ("numeric", "date")}
    # Every entity (40 songs and their later versions) has one record a side and its match
    # labelled, with one to three non-matches (two hard draws may coincide).
    n = len(tables["tableA"])
    assert n == len(tables["tableB"]) > 40
    pairs = pd.concat([tables[s] for s in ("train", "valid", "test")])
    assert pairs["label"].sum() == n and n * 2 <= len(pairs) <= n * 4
    assert not pairs.duplicated(["ltable_id", "rtable_id"]).any()


def test_recipe_runs_on_a_tiny_generated_song_set(tmp_path, compose_cfg):
    from lossmatch.pipeline import train

    directory = _format_sets().write_set("songs", tmp_path / "sets", entities=40, seed=0)
    tiny = [o for o in tiny_overrides(tmp_path) if not o.startswith("data.sample=")]
    cfg = compose_cfg(["experiment=benchmark", f"data.path={directory}", *tiny, "trainer.max_steps=5",
                       "trainer.min_steps=0", "model.members=2", "trainer.verbose=0"])
    out = tmp_path / "run"
    result = train(cfg, output_dir=out)
    assert 0.0 <= result["test"]["f1"] <= 1.0
    # The run's map (as exported beside the model) reads Time in seconds and Released in days.
    spec = yaml.safe_load((out / "export" / "similarity_map.yaml").read_text())
    spec = spec.get("map", spec)
    assert {"name": "numeric_abs", "parse": "duration"} in spec["Time"]
    assert {"name": "gaussian", "scale": 1, "parse": "date"} in spec["Released"]


def test_long_text_columns_are_not_tried_as_dates(monkeypatch):
    # A column of long texts (mean words > FORMAT_MAX_WORDS) never reaches the date parser,
    # which costs milliseconds a value on long text with digits; short date columns still do.
    import pandas as pd

    from lossmatch.similarity import auto, formats

    calls = []
    original = auto.PARSERS["date"]
    monkeypatch.setitem(auto.PARSERS, "date", lambda text: calls.append(text) or original(text))
    long_text = pd.Series([f"founded in {1900 + i} the company makes {i} kinds of widgets for many markets" for i in range(5)])
    assert {p.column: p.kind for p in auto.profile_columns(long_text.to_frame("about"), long_text.to_frame("about"))} == {"about": "text"}
    assert calls == []
    dates = pd.Series(["21-oct-13", "october 22 , 2013", "2013-10-23"])
    profile = auto.profile_columns(dates.to_frame("released"), dates.to_frame("released"))[0]
    assert (profile.kind, profile.parse) == ("numeric", "date") and calls
    assert formats.to_days("21-oct-13") == 15999.0
