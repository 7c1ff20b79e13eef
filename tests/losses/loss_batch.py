"""The small batch from which the per-loss tests derive expected values by hand.

Two matches predicted at p = 0.9 and 0.6, two non-matches at p = 0.2 and 0.1;
as soft counts: TP = 0.9 + 0.6 = 1.5, FP = 0.2 + 0.1 = 0.3, FN = 0.1 + 0.4 = 0.5.
"""

import numpy as np

Y = np.array([1.0, 0.0, 1.0, 0.0], dtype="float32")
P = np.array([0.9, 0.2, 0.6, 0.1], dtype="float32")


def value(loss, y_true, y_pred, **kwargs):
    """The loss on float32 copies of the inputs, as a Python float."""
    return float(loss(np.asarray(y_true, "float32"), np.asarray(y_pred, "float32"), **kwargs))
