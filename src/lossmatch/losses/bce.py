"""Plain binary cross-entropy, the baseline every other loss is compared with."""

from __future__ import annotations

import keras


def bce_loss():
    """Returns ``keras.losses.BinaryCrossentropy()`` on probabilities.

    loss = mean(−y·log p − (1 − y)·log(1 − p)). A thin factory so that
    ``loss=bce`` is configured like every other loss; Keras already serialises
    this class, so nothing is registered.

    Examples:
        (−log 0.9 − log 0.8 − log 0.6 − log 0.9) / 4:

        >>> y_true, y_pred = [1.0, 0.0, 1.0, 0.0], [0.9, 0.2, 0.6, 0.1]
        >>> round(float(bce_loss()(y_true, y_pred)), 4)
        0.2362
    """
    return keras.losses.BinaryCrossentropy()
