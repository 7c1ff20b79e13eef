"""The Keras matcher: a small MLP from similarity features to a match probability."""

from __future__ import annotations

from collections.abc import Sequence

import keras

from lossmatch.scaling import scaling_layer, with_scaling


def build_mlp(
    n_features: int,
    *,
    hidden_units: Sequence[int] = (64, 32),
    dropout: float = 0.0,
    activation: str = "relu",
    listwise: bool = False,
    scaling: str = "none",
) -> keras.Model:
    """A feed-forward matcher whose last layer is a sigmoid probability.

    With ``listwise=True`` the input is a padded list of candidates per left
    record, shape (lists, list_size, n_features); Dense layers act on the last
    axis, so the same weights score every candidate and the output is
    (lists, list_size): the shape a ranking loss expects.

    ``scaling`` (``none``, ``standard`` or ``rank``) puts a scaling layer first, so the model
    predicts on raw features; adapt it on the training features before training
    (``lossmatch.scaling.adapt_scaling``).
    """
    if n_features < 1:
        raise ValueError(f"build_mlp: n_features must be >= 1, got {n_features}")
    for units in hidden_units:
        if int(units) < 1:
            raise ValueError(f"model.hidden_units: every entry must be >= 1, got {list(hidden_units)}")
    if not 0.0 <= float(dropout) < 1.0:
        raise ValueError(f"model.dropout must be in [0, 1), got {dropout}")
    shape = (None, n_features) if listwise else (n_features,)
    inputs = keras.Input(shape=shape, name="features")
    x = inputs
    for i, units in enumerate(hidden_units):
        x = keras.layers.Dense(int(units), activation=activation, name=f"dense_{i}")(x)
        if dropout:
            x = keras.layers.Dropout(float(dropout), name=f"dropout_{i}")(x)
    x = keras.layers.Dense(1, activation="sigmoid", name="match_probability")(x)
    outputs = keras.layers.Reshape((-1,) if listwise else (1,), name="probability")(x)
    return with_scaling(keras.Model(inputs, outputs, name="lossmatch_mlp"), scaling_layer(scaling))
