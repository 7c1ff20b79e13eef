"""Input scaling inside the Keras model, so that an exported model predicts on raw similarity features.

Similarity features are far from normal: many sit at exactly 0 or 1, table-context margins
are small signed numbers, a few are 0/1 flags. A rank (quantile) transform fitted on the
training pairs puts every feature on the same footing, [0, 1] with its training
distribution spread evenly, which is what a small MLP trains best on.

:class:`QuantileScaling` is a Keras layer that stores per-feature quantiles (non-trainable
weights, saved with the model) and maps a value to its interpolated training rank.
``adapt(X_train)`` computes them, like Keras' own ``Normalization`` layer, which is the
``"standard"`` option of :func:`scaling_layer`. :func:`adapt_scaling` adapts every such layer of
a model: a trainer calls it on the training features before ``fit``.

:class:`PiecewiseLinearEncoding` (``"ple"``) keeps the same quantile ramps as separate inputs
instead of summing them to one rank (Gorishniy, Rubachev and Babenko, "On Embeddings for
Numerical Features in Tabular Deep Learning", NeurIPS 2022): F features become F x n_bins
inputs, so the first Dense layer can weigh each stretch of a feature's range on its own, the
way a tree splits it, rather than through one monotone rank.

Models built with a scaling are ``features -> scaling -> network`` (:func:`with_scaling`), so a
trainer can scale the training features once and fit the network alone on them
(:func:`split_scaling`): the rank transform then costs nothing per optimizer step.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

__all__ = [
    "SCALINGS", "PiecewiseLinearEncoding", "QuantileScaling", "adapt_scaling", "encoded_feature_names", "scale_features",
    "scaled_width", "scaling_layer", "split_scaling", "with_scaling",
]

SCALINGS = ("none", "standard", "rank", "ple")


@keras.saving.register_keras_serializable(package="lossmatch")
class QuantileScaling(keras.layers.Layer):
    """Map each feature to its rank among the training values, by linear interpolation between quantiles.

    With quantiles q_0 <= ... <= q_{K-1} of a feature (K = ``n_quantiles``), a value x maps to
    ``sum_k ramp_k(x) / (K - 1)`` where ``ramp_k`` rises from 0 at q_k to 1 at q_{k+1} (a step
    at q_k when q_k == q_{k+1}). So x <= q_0 gives 0, x >= q_{K-1} gives 1, and in between the
    output is the empirical CDF interpolated between knots. A constant feature maps to 1 (x >= q_0).

    Args:
        n_quantiles: knots per feature (fewer when there are fewer training rows).
    """

    def __init__(self, n_quantiles: int = 64, **kwargs):
        super().__init__(**kwargs)
        if int(n_quantiles) < 2:
            raise ValueError(f"QuantileScaling: n_quantiles must be >= 2, got {n_quantiles}")
        self.n_quantiles = int(n_quantiles)

    def build(self, input_shape):
        n_features = int(input_shape[-1])
        self.quantiles = self.add_weight(name="quantiles", shape=(self.n_quantiles, n_features),
                                         initializer="zeros", trainable=False)
        super().build(input_shape)

    def adapt(self, data) -> None:
        """Store the quantiles of ``data`` (rows, features), e.g. the training features."""
        data = np.asarray(data, dtype=np.float64)
        if data.ndim != 2 or len(data) == 0:
            raise ValueError(f"QuantileScaling.adapt needs a non-empty 2-D array, got shape {data.shape}")
        if not self.built:
            self.build(data.shape)
        levels = np.linspace(0.0, 1.0, self.n_quantiles)
        self.quantiles.assign(np.quantile(data, levels, axis=0).astype("float32"))

    def ramps(self, inputs):
        """``ramp_k(x)`` for every knot interval k and feature: shape (..., K-1, F)."""
        x = ops.expand_dims(ops.cast(inputs, self.compute_dtype), axis=-2)  # (..., 1, F)
        low, high = self.quantiles[:-1], self.quantiles[1:]  # (K-1, F)
        width = high - low
        ramp = ops.clip((x - low) / ops.where(width > 0, width, 1.0), 0.0, 1.0)
        return ops.where(width > 0, ramp, ops.cast(x >= low, ramp.dtype))

    def call(self, inputs):
        return ops.mean(self.ramps(inputs), axis=-2)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "n_quantiles": self.n_quantiles}


@keras.saving.register_keras_serializable(package="lossmatch")
class PiecewiseLinearEncoding(QuantileScaling):
    """Piecewise-linear encoding: each feature becomes ``n_bins`` values, one per quantile bin.

    Bin t of a feature spans the training quantiles b_{t-1} < b_t (levels (t-1)/n_bins and
    t/n_bins); its value is ``clip((x - b_{t-1}) / (b_t - b_{t-1}), 0, 1)``: 0 below the bin,
    1 above it, linear inside. A bin of zero width (a value held by more than 1/n_bins of the
    training pairs, such as an exact 0 or 1 similarity) is a step, 1 from its value on. These
    are :class:`QuantileScaling`'s ramps kept apart: their mean is the rank that layer returns.
    The output is feature-major: feature 0's n_bins values, then feature 1's, and so on.

    Args:
        n_bins: bins per feature (n_bins + 1 quantile edges).
    """

    def __init__(self, n_bins: int = 16, **kwargs):
        kwargs.pop("n_quantiles", None)  # fixed by n_bins
        if isinstance(n_bins, bool) or int(n_bins) < 1:
            raise ValueError(f"PiecewiseLinearEncoding: n_bins must be >= 1, got {n_bins}")
        super().__init__(n_quantiles=int(n_bins) + 1, **kwargs)
        self.n_bins = int(n_bins)

    def call(self, inputs):
        ramp = ops.swapaxes(self.ramps(inputs), -1, -2)  # (..., F, n_bins)
        shape = ops.shape(ramp)
        return ops.reshape(ramp, (*shape[:-2], shape[-2] * self.n_bins))

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], None if input_shape[-1] is None else input_shape[-1] * self.n_bins)

    def get_config(self):
        config = super().get_config()
        config.pop("n_quantiles")
        return {**config, "n_bins": self.n_bins}


def scaling_layer(scaling: str, *, name: str = "scaling", ple_bins: int = 16) -> keras.layers.Layer | None:
    """The layer for ``scaling`` (``none`` -> None, ``standard`` -> Normalization, ``rank`` ->
    QuantileScaling, ``ple`` -> PiecewiseLinearEncoding of ``ple_bins`` bins)."""
    if scaling == "none":
        return None
    if scaling == "standard":
        return keras.layers.Normalization(axis=-1, name=name)
    if scaling == "rank":
        return QuantileScaling(name=name)
    if scaling == "ple":
        return PiecewiseLinearEncoding(int(ple_bins), name=name)
    raise ValueError(f"model.scaling must be one of {', '.join(SCALINGS)}, got {scaling!r}")


def scaled_width(scaling: str, n_features: int, ple_bins: int = 16) -> int:
    """How many values the network after ``scaling`` takes for ``n_features`` raw features."""
    return int(n_features) * int(ple_bins) if scaling == "ple" else int(n_features)


def encoded_feature_names(feature_names, scaling: str, ple_bins: int = 16) -> list[str]:
    """The names of the network's inputs after ``scaling``: a feature's name repeated for each of
    its bins under ``ple`` (in the encoding's feature-major order), so grouping by map key still works."""
    repeat = int(ple_bins) if scaling == "ple" else 1
    return [str(name) for name in feature_names for _ in range(repeat)]


def adapt_scaling(model: keras.Model, X_train) -> int:
    """Adapt every scaling layer of ``model`` on the training features; returns how many were adapted."""
    adapted = 0
    for layer in model.layers:
        if _is_scaling(layer):
            layer.adapt(np.asarray(X_train, dtype=np.float32))
            adapted += 1
    return adapted


def _is_scaling(layer) -> bool:
    return isinstance(layer, (QuantileScaling, keras.layers.Normalization))


def with_scaling(network: keras.Model, layer: keras.layers.Layer | None, *, n_features: int | None = None) -> keras.Model:
    """``features -> layer -> network`` as one model (the network itself when ``layer`` is None).

    ``n_features``: the raw feature count, when the layer widens it (``ple``); default the network's input width.
    """
    if layer is None:
        return network
    shape = tuple(network.input_shape[1:])
    if n_features is not None:
        shape = (*shape[:-1], int(n_features))
    inputs = keras.Input(shape=shape, name="features")
    return keras.Model(inputs, network(layer(inputs)), name=network.name)


def split_scaling(model: keras.Model) -> tuple[keras.layers.Layer | None, keras.Model]:
    """``(scaling layer, network)`` of a :func:`with_scaling` model, sharing its weights; else ``(None, model)``."""
    layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    if len(layers) == 2 and _is_scaling(layers[0]) and isinstance(layers[1], keras.Model):
        return layers[0], layers[1]
    return None, model


def scale_features(layer: keras.layers.Layer, X, *, chunk: int = 2048) -> np.ndarray:
    """``layer(X)`` as a float32 array, ``chunk`` rows at a time.

    The rank transform holds an intermediate of (rows, quantiles, features) values: 1.3 GB
    for 50,000 pairs of 100 features at once, 50 MB per chunk of 2,048.
    """
    X = np.asarray(X, dtype=np.float32)
    if len(X) == 0:
        return X
    parts = [keras.ops.convert_to_numpy(layer(X[start:start + chunk])) for start in range(0, len(X), chunk)]
    return np.concatenate(parts).astype(np.float32, copy=False)
