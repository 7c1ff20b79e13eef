"""An attribute-aware Keras matcher: one small network per compared attribute, merged.

The similarity map yields a group of features per key (``title~title:jaro_winkler``,
``title~title:tfidf_word``, ..., ``*~*:tfidf_char:margin_left``). A plain MLP sees one flat
vector; this model first embeds each key's group on its own (a small Dense layer shared by
nothing else, so each attribute learns how its similarities combine, e.g. "equal model numbers
but different titles"), then merges the embeddings with an MLP. With few labelled pairs this
has fewer weights than a wide first layer over all features.

The model takes the *raw* feature vector, in ``SimilarityMap.feature_names`` order: the scaling
(a rank transform by default, see ``lossmatch.scaling``) is a layer of the model, adapted on the
training features with :func:`lossmatch.scaling.adapt_scaling`, so an exported model predicts on
what ``SimilarityMap.transform`` returns.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np
from keras import ops

from lossmatch.scaling import encoded_feature_names, scaled_width, scaling_layer, with_scaling

__all__ = ["attribute_groups", "build_attribute_model"]


def attribute_groups(feature_names: Sequence[str]) -> dict[str, list[int]]:
    """Feature positions per map key (the text before the first ':'), in first-seen order."""
    groups: dict[str, list[int]] = {}
    for position, name in enumerate(feature_names):
        groups.setdefault(str(name).split(":", 1)[0], []).append(position)
    return groups


@keras.saving.register_keras_serializable(package="lossmatch")
class _Take(keras.layers.Layer):
    """Columns ``indices`` of the last axis (a serialisable gather)."""

    def __init__(self, indices: Sequence[int], **kwargs):
        super().__init__(**kwargs)
        self.indices = [int(i) for i in indices]

    def call(self, inputs):
        return ops.take(inputs, np.asarray(self.indices, dtype="int32"), axis=-1)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], len(self.indices))

    def get_config(self):
        return {**super().get_config(), "indices": self.indices}


def build_attribute_model(
    n_features: int,
    *,
    feature_names: Sequence[str],
    attribute_units: int = 8,
    hidden_units: Sequence[int] = (64, 32),
    dropout: float = 0.1,
    activation: str = "relu",
    scaling: str = "rank",
    ple_bins: int = 16,
) -> keras.Model:
    """Per-attribute embeddings of the similarity features, merged by an MLP into a match probability.

    Args:
        n_features: length of the feature vector (filled in by the trainer).
        feature_names: ``SimilarityMap.feature_names``; features are grouped by map key.
        attribute_units: width of each attribute's embedding.
        hidden_units, dropout, activation: the MLP over the concatenated embeddings.
        scaling: ``rank`` (quantile), ``standard``, ``ple`` (``ple_bins`` bins per feature, each
            attribute's embedding then sees its features' bins) or ``none``; adapt it before training.
    """
    if n_features < 1:
        raise ValueError(f"build_attribute_model: n_features must be >= 1, got {n_features}")
    if len(feature_names) != n_features:
        raise ValueError(f"build_attribute_model: {len(feature_names)} feature_names for {n_features} features")
    if int(attribute_units) < 1 or any(int(u) < 1 for u in hidden_units):
        raise ValueError(f"model: attribute_units and hidden_units must be >= 1, got {attribute_units}, "
                         f"{list(hidden_units)}")
    if not 0.0 <= float(dropout) < 1.0:
        raise ValueError(f"model.dropout must be in [0, 1), got {dropout}")
    inputs = keras.Input(shape=(scaled_width(scaling, n_features, ple_bins),), name="features")
    x = inputs
    embeddings = []
    for i, positions in enumerate(attribute_groups(encoded_feature_names(feature_names, scaling, ple_bins)).values()):
        part = _Take(positions, name=f"take_{i}")(x)
        embeddings.append(keras.layers.Dense(int(attribute_units), activation=activation,
                                             name=f"attribute_{i}")(part))
    x = keras.layers.Concatenate(name="attributes")(embeddings) if len(embeddings) > 1 else embeddings[0]
    for i, units in enumerate(hidden_units):
        x = keras.layers.Dense(int(units), activation=activation, name=f"dense_{i}")(x)
        if dropout:
            x = keras.layers.Dropout(float(dropout), name=f"dropout_{i}")(x)
    outputs = keras.layers.Dense(1, activation="sigmoid", name="probability")(x)
    return with_scaling(keras.Model(inputs, outputs, name="lossmatch_attribute_model"),
                        scaling_layer(scaling, ple_bins=ple_bins), n_features=n_features)
