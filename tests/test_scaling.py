"""QuantileScaling and PiecewiseLinearEncoding by hand, and the scaling layers inside saved models."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from lossmatch.errors import InputError
from lossmatch.model import build_mlp
from lossmatch.model_ensemble import build_ensemble
from lossmatch.scaling import PiecewiseLinearEncoding, QuantileScaling, adapt_scaling, split_scaling


def test_quantile_scaling_by_hand():
    layer = QuantileScaling(n_quantiles=3)
    # Column 0: 0..4, quantiles at levels 0, 1/2, 1 are [0, 2, 4]. Column 1: constant 5.
    layer.adapt(np.array([[0, 5], [1, 5], [2, 5], [3, 5], [4, 5]], dtype=float))
    out = keras.ops.convert_to_numpy(layer(np.array([[1.0, 5.0], [3.0, 4.0], [-1.0, 6.0], [10.0, 5.0]])))
    # x=1: ramps (1-0)/2 = 1/2 and 0, mean 1/4; x=3: 1 and 1/2, mean 3/4; below q_0: 0; above q_2: 1.
    np.testing.assert_allclose(out[:, 0], [0.25, 0.75, 0.0, 1.0], atol=1e-6)
    # A constant column is a step at its value: x >= 5 gives 1, x = 4 gives 0.
    np.testing.assert_allclose(out[:, 1], [1.0, 0.0, 1.0, 1.0], atol=1e-6)


def test_piecewise_linear_encoding_by_hand():
    layer = PiecewiseLinearEncoding(n_bins=2)
    # Column 0: 0..4, edges at quantile levels 0, 1/2, 1 are [0, 2, 4]: bins [0, 2] and [2, 4].
    # Column 1: 0, 0, 0, 1, 1, edges [0, 0, 1]: a zero-width bin at 0 (a step) and a bin [0, 1].
    layer.adapt(np.array([[0, 0], [1, 0], [2, 0], [3, 1], [4, 1]], dtype=float))
    out = keras.ops.convert_to_numpy(layer(np.array([[1.0, 0.0], [3.0, 0.5], [-1.0, -1.0], [5.0, 1.0]])))
    # Feature-major: (col 0 bin 1, col 0 bin 2, col 1 bin 1, col 1 bin 2).
    # x0=1: (1-0)/2 = 1/2 in bin 1, below bin 2 -> 0;  x1=0: the step x >= 0 -> 1, (0-0)/1 = 0.
    # x0=3: above bin 1 -> 1, (3-2)/2 = 1/2;           x1=0.5: step 1, (0.5-0)/1 = 1/2.
    # x0=-1 and x1=-1: below every bin (and the step) -> 0 everywhere.
    # x0=5: above both bins -> 1, 1 (clipped);         x1=1: step 1, (1-0)/1 = 1.
    expected = [[0.5, 0.0, 1.0, 0.0], [1.0, 0.5, 1.0, 0.5], [0.0, 0.0, 0.0, 0.0], [1.0, 1.0, 1.0, 1.0]]
    np.testing.assert_allclose(out, expected, atol=1e-6)


def test_piecewise_linear_encoding_averages_to_the_rank():
    rng = np.random.default_rng(1)
    X = np.concatenate([rng.normal(size=(40, 2)), np.zeros((40, 1))], axis=1)
    X[:25, 2] = 1.0  # a flag column: most knots tie at 1 (steps)
    ple, rank = PiecewiseLinearEncoding(n_bins=4), QuantileScaling(n_quantiles=5)
    ple.adapt(X)
    rank.adapt(X)
    encoded = keras.ops.convert_to_numpy(ple(X[:10]))
    assert encoded.shape == (10, 3 * 4)
    # The encoding keeps QuantileScaling's ramps apart: each feature's 4 bins average to its rank.
    np.testing.assert_allclose(encoded.reshape(10, 3, 4).mean(axis=-1), keras.ops.convert_to_numpy(rank(X[:10])),
                               atol=1e-6)


def test_ple_options_are_checked():
    with pytest.raises(ValueError, match="n_bins"):
        PiecewiseLinearEncoding(n_bins=0)
    # The config schema's check, before TensorFlow builds anything.
    with pytest.raises(InputError, match="model.ple_bins"):
        build_ensemble.check_params(scaling="ple", ple_bins=0)
    with pytest.raises(InputError, match="ple"):
        build_mlp.check_params(scaling="piecewise")


def test_quantile_scaling_rejects_bad_arguments():
    with pytest.raises(ValueError, match="n_quantiles"):
        QuantileScaling(n_quantiles=1)
    with pytest.raises(ValueError, match="non-empty 2-D"):
        QuantileScaling().adapt(np.zeros((0, 3)))


@pytest.mark.parametrize("scaling", ["rank", "standard", "ple"])
def test_scaled_mlp_predicts_on_raw_features_after_reload(tmp_path, scaling):
    rng = np.random.default_rng(0)
    X = rng.normal(loc=100.0, scale=30.0, size=(64, 4)).astype("float32")
    model = build_mlp(4, hidden_units=(8,), scaling=scaling, ple_bins=3)
    # One scaling layer, adapted on the training features.
    assert adapt_scaling(model, X) == 1
    before = model.predict(X, verbose=0)
    model.save(tmp_path / "m.keras")
    import lossmatch.losses  # noqa: F401 (registers the package's objects, as an export loader does)

    after = keras.saving.load_model(tmp_path / "m.keras").predict(X, verbose=0)
    # The reloaded model scales raw inputs the same way: identical predictions.
    np.testing.assert_allclose(before, after, rtol=1e-6)


@pytest.mark.parametrize("member", ["mlp", "attribute"])
def test_ple_ensemble_takes_raw_features_and_reloads(tmp_path, member):
    rng = np.random.default_rng(2)
    X = rng.random((32, 3)).astype("float32")
    model = build_ensemble(3, feature_names=["a~a:x", "a~a:y", "b~b:z"], members=2, member=member,
                           hidden_units=(4,), scaling="ple", ple_bins=5, ple_units=2 if member == "mlp" else 0)
    assert adapt_scaling(model, X) == 1
    scaling, network = split_scaling(model)
    # The model takes the 3 raw features; its members take 3 x 5 encoded values.
    assert model.input_shape == (None, 3) and network.input_shape == (None, 15)
    np.testing.assert_allclose(network.predict(scaling(X), verbose=0), model.predict(X, verbose=0), rtol=1e-6)
    model.save(tmp_path / "m.keras")
    import lossmatch.losses  # noqa: F401

    reloaded = keras.saving.load_model(tmp_path / "m.keras")
    assert reloaded.get_layer("scaling").n_bins == 5
    np.testing.assert_allclose(reloaded.predict(X, verbose=0), model.predict(X, verbose=0), rtol=1e-6)


def test_ple_embedding_maps_each_feature_on_its_own(tmp_path):
    X = np.array([[0, 0], [1, 0], [2, 0], [3, 1], [4, 1]], dtype="float32")
    model = build_mlp(2, hidden_units=(3,), scaling="ple", ple_bins=2, ple_units=1)
    adapt_scaling(model, X)
    _, network = split_scaling(model)
    embed = keras.Model(network.input, network.get_layer("feature_embeddings").output)
    layer = network.get_layer("feature_embedding")
    kernel, bias = layer.get_weights()
    # One (bins x units) = (2 x 1) matrix per feature.
    assert kernel.shape == (2, 2, 1) and bias.shape == (2, 1)
    layer.set_weights([np.stack([np.ones((2, 1)), -np.ones((2, 1))]).astype("float32"), np.zeros((2, 1), "float32")])
    # Encodings (see test_piecewise_linear_encoding_by_hand): x=(1, 0) -> (1/2, 0 | 1, 0), x=(3, 0.5) ->
    # (1, 1/2 | 1, 1/2). Feature 0 sums its own bins: 1/2 and 3/2; feature 1 negates its sum, and the
    # ReLU takes it to 0. A layer that mixed features would not give 0 there.
    scaled = model.get_layer("scaling")(np.array([[1.0, 0.0], [3.0, 0.5]]))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(embed(scaled)), [[0.5, 0.0], [1.5, 0.0]], atol=1e-6)
    model.save(tmp_path / "m.keras")
    import lossmatch.losses  # noqa: F401

    np.testing.assert_allclose(keras.saving.load_model(tmp_path / "m.keras").predict(X, verbose=0),
                               model.predict(X, verbose=0), rtol=1e-6)


def test_ple_units_need_ple_and_mlp_members():
    with pytest.raises(InputError, match="needs model.scaling=ple"):
        build_ensemble.check_params(scaling="rank", ple_units=4)
    with pytest.raises(InputError, match="member=mlp"):
        build_ensemble.check_params(member="attribute", scaling="ple", ple_units=4)
    with pytest.raises(InputError, match="model.ple_units"):
        build_mlp.check_params(scaling="ple", ple_units=-1)


def test_network_after_the_scaling_shares_the_weights():
    X = np.arange(12, dtype="float32").reshape(6, 2)
    model = build_mlp(2, hidden_units=(3,), scaling="rank")
    adapt_scaling(model, X)
    scaling, network = split_scaling(model)
    # Training the network on scaled features trains the model: scaling then network is the model.
    scaled = keras.ops.convert_to_numpy(scaling(X))
    np.testing.assert_allclose(network.predict(scaled, verbose=0), model.predict(X, verbose=0), rtol=1e-6)
    network.set_weights([w * 0 for w in network.get_weights()])
    # Zero weights and bias give sigmoid(0) = 1/2 from the whole model too.
    np.testing.assert_allclose(model.predict(X, verbose=0), 0.5)


def test_build_mlp_without_scaling_is_unchanged():
    model = build_mlp(3, hidden_units=(4,))
    # The default keeps the previous architecture: no scaling layer to adapt, nothing to split.
    assert adapt_scaling(model, np.zeros((2, 3))) == 0
    assert split_scaling(model) == (None, model)
    with pytest.raises(ValueError, match="scaling"):
        build_mlp(3, scaling="minmax")


def test_config_check_knows_every_scaling():
    import lossmatch.model
    import lossmatch.scaling

    # lossmatch.model repeats the tuple so that checking a config needs no TensorFlow: the two must agree.
    assert lossmatch.model.SCALINGS == lossmatch.scaling.SCALINGS
