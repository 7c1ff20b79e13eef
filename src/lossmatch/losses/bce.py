"""Plain binary cross-entropy, the baseline every other loss is compared with."""

from __future__ import annotations

import keras


def bce_loss():
    """Returns ``keras.losses.BinaryCrossentropy()`` on probabilities.

    loss = mean(−y·log p − (1 − y)·log(1 − p)). A thin factory so that
    ``loss=bce`` is configured like every other loss; Keras already serialises
    this class, so nothing is registered.
    """
    return keras.losses.BinaryCrossentropy()
