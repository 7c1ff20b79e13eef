"""Table context: how a pair's score stands against each record's best candidates in the *whole* other table.

Unsupervised and per pair, for one vector similarity (TF-IDF cosine, token Jaccard, ...):

- ``margin_left``: the pair's score minus the best score of its left record against any *other*
  record of the right table. Positive: the right record is the left one's clear best match;
  negative: some other right record resembles the left one more.
- ``margin_right``: the same from the right record's side, against the left table.
- ``mutual_best``: 1 when each of the two records is the other's best candidate.

Every record is scored against every record of the other table (blocks of a sparse product),
never against the pairs being transformed, so a pair's features do not depend on which other
pairs are transformed with it. Scores are computed per *distinct* value: records with identical
values tie, and a record's best "other" candidate may then have its pair's own score.
The cost is O(distinct left values x distinct right values), fine up to tens of millions of cells.
"""

from __future__ import annotations

import sys

import numpy as np
import scipy.sparse as sp
from tqdm.auto import tqdm

from lossmatch.similarity.functions import ColumnValues
from lossmatch.similarity.tfidf import TableScores

__all__ = ["CONTEXT_FEATURES", "context_features"]

CONTEXT_FEATURES = ("margin_left", "margin_right", "mutual_best")

# Cells of one dense block of scores (32 MB of float64).
_BLOCK_CELLS = 4_000_000
# Show progress from this many cells (a few seconds of work).
_PROGRESS_CELLS = 50_000_000


def _best_two(matrix: sp.csr_matrix, measure: str, rows: np.ndarray, candidates: np.ndarray,
              counts: np.ndarray, desc: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per row: best score over ``candidates``, the best candidate, and the best over the other records.

    ``counts[k]`` is how many records hold candidate ``k``: when the best value is held by two
    records, the best "other" record scores as much as the best.
    """
    best = np.zeros(len(rows))
    best_code = np.full(len(rows), -1, dtype=np.int64)
    runner_up = np.zeros(len(rows))
    step = max(1, _BLOCK_CELLS // max(1, len(candidates)))
    starts = range(0, len(rows), step)
    show = len(rows) * len(candidates) >= _PROGRESS_CELLS
    table = TableScores(matrix, measure, candidates)
    for start in tqdm(starts, disable=not show, file=sys.stderr, desc=desc, unit="block"):
        block = table.scores(rows[start:start + step])
        index = np.arange(len(block))
        top = block.argmax(axis=1)
        top_score = block[index, top]
        block[index, top] = -np.inf
        second = block.max(axis=1) if block.shape[1] > 1 else np.zeros(len(block))
        best[start:start + step] = top_score
        best_code[start:start + step] = candidates[top]
        runner_up[start:start + step] = np.where(counts[top] > 1, top_score, second)
    return best, best_code, runner_up


def context_features(matrix: sp.csr_matrix, measure: str, values: ColumnValues,
                     pair_score: np.ndarray) -> np.ndarray:
    """``(n_pairs, 3)`` float32: margin_left, margin_right, mutual_best (0 where a value is missing).

    Args:
        matrix, measure: the similarity's vectors of ``values.vocabulary`` (see ``Similarity.vectors``).
        values: the column pair, with the full tables' codes.
        pair_score: the similarity of each pair, as the map computed it from ``matrix``.
    """
    out = np.zeros((len(values), len(CONTEXT_FEATURES)), dtype=np.float32)
    left_table, right_table = values.left_table_codes, values.right_table_codes
    left_values, left_counts = np.unique(left_table[left_table >= 0], return_counts=True)
    right_values, right_counts = np.unique(right_table[right_table >= 0], return_counts=True)
    if len(left_values) == 0 or len(right_values) == 0 or len(values) == 0:
        return out
    l_best, l_code, l_other = _best_two(matrix, measure, left_values, right_values, right_counts, "context left")
    r_best, r_code, r_other = _best_two(matrix, measure, right_values, left_values, left_counts, "context right")
    left, right = values.left_codes, values.right_codes
    present = (left >= 0) & (right >= 0)
    # Every pair's code is one of its table's codes; missing ones (-1) read entry 0 and are zeroed.
    i = np.searchsorted(left_values, np.maximum(left, 0)).clip(0, len(left_values) - 1)
    j = np.searchsorted(right_values, np.maximum(right, 0)).clip(0, len(right_values) - 1)
    left_is_best = l_code[i] == right
    right_is_best = r_code[j] == left
    # The best *other* candidate: the runner-up when this pair holds the best, else the best.
    margin_left = pair_score - np.where(left_is_best, l_other[i], l_best[i])
    margin_right = pair_score - np.where(right_is_best, r_other[j], r_best[j])
    out[:, 0] = np.where(present, margin_left, 0.0)
    out[:, 1] = np.where(present, margin_right, 0.0)
    out[:, 2] = present & left_is_best & right_is_best
    return out
