"""Tests specific to the pairwise soft zero-one ranking loss: hand-computed
per-item values, reductions, sample weights per list and per item, masks.

The checks every loss shares are in test_common.py.
"""

import numpy as np
import pytest

from lossmatch.losses import PairwiseSoftZeroOneLoss, focal_loss


def sig(x):
    return 1.0 / (1.0 + np.exp(-x))


# List 1: labels [1, 0, 1, 0], scores [2, 1, 0, 3]. Item i pays sigmoid(-(s_i - s_j)) for each j with y_j < y_i:
#   item 0: j = 1, 3 -> sig(-(2-1)) + sig(-(2-3)) = sig(-1) + sig(1) = 1
#   item 2: j = 1, 3 -> sig(-(0-1)) + sig(-(0-3)) = sig(1) + sig(3) = 0.7310586 + 0.9525741 = 1.6836327
#   items 1, 3 (label 0): no lower label -> 0
# List 2: labels [0, 1, -1, 1], scores [0, 0, 5, 2]; item 2 is padding, so it forms no pair:
#   item 1: j = 0 -> sig(-(0-0)) = 0.5;  item 3: j = 0 -> sig(-(2-0)) = sig(-2) = 0.1192029
LABELS = np.array([[1.0, 0.0, 1.0, 0.0], [0.0, 1.0, -1.0, 1.0]], "float32")
SCORES = np.array([[2.0, 1.0, 0.0, 3.0], [0.0, 0.0, 5.0, 2.0]], "float32")
PER_ITEM = np.array([[sig(-1) + sig(1), 0.0, sig(1) + sig(3), 0.0], [0.0, 0.5, 0.0, sig(-2)]])
TOTAL = PER_ITEM.sum()  # 1 + 1.6836327 + 0.5 + 0.1192029 = 3.3028356


def _value(loss, y_true, y_pred, **kwargs):
    return np.asarray(loss(y_true, y_pred, **kwargs))


def test_unbatched_per_item():
    loss = PairwiseSoftZeroOneLoss(reduction="none")
    np.testing.assert_allclose(_value(loss, LABELS[0], SCORES[0]), PER_ITEM[0], rtol=1e-5)


def test_batched_per_item_ignores_padding():
    for reduction in ("none", None):
        loss = PairwiseSoftZeroOneLoss(reduction=reduction)
        np.testing.assert_allclose(_value(loss, LABELS, SCORES), PER_ITEM, rtol=1e-5)


@pytest.mark.parametrize(
    ("reduction", "expected"),
    [
        ("sum", TOTAL),  # 3.3028356
        ("sum_over_batch_size", TOTAL / 8),  # 3.3028356 / 8 items (the padded one included) = 0.4128545
        ("mean", TOTAL / 8),
        ("mean_with_sample_weight", TOTAL / 8),  # no sample_weight: falls back to the item count
    ],
)
def test_reductions(reduction, expected):
    loss = PairwiseSoftZeroOneLoss(reduction=reduction)
    np.testing.assert_allclose(_value(loss, LABELS, SCORES), expected, rtol=1e-5)


@pytest.mark.parametrize(
    ("reduction", "expected"),
    [
        # One weight per list, [1, 2]: sum = 2.6836327 + 2 * 0.6192029 = 3.9220385
        ("none", PER_ITEM * np.array([[1.0], [2.0]])),
        ("sum", 2.6836327 + 2 * 0.6192029),
        ("sum_over_batch_size", (2.6836327 + 2 * 0.6192029) / 8),
        ("mean", (2.6836327 + 2 * 0.6192029) / 8),
        # Divided by the per-item weights' sum, 4 * 1 + 4 * 2 = 12: 3.9220385 / 12 = 0.3268365
        ("mean_with_sample_weight", (2.6836327 + 2 * 0.6192029) / 12),
    ],
)
def test_per_list_sample_weight(reduction, expected):
    loss = PairwiseSoftZeroOneLoss(reduction=reduction)
    out = _value(loss, LABELS, SCORES, sample_weight=np.array([1.0, 2.0], "float32"))
    np.testing.assert_allclose(out, expected, rtol=1e-5)


def test_per_item_sample_weight():
    # Weight 0 on item 2 of list 1 removes its 1.6836327; weights sum to 7.
    w = np.array([[1.0, 1.0, 0.0, 1.0], [1.0, 1.0, 1.0, 1.0]], "float32")
    # (1 + 0.5 + 0.1192029) / 7 = 0.2313147
    loss = PairwiseSoftZeroOneLoss(reduction="mean_with_sample_weight")
    np.testing.assert_allclose(_value(loss, LABELS, SCORES, sample_weight=w), (1 + 0.5 + sig(-2)) / 7, rtol=1e-5)


def test_dict_mask_removes_items():
    # Masking item 3 of list 1 leaves item 0 with j = 1 only -> sig(-1) = 0.2689414,
    # and item 2 with j = 1 only -> sig(1) = 0.7310586. List 2 is unchanged.
    mask = np.array([[True, True, True, False], [True, True, True, True]])
    loss = PairwiseSoftZeroOneLoss(reduction="none")
    out = _value(loss, {"labels": LABELS, "mask": mask}, SCORES)
    np.testing.assert_allclose(out, [[sig(-1), 0.0, sig(1), 0.0], PER_ITEM[1]], rtol=1e-5)


def test_unbatched_dict_mask_and_scalar_weight():
    # One list given as a dict with a mask: as in test_dict_mask_removes_items, list 1.
    loss = PairwiseSoftZeroOneLoss(reduction="none")
    mask = np.array([True, True, True, False])
    out = _value(loss, {"labels": LABELS[0], "mask": mask}, SCORES[0])
    np.testing.assert_allclose(out, [sig(-1), 0.0, sig(1), 0.0], rtol=1e-5)
    # A dict without a mask is just the labels.
    np.testing.assert_allclose(_value(loss, {"labels": LABELS}, SCORES), PER_ITEM, rtol=1e-5)
    # A scalar weight scales every item: 2 * 3.3028356.
    total = _value(PairwiseSoftZeroOneLoss(reduction="sum"), LABELS, SCORES, sample_weight=2.0)
    np.testing.assert_allclose(total, 2 * TOTAL, rtol=1e-5)


def test_temperature():
    # temperature 0.5 doubles the differences. List 1: item 0 -> sig(-2) + sig(2) = 1,
    # item 2 -> sig(2) + sig(6) = 0.8807971 + 0.9975274 = 1.8783245.
    loss = PairwiseSoftZeroOneLoss(temperature=0.5, reduction="none")
    np.testing.assert_allclose(_value(loss, LABELS[0], SCORES[0]), [1.0, 0.0, sig(2) + sig(6), 0.0], rtol=1e-5)


def test_all_padding_or_no_positive_is_zero_not_nan():
    loss = PairwiseSoftZeroOneLoss()
    assert float(loss(-np.ones((2, 3), "float32"), np.ones((2, 3), "float32"))) == 0.0
    assert float(loss(np.zeros((2, 3), "float32"), np.ones((2, 3), "float32"))) == 0.0


def test_bad_rank_and_dict_without_labels_raise():
    loss = PairwiseSoftZeroOneLoss()
    with pytest.raises(ValueError) as err:
        loss(np.ones((2, 3, 4), "float32"), np.ones((2, 3, 4), "float32"))
    assert str(err.value) == (
        "PairwiseSoftZeroOneLoss: y_true and y_pred must both have shape (list_size,) "
        "or (batch, list_size), got (2, 3, 4) and (2, 3, 4)"
    )
    # Ranks that differ are refused too, not broadcast.
    with pytest.raises(ValueError, match=r"got \(4,\) and \(1, 4\)$"):
        loss(LABELS[0], SCORES[:1])
    with pytest.raises(ValueError) as err:
        loss({"mask": np.ones((2, 4), bool)}, SCORES)
    assert str(err.value) == 'PairwiseSoftZeroOneLoss: y_true as a dict needs a "labels" key, got keys [\'mask\']'


def test_expects_lists_flag():
    # The trainer feeds lists only to losses that set the flag.
    assert PairwiseSoftZeroOneLoss.expects_lists is True
    assert focal_loss().expects_lists is False
