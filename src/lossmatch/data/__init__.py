"""Data sources: each turns one kind of input into a :class:`MatchingData`.

Pick one with the Hydra config group ``data`` (``conf/data/<name>.yaml`` names the
class by ``_target_``); ``hydra.utils.instantiate(cfg.data).load()`` gives the data.
"""

from lossmatch.data.base import MatchingData
from lossmatch.data.csv import CsvSource
from lossmatch.data.deepmatcher import DeepMatcherSource
from lossmatch.data.febrl4 import Febrl4Source
from lossmatch.data.synthetic import SyntheticSource

__all__ = ["CsvSource", "DeepMatcherSource", "Febrl4Source", "MatchingData", "SyntheticSource"]
