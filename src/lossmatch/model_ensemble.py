"""An ensemble of K networks averaged inside one Keras model.

Small training sets make a network's ranking depend on its initial weights: on a set of a few
hundred pairs two seeds can differ by several F1 points. Averaging the match probabilities of
K networks that start from different weights smooths that out. Here the K members sit in one
model behind one scaling layer::

    features -> scaling -> [member_0 ... member_{K-1}] -> average -> probability

so the export is one ``model.keras`` that predicts on raw features like any other. In training
(``lossmatch.training.Training.fit``) each member learns from the run's loss on its *own* output
(:func:`split_members`): the same as training K networks apart, except that they see the same
batches and stop at the same step, the one where the *average* scores best on validation. One
fit of K small members costs far less than K fits on a CPU, where per-step overhead dominates.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["AVERAGE_LAYER", "MEMBER_KINDS", "build_ensemble", "check_params", "split_members"]

AVERAGE_LAYER = "ensemble_average"
MEMBER_KINDS = ("mlp", "attribute")


def check_params(
    *, members: int = 5, member: str = "mlp", hidden_units: Sequence[int] = (64, 32), dropout: float = 0.1,
    activation: str = "relu", attribute_units: int = 8, scaling: str = "rank", ple_bins: int = 16,
    ple_units: int = 0,
) -> None:
    """Check ``build_ensemble``'s options without importing TensorFlow (the config schema calls this)."""
    from lossmatch.errors import InputError
    from lossmatch.model import check_integer
    from lossmatch.model import check_params as check_mlp

    check_integer("model.members", members, 1)
    if member not in MEMBER_KINDS:
        raise InputError(f"model.member must be one of {', '.join(MEMBER_KINDS)}, got {member!r}")
    check_integer("model.attribute_units", attribute_units, 1)
    if ple_units and member != "mlp":
        raise InputError(f"model.ple_units={ple_units} (a per-feature embedding) is for member=mlp; "
                         f"member={member} embeds each attribute's bins itself, set model.ple_units=0")
    check_mlp(hidden_units=hidden_units, dropout=dropout, activation=activation, scaling=scaling, ple_bins=ple_bins,
              ple_units=ple_units)


def build_ensemble(
    n_features: int,
    *,
    feature_names: Sequence[str] | None = None,
    members: int = 5,
    member: str = "mlp",
    hidden_units: Sequence[int] = (64, 32),
    dropout: float = 0.1,
    activation: str = "relu",
    attribute_units: int = 8,
    scaling: str = "rank",
    ple_bins: int = 16,
    ple_units: int = 0,
):
    """``members`` networks of kind ``member`` (``mlp``: :func:`lossmatch.model.build_mlp`,
    ``attribute``: :func:`lossmatch.model_attribute.build_attribute_model`) behind one scaling
    layer, their probabilities averaged.

    Args:
        n_features, feature_names: filled in by the trainer (the attribute members group
            features by map key).
        members: K, how many networks.
        hidden_units, dropout, activation, attribute_units: each member's shape.
        scaling: ``rank``, ``standard``, ``ple`` (``ple_bins`` bins per feature) or ``none``,
            shared by the members; adapt it before training.
        ple_units: with ``ple``, each member first embeds each feature's bins in this many
            values (a linear layer per feature and a ReLU; 0: none).
    """
    if n_features < 1:
        raise ValueError(f"build_ensemble: n_features must be >= 1, got {n_features}")
    check_params(members=members, member=member, hidden_units=hidden_units, dropout=dropout, activation=activation,
                 attribute_units=attribute_units, scaling=scaling, ple_bins=ple_bins, ple_units=ple_units)
    from lossmatch.runtime import import_keras

    keras = import_keras()
    from lossmatch.model import build_network
    from lossmatch.scaling import encoded_feature_names, scaled_width, scaling_layer, with_scaling

    # The members sit after the scaling: they take its output (wider than the features under ple).
    width = scaled_width(scaling, n_features, ple_bins)
    inputs = keras.Input(shape=(width,), name="features")
    outputs = []
    for k in range(int(members)):
        if member == "mlp":
            net = build_network(n_features, hidden_units=hidden_units, dropout=dropout, activation=activation,
                                feature_bins=width // n_features, feature_units=ple_units)
        else:
            from lossmatch.model_attribute import build_attribute_model

            if feature_names is None:
                raise ValueError("build_ensemble: member=attribute needs feature_names")
            net = build_attribute_model(width, feature_names=encoded_feature_names(feature_names, scaling, ple_bins),
                                        attribute_units=attribute_units,
                                        hidden_units=hidden_units, dropout=dropout, activation=activation,
                                        scaling="none")
        # A fresh functional model over the same layers, named so that members can sit side by side.
        net = keras.Model(net.inputs, net.output, name=f"member_{k}")
        outputs.append(keras.layers.Reshape((1,), name=f"member_{k}_probability")(net(inputs)))
    average = keras.layers.Average(name=AVERAGE_LAYER)(outputs) if len(outputs) > 1 else outputs[0]
    network = keras.Model(inputs, average, name="lossmatch_ensemble")
    return with_scaling(network, scaling_layer(scaling, ple_bins=ple_bins), n_features=n_features)


build_ensemble.check_params = check_params


def split_members(network):
    """For an ensemble network (its last layer the average), a model with the same inputs whose
    outputs are the members' probabilities, sharing their weights; None for any other network.

    The trainer fits this one (the run's loss on every member) and validates ``network``.
    """
    from lossmatch.runtime import import_keras

    keras = import_keras()
    last = network.layers[-1] if network.layers else None
    if last is None or last.name != AVERAGE_LAYER or not isinstance(last, keras.layers.Average):
        return None
    member_outputs = list(last.input)
    return keras.Model(network.input, member_outputs, name=f"{network.name}_members")
