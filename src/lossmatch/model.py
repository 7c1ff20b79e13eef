"""The Keras matcher: a small MLP from similarity features to a match probability."""

from __future__ import annotations

from collections.abc import Sequence

# Activations a Dense layer accepts by name (keras.activations); checked before TensorFlow loads.
ACTIVATIONS = (
    "relu", "gelu", "elu", "selu", "silu", "swish", "tanh", "sigmoid", "softplus", "softsign",
    "leaky_relu", "relu6", "mish", "linear",
)
# lossmatch.scaling.SCALINGS, repeated so that checking a config needs no TensorFlow.
SCALINGS = ("none", "standard", "rank", "ple")


def check_params(
    *, hidden_units: Sequence[int] = (64, 32), dropout: float = 0.0, activation: str = "relu", scaling: str = "none",
    ple_bins: int = 16, ple_units: int = 0,
) -> None:
    """Check ``build_mlp``'s options without importing TensorFlow (the config schema calls this)."""
    if isinstance(hidden_units, (str, bytes)) or not isinstance(hidden_units, Sequence) or not hidden_units:
        raise _error(f"model.hidden_units must be a non-empty list of positive integers, got {hidden_units!r}")
    for units in hidden_units:
        if isinstance(units, bool) or not isinstance(units, int) or units < 1:
            raise _error(f"model.hidden_units: every entry must be an integer >= 1, got {list(hidden_units)}")
    if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0.0 <= float(dropout) < 1.0:
        raise _error(f"model.dropout must be a number in [0, 1), got {dropout!r}")
    if activation not in ACTIVATIONS:
        raise _error(f"model.activation must be one of {', '.join(ACTIVATIONS)}, got {activation!r}")
    if scaling not in SCALINGS:
        raise _error(f"model.scaling must be one of {', '.join(SCALINGS)}, got {scaling!r}")
    check_integer("model.ple_bins", ple_bins, 1)
    check_integer("model.ple_units", ple_units, 0, " (0: no per-feature embedding)")
    if ple_units and scaling != "ple":
        raise _error(f"model.ple_units={ple_units} embeds each feature's bins: it needs model.scaling=ple, "
                     f"got model.scaling={scaling}")


def check_integer(key: str, value, minimum: int, note: str = "") -> None:
    """InputError unless ``value`` is an integer (not a bool) >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise _error(f"{key} must be an integer >= {minimum}{note}, got {value!r}")


def _error(message: str) -> Exception:
    from lossmatch.errors import InputError

    return InputError(message)


def build_mlp(
    n_features: int,
    *,
    hidden_units: Sequence[int] = (64, 32),
    dropout: float = 0.0,
    activation: str = "relu",
    listwise: bool = False,
    scaling: str = "none",
    ple_bins: int = 16,
    ple_units: int = 0,
):
    """A feed-forward matcher whose last layer is a sigmoid probability.

    With ``listwise=True`` the input is a padded list of candidates per left
    record, shape (lists, list_size, n_features); Dense layers act on the last
    axis, so the same weights score every candidate and the output is
    (lists, list_size): the shape a ranking loss expects.

    ``scaling`` (``none``, ``standard``, ``rank`` or ``ple``, a piecewise-linear encoding of
    ``ple_bins`` bins per feature) puts a scaling layer first, so the model predicts on raw
    features; adapt it on the training features before training (``lossmatch.scaling.adapt_scaling``).
    ``ple_units`` > 0 (``ple`` only) first maps each feature's bins to ``ple_units`` values by a
    linear layer of its own and a ReLU (:func:`build_network`).
    """
    if n_features < 1:
        raise ValueError(f"build_mlp: n_features must be >= 1, got {n_features}")
    check_params(hidden_units=hidden_units, dropout=dropout, activation=activation, scaling=scaling,
                 ple_bins=ple_bins, ple_units=ple_units)
    from lossmatch.runtime import import_keras

    import_keras()  # configures Keras before lossmatch.scaling imports it
    from lossmatch.scaling import scaling_layer, with_scaling

    network = build_network(n_features, hidden_units=hidden_units, dropout=dropout, activation=activation,
                            listwise=listwise, feature_bins=ple_bins if scaling == "ple" else 1,
                            feature_units=ple_units)
    return with_scaling(network, scaling_layer(scaling, ple_bins=ple_bins), n_features=n_features)


def build_network(
    n_features: int,
    *,
    hidden_units: Sequence[int] = (64, 32),
    dropout: float = 0.0,
    activation: str = "relu",
    listwise: bool = False,
    feature_bins: int = 1,
    feature_units: int = 0,
):
    """The MLP of :func:`build_mlp` without a scaling layer: it takes ``n_features * feature_bins``
    values, feature-major (a piecewise-linear encoding's ``feature_bins`` values per feature).

    ``feature_units`` > 0: each feature's ``feature_bins`` values first go through a linear layer
    of their own to ``feature_units`` values and a ReLU, the "PLE + linear + ReLU" embedding of
    Gorishniy et al. (NeurIPS 2022); the MLP then takes the ``n_features * feature_units`` values.
    """
    from lossmatch.runtime import import_keras

    keras = import_keras()
    width = int(n_features) * int(feature_bins)
    inputs = keras.Input(shape=(None, width) if listwise else (width,), name="features")
    x = inputs
    if feature_units:
        lists = (-1,) if listwise else ()
        x = keras.layers.Reshape((*lists, int(n_features), int(feature_bins)), name="feature_bins")(x)
        # One (bins x units) matrix and bias per feature: "...fb,fbu->...fu".
        x = keras.layers.EinsumDense("...fb,fbu->...fu", output_shape=(int(n_features), int(feature_units)),
                                     bias_axes="fu", activation="relu", name="feature_embedding")(x)
        x = keras.layers.Reshape((*lists, int(n_features) * int(feature_units)), name="feature_embeddings")(x)
    for i, units in enumerate(hidden_units):
        x = keras.layers.Dense(int(units), activation=activation, name=f"dense_{i}")(x)
        if dropout:
            x = keras.layers.Dropout(float(dropout), name=f"dropout_{i}")(x)
    x = keras.layers.Dense(1, activation="sigmoid", name="match_probability")(x)
    outputs = keras.layers.Reshape((-1,) if listwise else (1,), name="probability")(x)
    return keras.Model(inputs, outputs, name="lossmatch_mlp")


# The config schema finds a builder's TensorFlow-free checks here.
build_mlp.check_params = check_params
