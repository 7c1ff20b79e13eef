"""QuantileScaling by hand, and the scaling layers inside saved models."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from lossmatch.model import build_mlp
from lossmatch.scaling import QuantileScaling, adapt_scaling, split_scaling


def test_quantile_scaling_by_hand():
    layer = QuantileScaling(n_quantiles=3)
    # Column 0: 0..4, quantiles at levels 0, 1/2, 1 are [0, 2, 4]. Column 1: constant 5.
    layer.adapt(np.array([[0, 5], [1, 5], [2, 5], [3, 5], [4, 5]], dtype=float))
    out = keras.ops.convert_to_numpy(layer(np.array([[1.0, 5.0], [3.0, 4.0], [-1.0, 6.0], [10.0, 5.0]])))
    # x=1: ramps (1-0)/2 = 1/2 and 0, mean 1/4; x=3: 1 and 1/2, mean 3/4; below q_0: 0; above q_2: 1.
    np.testing.assert_allclose(out[:, 0], [0.25, 0.75, 0.0, 1.0], atol=1e-6)
    # A constant column is a step at its value: x >= 5 gives 1, x = 4 gives 0.
    np.testing.assert_allclose(out[:, 1], [1.0, 0.0, 1.0, 1.0], atol=1e-6)


def test_quantile_scaling_rejects_bad_arguments():
    with pytest.raises(ValueError, match="n_quantiles"):
        QuantileScaling(n_quantiles=1)
    with pytest.raises(ValueError, match="non-empty 2-D"):
        QuantileScaling().adapt(np.zeros((0, 3)))


@pytest.mark.parametrize("scaling", ["rank", "standard"])
def test_scaled_mlp_predicts_on_raw_features_after_reload(tmp_path, scaling):
    rng = np.random.default_rng(0)
    X = rng.normal(loc=100.0, scale=30.0, size=(64, 4)).astype("float32")
    model = build_mlp(4, hidden_units=(8,), scaling=scaling)
    # One scaling layer, adapted on the training features.
    assert adapt_scaling(model, X) == 1
    before = model.predict(X, verbose=0)
    model.save(tmp_path / "m.keras")
    import lossmatch.losses  # noqa: F401 (registers the package's objects, as an export loader does)

    after = keras.saving.load_model(tmp_path / "m.keras").predict(X, verbose=0)
    # The reloaded model scales raw inputs the same way: identical predictions.
    np.testing.assert_allclose(before, after, rtol=1e-6)


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
