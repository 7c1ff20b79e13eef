"""The attribute-aware model: grouping by map key, raw-feature predictions, save and reload."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from lossmatch.model_attribute import attribute_groups, build_attribute_model
from lossmatch.scaling import adapt_scaling, split_scaling

NAMES = ["title~title:jaro_winkler", "title~title:missing", "*~*:tfidf_word", "*~*:tfidf_word:margin_left",
         "price~price:numeric_abs", "title~title:exact"]


def test_groups_follow_map_keys():
    # Features group by the key before the first ':', in first-seen order, wherever they sit.
    assert attribute_groups(NAMES) == {"title~title": [0, 1, 5], "*~*": [2, 3], "price~price": [4]}


def test_one_embedding_per_attribute_and_reload(tmp_path):
    model = build_attribute_model(len(NAMES), feature_names=NAMES, attribute_units=3, hidden_units=(4,))
    # features -> rank scaling -> network; in the network one Dense embedding per key, each
    # reading only its own features.
    scaling, network = split_scaling(model)
    assert scaling is not None and scaling.name == "scaling"
    embeddings = [layer for layer in network.layers if layer.name.startswith("attribute_")]
    assert [layer.kernel.shape for layer in embeddings] == [(3, 3), (2, 3), (1, 3)]
    X = np.random.default_rng(0).random((32, len(NAMES))).astype("float32") * 50
    adapt_scaling(model, X)
    model.compile(optimizer="adam", loss="binary_crossentropy")
    model.fit(X, (X[:, 0] > 25).astype("float32"), epochs=1, verbose=0)
    before = model.predict(X, verbose=0)
    model.save(tmp_path / "a.keras")
    after = keras.saving.load_model(tmp_path / "a.keras").predict(X, verbose=0)
    # Probabilities in [0, 1], the same after a reload, from raw features.
    assert before.shape == (32, 1) and np.all((before >= 0) & (before <= 1))
    np.testing.assert_allclose(before, after, rtol=1e-6)


def test_bad_arguments():
    with pytest.raises(ValueError, match="feature_names"):
        build_attribute_model(3, feature_names=NAMES)
    with pytest.raises(ValueError, match="attribute_units"):
        build_attribute_model(len(NAMES), feature_names=NAMES, attribute_units=0)
