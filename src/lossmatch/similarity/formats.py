"""Values that are numbers in another spelling: durations ("3:45") and dates ("21-oct-13", "october 21 , 2013").

The numeric similarities (``numeric_abs``, ``gaussian``) take a ``parse`` parameter that names
how a value becomes a number: ``number`` (a plain number, the default), ``duration`` (seconds)
or ``date`` (days since 1970-01-01). Two stores that spell one release date "21-oct-13" and
"october 21 , 2013" then agree to the day, where string similarities see two different texts.
``similarity=auto`` picks the parser a column's values fit (see ``auto.py``).

Each parser returns NaN for a value it cannot read, which the map counts as missing.
"""

from __future__ import annotations

import datetime as dt
import math
import re

from dateutil import parser as _dateutil

__all__ = ["to_days", "to_seconds"]

# m:ss or h:mm:ss (spaces around the colons allowed: tokenised text writes "3 : 45").
_DURATION = re.compile(r"^(\d{1,3})\s*:\s*([0-5]\d)(?:\s*:\s*([0-5]\d))?$")
# Dates outside these years are not release or publication dates but something dateutil
# over-reads (a "106" as the year 106).
_YEARS = (1000, 2999)
_EPOCH = dt.datetime(1970, 1, 1)
# Fields a date leaves out come from here; year 1 marks "no year in the text" (see to_days).
_DEFAULT = dt.datetime(1, 1, 1)


class _FixedPivot(_dateutil.parserinfo):
    """Two-digit years the POSIX way (69-99 -> 19xx, 00-68 -> 20xx), not relative to today.

    dateutil's own rule puts a two-digit year within 50 years of the current year, so one value
    could parse differently next year: features must not depend on the day they are computed.
    """

    def convertyear(self, year: int, century_specified: bool = False) -> int:
        if year < 100 and not century_specified:
            return year + (1900 if year >= 69 else 2000)
        return year


_PARSER = _dateutil.parser(_FixedPivot())


# Decimal digits (Unicode category Nd), every one of them a digit to str.isdigit.
_DECIMAL = re.compile(r"\d")


def has_digit(text: str) -> bool:
    """``any(ch.isdigit() for ch in text)``, with C scans: that Python test per character took most
    of the column profile on texts of thousands of words (DeepMatcher's Company)."""
    if _DECIMAL.search(text) is not None:
        return True
    # isdigit also takes digits that are not decimal ("²", "①"), none of them ASCII.
    return not text.isascii() and any(map(str.isdigit, text))


def to_seconds(text: str) -> float:
    """A duration "m:ss" or "h:mm:ss" in seconds; NaN for anything else ("3:45" -> 225.0)."""
    match = _DURATION.match(text)
    if match is None:
        return math.nan
    first, second, third = match.groups()
    if third is None:  # m:ss
        return float(int(first) * 60 + int(second))
    return float(int(first) * 3600 + int(second) * 60 + int(third))


def to_days(text: str) -> float:
    """A calendar date in days since 1970-01-01, read by dateutil in any common spelling; NaN otherwise.

    "21-oct-13", "October 21, 2013", "2013-10-21" and "10/21/2013" are all 15999.0 (month first
    where day and month are ambiguous, dateutil's default). A date must name its year: "may" or
    "10-12" alone are not dates (dateutil would fill the year in from today). Missing month or day
    are the first ("2013" is 2013-01-01). Times of day are dropped.
    """
    if not text or not has_digit(text):
        return math.nan
    try:
        parsed = _PARSER.parse(text, default=_DEFAULT, ignoretz=True)
    except (ValueError, OverflowError):  # dateutil's ParserError is a ValueError
        return math.nan
    if not _YEARS[0] <= parsed.year <= _YEARS[1]:
        return math.nan
    return float((parsed.replace(hour=0, minute=0, second=0, microsecond=0) - _EPOCH).days)
