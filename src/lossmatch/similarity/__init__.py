"""Similarity features for pairs of records: a declarative map of column pairs to similarities.

Example::

    from lossmatch.similarity import SimilarityMap
    sm = SimilarityMap({"given_name": ["jaro_winkler"], "address_1~street": ["levenshtein"]})
    X = sm.transform(left_df, right_df, left_pos, right_pos)   # float32 (n_pairs, n_features)
"""

from lossmatch.similarity import tokens  # noqa: F401 (registers the token-set similarities)
from lossmatch.similarity.functions import available_similarities
from lossmatch.similarity.io import load_similarity_map, save_similarity_map
from lossmatch.similarity.map import SimilarityMap

__all__ = ["SimilarityMap", "available_similarities", "load_similarity_map", "save_similarity_map"]
