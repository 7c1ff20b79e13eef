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


def test_good_input_passes():
    # None of the helpers complains about sound input.
    check_columns(TABLE, ["id", "name"], "t.csv")
    check_columns(TABLE, "id", "t.csv")
    check_unique_ids(TABLE, "id", "t.csv")
    check_not_empty(TABLE, "t.csv")
    m = pd.DataFrame({"l": ["1", "3"], "r": ["2", "2"]})
    check_matches_known(m, "l", "r", TABLE["id"], TABLE["id"], "m.csv")


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
