"""Tests for lossmatch.imbalance: class weights, resampling, prior correction."""

import math

import numpy as np
import pytest
from omegaconf import OmegaConf
from sklearn.metrics import log_loss

from lossmatch.errors import InputError
from lossmatch.imbalance import (
    balanced_class_weights,
    check_class_weight_mapping,
    class_weights_from_losses,
    correct_prior,
    resample,
    validation_class_weights,
)

# --- balanced_class_weights -------------------------------------------------


def test_balanced_weights_hand_computed():
    # 8 samples, 6 negatives, 2 positives: w0 = 8 / (2*6) = 2/3, w1 = 8 / (2*2) = 2
    weights = balanced_class_weights(np.array([0, 0, 0, 0, 0, 0, 1, 1]))
    assert weights == pytest.approx({0: 2 / 3, 1: 2.0})
    # Python int keys and float values, as keras' fit(class_weight=...) wants.
    assert all(type(k) is int and type(v) is float for k, v in weights.items())


def test_balanced_weights_of_float_labels():
    # Labels read from a CSV are often floats; keys still come back as ints.
    assert balanced_class_weights([0.0, 1.0, 1.0, 1.0]) == pytest.approx({0: 2.0, 1: 4 / 6})


# --- class_weights_from_losses ----------------------------------------------


@pytest.mark.parametrize(
    ("losses", "smoothing", "expected"),
    [
        ([1.0, 3.0], 1.0, [0.5, 1.5]),  # [1, 3] / 4 * 2
        ([1.0, 3.0], 2.0, [0.2, 1.8]),  # [1, 9] / 10 * 2
        ([1.0, 3.0], 0.0, [1.0, 1.0]),  # smoothing 0: all ones
        ([0.0, 2.0], 0.0, [1.0, 1.0]),  # 0**0 = 1, still ones
        ([2.0, 2.0, 4.0], 1.0, [0.75, 0.75, 1.5]),  # [2, 2, 4] / 8 * 3
        ([0.0, 0.0], 1.0, [1.0, 1.0]),  # nothing to correct
    ],
)
def test_weights_from_losses(losses, smoothing, expected):
    np.testing.assert_allclose(class_weights_from_losses(losses, smoothing), expected, rtol=1e-12)


@pytest.mark.parametrize(("losses", "smoothing"), [([1.0, -1.0], 1.0), ([1.0, math.nan], 1.0), ([], 1.0),
                                                   ([1.0, 2.0], -1.0), ([1.0, 2.0], math.inf), ([1.0, 2.0], "1")])
def test_weights_from_losses_rejects_bad_input(losses, smoothing):
    with pytest.raises(ValueError, match="class_weights_from_losses"):
        class_weights_from_losses(losses, smoothing)


# --- validation_class_weights ----------------------------------------------


def test_validation_weights_binary_hand_computed():
    y = np.array([0, 0, 0, 1, 1])
    p = np.array([0.1, 0.2, 0.4, 0.5, 0.8])
    # Class 0 rows, P(0) = [0.9, 0.8, 0.6]: L0 = (0.1053605 + 0.2231436 + 0.5108256) / 3 = 0.2797766
    # Class 1 rows, P(1) = [0.5, 0.8]:      L1 = (0.6931472 + 0.2231436) / 2 = 0.4581454
    l0 = -(np.log(0.9) + np.log(0.8) + np.log(0.6)) / 3
    l1 = -(np.log(0.5) + np.log(0.8)) / 2
    # The same numbers from scikit-learn's log_loss on each class's rows.
    assert l0 == pytest.approx(log_loss([1, 1, 1], [0.9, 0.8, 0.6], labels=[0, 1]))
    assert l1 == pytest.approx(log_loss([1, 1], [0.5, 0.8], labels=[0, 1]))
    # smoothing 1: 2 * [L0, L1] / (L0 + L1) = [0.7585, 1.2415]; the harder class 1 weighs more.
    np.testing.assert_allclose(validation_class_weights(y, p), 2 * np.array([l0, l1]) / (l0 + l1), rtol=1e-9)
    np.testing.assert_allclose(validation_class_weights(y, p, smoothing=0.0), [1.0, 1.0])


def test_validation_weights_two_column_input_matches_binary():
    y = np.array([0, 0, 0, 1, 1])
    p = np.array([0.1, 0.2, 0.4, 0.5, 0.8])
    np.testing.assert_allclose(
        validation_class_weights(y, np.column_stack([1 - p, p])), validation_class_weights(y, p)
    )


def test_all_rows_one_vs_rest_log_loss_is_symmetric_for_two_classes():
    # Why the weights use each class's own rows: over all rows, the two binary
    # one-vs-rest log losses coincide, which would always give weights [1, 1].
    y = np.array([0, 0, 0, 1, 1])
    p = np.array([0.1, 0.2, 0.4, 0.5, 0.8])
    assert log_loss(y == 1, p) == pytest.approx(log_loss(y == 0, 1 - p))


def test_validation_weights_three_classes():
    y = np.array([0, 1, 2, 2])
    prob = np.array([[0.8, 0.1, 0.1], [0.2, 0.5, 0.3], [0.1, 0.1, 0.8], [0.3, 0.3, 0.4]])
    # L0 = -log 0.8, L1 = -log 0.5, L2 = -(log 0.8 + log 0.4) / 2; weights = 3 * L / sum(L)
    losses = np.array([-np.log(0.8), -np.log(0.5), -(np.log(0.8) + np.log(0.4)) / 2])
    np.testing.assert_allclose(validation_class_weights(y, prob), 3 * losses / losses.sum(), rtol=1e-9)


def test_validation_weights_shape_mismatch():
    with pytest.raises(ValueError, match="y_prob must have shape"):
        validation_class_weights([0, 1, 0], [0.2, 0.7])


# --- check_class_weight_mapping --------------------------------------------


@pytest.mark.parametrize(
    "mapping",
    [{0: 3.0, 1: 1.0}, {"0": 3, "1": 1}, {1: 1.0, 0: 3}, OmegaConf.create({"0": 3.0, "1": 1.0})],
    ids=["ints", "yaml_strings", "reordered", "omegaconf"],
)
def test_valid_mapping(mapping):
    result = check_class_weight_mapping(mapping)
    assert result == {0: 3.0, 1: 1.0}
    assert all(type(k) is int and type(v) is float for k, v in result.items())


@pytest.mark.parametrize(
    "mapping",
    [
        {0: 3.0},  # class 1 missing
        {0: 1.0, 1: 1.0, 2: 1.0},  # unknown class
        {0: 0.0, 1: 1.0},  # not positive
        {0: -1.0, 1: 1.0},
        {0: math.nan, 1: 1.0},
        {0: math.inf, 1: 1.0},
        {0: "3", 1: 1.0},  # a string weight
        {0: None, 1: 1.0},
        {0: True, 1: 1.0},  # a bool is not a weight
        {False: 1.0, True: 2.0},  # nor a class
        {0: 1.0, "0": 2.0, 1: 1.0},  # class 0 twice
        "balanced",  # not a mapping
        [3.0, 1.0],
    ],
)
def test_invalid_mapping_raises_input_error(mapping):
    with pytest.raises(InputError) as err:
        check_class_weight_mapping(mapping)
    # The message names the setting and echoes the value.
    assert str(err.value).startswith("trainer.class_weight")
    assert repr(mapping) in str(err.value)


# --- resample ------------------------------------------------------------

X = np.arange(200, dtype=float).reshape(100, 2)
Y = np.r_[np.zeros(90, int), np.ones(10, int)]  # 90 negatives, 10 positives


def test_oversample_counts():
    X_res, y_res = resample(X, Y, "oversample", 0.5, seed=0)
    # Positives duplicated up to 0.5 * 90 = 45; negatives kept.
    assert np.bincount(y_res).tolist() == [90, 45]
    # Only original rows, and every new positive row is an original positive.
    assert set(map(tuple, X_res[y_res == 1])) == set(map(tuple, X[Y == 1]))


def test_undersample_counts():
    X_res, y_res = resample(X, Y, "undersample", 0.5, seed=0)
    # Negatives cut down to 10 / 0.5 = 20; positives kept.
    assert np.bincount(y_res).tolist() == [20, 10]


def test_resample_is_reproducible_with_seed():
    a = resample(X, Y, "undersample", 1.0, seed=3)
    b = resample(X, Y, "undersample", 1.0, seed=3)
    np.testing.assert_array_equal(a[0], b[0])


def test_none_returns_inputs_unchanged():
    X_res, y_res = resample(X, Y, "none", 0.5, seed=0)
    assert X_res is X and y_res is Y


@pytest.mark.parametrize("method", ["smote", "", None, "Oversample"])
def test_bad_method(method):
    with pytest.raises(InputError, match="trainer.sampling must be one of none, oversample, undersample"):
        resample(X, Y, method, 0.5, seed=0)


@pytest.mark.parametrize("ratio", [0.0, -0.5, 1.5, math.nan, math.inf, "0.5", None, True])
def test_bad_ratio(ratio):
    with pytest.raises(InputError, match=r"trainer.sampling_ratio must be a number in \(0, 1\]") as err:
        resample(X, Y, "oversample", ratio, seed=0)
    assert repr(ratio) in str(err.value)


def test_ratio_already_reached_is_a_warned_no_op():
    # The split is already at 10 / 90 = 0.11 >= 0.05: nothing to resample, and the user is told.
    with pytest.warns(UserWarning, match="trainer.sampling_ratio=0.05"):
        X_res, y_res = resample(X, Y, "oversample", 0.05, seed=0)
    assert X_res is X and y_res is Y


# --- correct_prior -------------------------------------------------------


def test_correct_prior_identity_when_priors_equal():
    p = np.array([0.0, 0.2, 0.5, 0.9, 1.0])
    np.testing.assert_allclose(correct_prior(p, 0.3, 0.3), p, rtol=1e-12)


def test_correct_prior_hand_computed():
    # pi = 0.1, pi_s = 0.5, p = 0.5: 0.5*0.2 / (0.5*0.2 + 0.5*1.8) = 0.1 / 1.0 = 0.1
    # pi = 0.1, pi_s = 0.5, p = 0.9: 0.9*0.2 / (0.9*0.2 + 0.1*1.8) = 0.18 / 0.36 = 0.5
    np.testing.assert_allclose(correct_prior([0.5, 0.9], 0.1, 0.5), [0.1, 0.5], rtol=1e-12)
    # pi = 0.2, pi_s = 0.5, p = 0.8: 0.8*0.4 / (0.8*0.4 + 0.2*1.6) = 0.32 / 0.64 = 0.5
    np.testing.assert_allclose(correct_prior(0.8, 0.2, 0.5), 0.5, rtol=1e-12)


def test_correct_prior_inverts():
    # Correcting to the sampled prior and back returns the original probabilities.
    p = np.array([0.05, 0.3, 0.7])
    np.testing.assert_allclose(correct_prior(correct_prior(p, 0.1, 0.4), 0.4, 0.1), p, rtol=1e-12)


@pytest.mark.parametrize(("train_prior", "sampled_prior"), [(0.0, 0.5), (0.1, 1.0), (math.nan, 0.5), ("0.1", 0.5)])
def test_correct_prior_rejects_bad_priors(train_prior, sampled_prior):
    with pytest.raises(ValueError, match=r"must be a number in \(0, 1\)"):
        correct_prior([0.5], train_prior, sampled_prior)
