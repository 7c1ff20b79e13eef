"""The shared validation helpers: one clear InputError naming what is wrong."""

import pandas as pd
import pytest

from lossmatch.data.checks import (
    check_columns,
    check_matches_known,
    check_not_empty,
    check_unique_ids,
)
from lossmatch.errors import InputError

TABLE = pd.DataFrame({"id": ["1", "2", "3"], "name": ["a", "b", "c"]})


MATCHES = pd.DataFrame({"l": ["1", "3"], "r": ["2", "2"]})


@pytest.mark.parametrize(
    "good, bad",
    [
        # Each pair differs in one thing: the check passes the first and refuses the second.
        (lambda: check_columns(TABLE, ["id", "name"], "t.csv"), lambda: check_columns(TABLE, ["id", "Name"], "t.csv")),
        (lambda: check_columns(TABLE, "id", "t.csv"), lambda: check_columns(TABLE, "ids", "t.csv")),
        (
            lambda: check_unique_ids(TABLE, "id", "t.csv"),
            lambda: check_unique_ids(TABLE.assign(id=["1", "2", "1"]), "id", "t.csv"),
        ),
        (lambda: check_not_empty(TABLE.iloc[:1], "t.csv"), lambda: check_not_empty(TABLE.iloc[:0], "t.csv")),
        (
            lambda: check_matches_known(MATCHES, "l", "r", TABLE["id"], TABLE["id"], "m.csv"),
            lambda: check_matches_known(MATCHES.replace("3", "4"), "l", "r", TABLE["id"], TABLE["id"], "m.csv"),
        ),
    ],
    ids=["columns", "one_column", "unique_ids", "not_empty", "matches_known"],
)
def test_sound_input_passes_and_one_change_fails(good, bad):
    # The helpers return nothing on sound input ...
    assert good() is None
    # ... and the nearest broken input is refused, so the pass above means something.
    with pytest.raises(InputError):
        bad()


@pytest.mark.parametrize(
    "call, expected",
    [
        # missing column: names it and lists what is there
        (lambda: check_columns(TABLE, ["id", "city"], "t.csv"), ["t.csv", "'city'", "available columns: 'id', 'name'"]),
        # duplicates: count and first values
        (lambda: check_unique_ids(pd.DataFrame({"id": ["7", "7", "8", "8", "9"]}), "id", "t.csv"), ["t.csv", "2 duplicated", "'7'", "'8'"]),
        # missing ids
        (lambda: check_unique_ids(pd.DataFrame({"id": ["7", None]}), "id", "t.csv"), ["1 missing", "rows 1"]),
        (lambda: check_not_empty(TABLE.iloc[:0], "t.csv"), ["t.csv", "no rows"]),
        # unknown ids in matches: count and examples, per side
        (
            lambda: check_matches_known(
                pd.DataFrame({"l": ["1", "x", "y"], "r": ["2", "2", "2"]}), "l", "r", TABLE["id"], TABLE["id"], "m.csv"
            ),
            ["m.csv", "2 values in column 'l'", "'x'", "left table"],
        ),
        (
            lambda: check_matches_known(
                pd.DataFrame({"l": ["1"], "r": ["01"]}), "l", "r", TABLE["id"], TABLE["id"], "m.csv"
            ),
            ["'01'", "right table"],
        ),
    ],
)
def test_bad_input_raises_one_line(call, expected):
    with pytest.raises(InputError) as info:
        call()
    message = str(info.value)
    # One line, naming the place and the offending values.
    assert "\n" not in message
    for part in expected:
        assert part in message


def test_long_lists_are_truncated():
    ids = pd.DataFrame({"id": [str(i // 2) for i in range(40)]})
    with pytest.raises(InputError, match=r"20 duplicated values, e.g. '0', '1', '2', '3', '4', \.\.\."):
        check_unique_ids(ids, "id", "t.csv")
