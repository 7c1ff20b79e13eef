"""Tests for lossmatch.imbalance: class weights, resampling, prior correction."""

import math
import re

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


def test_balanced_weights_refuse_empty_labels():
    with pytest.raises(ValueError, match=r"^balanced_class_weights: y is empty$"):
        balanced_class_weights([])


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
                                                   ([1.0, 2.0], -1.0), ([1.0, 2.0], math.inf), ([1.0, 2.0], "1"),
                                                   ([1.0, 2.0], True)])
def test_weights_from_losses_rejects_bad_input(losses, smoothing):
    if type(smoothing) is float and smoothing == 1.0:  # these cases break the losses, not the smoothing
        expected = f"per_class_losses must be non-empty, finite and >= 0, got {losses!r}"
    else:
        expected = f"smoothing must be a number in [0, inf), got {smoothing!r}"
    with pytest.raises(ValueError) as err:
        class_weights_from_losses(losses, smoothing)
    assert str(err.value) == f"class_weights_from_losses: {expected}"


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
    # smoothing 1: 2 * [L0, L1] / (L0 + L1) = [0.7583, 1.2417]; the harder class 1 weighs more.
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


# The worked 4-class example validation_class_weights was specified from (Mat Kelcey,
# "deriving class_weights from validation data", 2020): classes 0 and 1 are confused.
SEED_Y = [3, 1, 1, 0, 2, 0, 1, 2, 3, 3]
SEED_PROB = [
    [0.0, 0.1, 0.1, 0.8], [0.4, 0.5, 0.0, 0.1], [0.5, 0.3, 0.1, 0.1], [0.4, 0.3, 0.1, 0.2],
    [0.1, 0.1, 0.8, 0.0], [0.7, 0.1, 0.1, 0.1], [0.3, 0.6, 0.1, 0.0], [0.0, 0.1, 0.9, 0.0],
    [0.1, 0.0, 0.0, 0.9], [0.0, 0.1, 0.1, 0.8],
]


def test_validation_weights_seed_four_class_example():
    # One-vs-rest over all 10 rows: the probability of the right side of "class c or not"
    # is p_c on class-c rows and 1 − p_c elsewhere; L_c = mean of −log of it.
    #   c = 0: [1, .6, .5, .4, .9, .7, .7, 1, .9, 1]
    #          L0 = (0.5108 + 0.6931 + 0.9163 + 2*0.1054 + 2*0.3567) / 10 = 0.30443
    #   c = 1: [.9, .5, .3, .7, .9, .9, .6, .9, 1, .9]
    #          L1 = (5*0.1054 + 0.6931 + 1.2040 + 0.3567 + 0.5108) / 10 = 0.32914
    #   c = 2: [.9, 1, .9, .9, .8, .9, .9, .9, 1, .9]      L2 = (7*0.1054 + 0.2231) / 10 = 0.09607
    #   c = 3: [.8, .9, .9, .8, 1, .9, 1, 1, .9, .8]       L3 = (3*0.2231 + 4*0.1054) / 10 = 0.10909
    # smoothing 1: 4 * L / (L0 + L1 + L2 + L3) = 4 * L / 0.83873 = [1.4519, 1.5697, 0.4582, 0.5202]
    np.testing.assert_allclose(
        validation_class_weights(SEED_Y, SEED_PROB), [1.4519, 1.5697, 0.4582, 0.5202], atol=5e-5
    )
    # Smoothing 0 gives ones, smoothing 2 squares the losses first:
    #   4 * L^2 / Σ L^2 = 4 * [0.092680, 0.108335, 0.009229, 0.011900] / 0.222144
    np.testing.assert_allclose(validation_class_weights(SEED_Y, SEED_PROB, smoothing=0.0), np.ones(4))
    np.testing.assert_allclose(
        validation_class_weights(SEED_Y, SEED_PROB, smoothing=2.0), [1.6688, 1.9507, 0.1662, 0.2143], atol=5e-5
    )


def test_validation_weights_three_classes_one_vs_rest():
    y = np.array([0, 1, 2, 2])
    prob = np.array([[0.8, 0.1, 0.1], [0.2, 0.5, 0.3], [0.1, 0.1, 0.8], [0.3, 0.3, 0.4]])
    # K = 3: one-vs-rest over all 4 rows, p_c on class-c rows and 1 − p_c elsewhere:
    #   L0 = −(log 0.8 + log 0.8 + log 0.9 + log 0.7) / 4 = (2*0.2231436 + 0.1053605 + 0.3566749) / 4 = 0.2270806
    #   L1 = −(log 0.9 + log 0.5 + log 0.9 + log 0.7) / 4 = (2*0.1053605 + 0.6931472 + 0.3566749) / 4 = 0.3151358
    #   L2 = −(log 0.9 + log 0.7 + log 0.8 + log 0.4) / 4 = (0.1053605 + 0.3566749 + 0.2231436 + 0.9162907) / 4
    #      = 0.4003674
    # weights = 3 * L / 0.9425839 = [0.7227388, 1.0029955, 1.2742657]
    np.testing.assert_allclose(validation_class_weights(y, prob), [0.7227388, 1.0029955, 1.2742657], rtol=1e-6)
    # Class-c rows only (the binary rule) would give L0 = −log 0.8, L1 = −log 0.5, L2 = 0.6697: not this.


def test_validation_weights_absent_class_among_three():
    # No row of class 1: its one-vs-rest loss is the probability it takes on the others,
    #   L1 = −(log 0.9 + log 0.9 + log 0.7) / 3 = (2*0.1053605 + 0.3566749) / 3 = 0.1891320
    # and the others as before: p_c on class-c rows, 1 − p_c elsewhere,
    #   L0 = −(log 0.8 + log 0.9 + log 0.8) / 3 = (2*0.2231436 + 0.1053605) / 3 = 0.1838826
    #   L2 = −(log 0.9 + log 0.8 + log 0.7) / 3 = (0.1053605 + 0.2231436 + 0.3566749) / 3 = 0.2283930
    y = np.array([0, 2, 2])
    prob = np.array([[0.8, 0.1, 0.1], [0.1, 0.1, 0.8], [0.2, 0.3, 0.7]])
    losses = np.array([0.1838826, 0.1891320, 0.2283930])
    np.testing.assert_allclose(validation_class_weights(y, prob), 3 * losses / losses.sum(), rtol=1e-6)


def test_validation_weights_binary_class_absent_gets_loss_zero():
    # Only class 0 rows: L0 = −(log 0.9 + log 0.8) / 2 = 0.1642520, L1 = 0 -> weights [2, 0].
    np.testing.assert_allclose(validation_class_weights([0, 0], [0.1, 0.2]), [2.0, 0.0])


def test_validation_weights_binary_first_class_absent_still_weighs_the_second():
    # Only class 1 rows: L0 = 0 (no class-0 row), L1 = -(log 0.5 + log 0.8) / 2 > 0 -> weights [0, 2],
    # one per class (not a single weight because class 0 came first and was empty).
    np.testing.assert_allclose(validation_class_weights([1, 1], [0.5, 0.8]), [0.0, 2.0])


def test_validation_weights_of_float32_scores_clip_at_float64_eps():
    # Keras predicts float32. Class 0: -log(1 - 0.5) = log 2; class 1 scored 0: clipped at float64's
    # eps, -log(2.2e-16) = 36.04 (float32's eps would give 15.9). w = 2 * [L0, L1] / (L0 + L1).
    l0, l1 = math.log(2), -math.log(np.finfo(np.float64).eps)
    weights = validation_class_weights([0, 1], np.array([0.5, 0.0], dtype=np.float32))
    np.testing.assert_allclose(weights, 2 * np.array([l0, l1]) / (l0 + l1), rtol=1e-6)


@pytest.mark.parametrize(("y", "prob", "n", "shape"), [([0, 1, 0], [0.2, 0.7], 3, (2, 2)),
                                                       ([0, 1], np.ones((2, 2, 2)) / 2, 2, (2, 2, 2))])
def test_validation_weights_shape_mismatch(y, prob, n, shape):
    with pytest.raises(ValueError) as err:
        validation_class_weights(y, prob)
    assert str(err.value) == (
        f"validation_class_weights: y_prob must have shape (n,) or (n, n_classes) with n = len(y_true) = {n}, "
        f"got {shape}"
    )


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
    ("mapping", "why"),
    [
        ({0: 3.0}, "class 1 is missing"),
        ({1: 2.0}, "class 0 is missing"),
        ({0: 1.0, 1: 1.0, 2: 1.0}, "key 2 is not class 0 or 1"),
        ({0: 0.0, 1: 1.0}, "weight 0.0 of class 0 is not a positive finite number"),
        ({0: 1.0, 1: -1.0}, "weight -1.0 of class 1 is not a positive finite number"),
        ({0: math.nan, 1: 1.0}, "weight nan of class 0 is not a positive finite number"),
        ({0: math.inf, 1: 1.0}, "weight inf of class 0 is not a positive finite number"),
        ({0: "3", 1: 1.0}, "weight '3' of class 0 is not a positive finite number"),  # a string weight
        ({0: None, 1: 1.0}, "weight None of class 0 is not a positive finite number"),
        ({0: True, 1: 1.0}, "weight True of class 0 is not a positive finite number"),  # a bool is not a weight
        ({False: 1.0, True: 2.0}, "key False is not a class"),  # nor a class
        ({0: 1.0, "0": 2.0, 1: 1.0}, "class 0 is given twice"),
        ({"zero": 1.0, 1: 1.0}, "key 'zero' is not class 0 or 1"),
        ("balanced", "not a mapping"),
        ([3.0, 1.0], "not a mapping"),
    ],
)
def test_invalid_mapping_raises_input_error(mapping, why):
    with pytest.raises(InputError) as err:
        check_class_weight_mapping(mapping)
    # The message names the setting, what is wrong, what is expected and echoes the value.
    assert str(err.value) == (
        f"trainer.class_weight: {why}; expected a mapping {{0: w0, 1: w1}} with positive finite weights, "
        f"got {mapping!r}"
    )


def test_mapping_keys_with_spaces_are_classes():
    # " 1 " from a hand-edited YAML string is class 1.
    assert check_class_weight_mapping({" 1 ": 2.0, 0: 1}) == {0: 1.0, 1: 2.0}


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
    with pytest.raises(InputError) as err:
        resample(X, Y, method, 0.5, seed=0)
    assert str(err.value) == f"trainer.sampling must be one of none, oversample, undersample, got {method!r}"


@pytest.mark.parametrize("ratio", [0.0, -0.5, 1.5, math.nan, math.inf, "0.5", None, True])
def test_bad_ratio(ratio):
    with pytest.raises(InputError) as err:
        resample(X, Y, "oversample", ratio, seed=0)
    assert str(err.value) == (
        f"trainer.sampling_ratio must be a number in (0, 1] (minority/majority after resampling), got {ratio!r}"
    )


def test_defaults_are_no_resampling_and_full_balance():
    # No method: the split comes back as it is. Oversampling without a ratio balances fully (1.0).
    X_res, y_res = resample(X, Y)
    assert X_res is X and y_res is Y
    assert np.bincount(resample(X, Y, "oversample", seed=0)[1]).tolist() == [90, 90]


def test_a_split_without_positives_cannot_be_resampled():
    # 0 positives: the ratio 0 / 90 is not "already balanced"; imbalanced-learn refuses one class.
    with pytest.raises(InputError, match=r"^trainer\.sampling_ratio=0\.5 cannot be used with trainer\.sampling='oversample'"):
        resample(X, np.zeros(100, int), "oversample", 0.5, seed=0)


def test_ratio_one_is_allowed():
    # The upper bound is included: 1.0 means as many positives as negatives.
    assert np.bincount(resample(X, Y, "oversample", 1.0, seed=0)[1]).tolist() == [90, 90]


def test_ratio_already_reached_is_a_warned_no_op():
    # The split is already at 10 / 90 = 0.11 >= 0.05: nothing to resample, and the user is told.
    message = ("trainer.sampling='oversample': the training split is already balanced to 0.111 >= "
               "trainer.sampling_ratio=0.05; not resampled")
    with pytest.warns(UserWarning, match=f"^{re.escape(message)}$"):
        X_res, y_res = resample(X, Y, "oversample", 0.05, seed=0)
    assert X_res is X and y_res is Y


def test_ratio_exactly_reached_is_a_no_op():
    # 10 positives, 50 negatives: 0.2 already, so asking for 0.2 changes nothing (>=, not >).
    X5, y5 = np.arange(120.0).reshape(60, 2), np.r_[np.zeros(50, int), np.ones(10, int)]
    with pytest.warns(UserWarning, match=r"already balanced to 0\.200 >= trainer\.sampling_ratio=0\.2;"):
        X_res, y_res = resample(X5, y5, "undersample", 0.2, seed=0)
    assert X_res is X5 and y_res is y5


def test_sampler_refusal_is_one_input_error():
    # Three classes: imbalanced-learn takes a float ratio for two classes only.
    y3 = np.r_[np.zeros(80, int), np.ones(10, int), np.full(10, 2)]
    with pytest.raises(InputError) as err:
        resample(X, y3, "oversample", 0.5, seed=0)
    assert str(err.value).startswith(
        "trainer.sampling_ratio=0.5 cannot be used with trainer.sampling='oversample' on this training split: "
    )
    assert isinstance(err.value.__cause__, ValueError)


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


@pytest.mark.parametrize(
    ("train_prior", "sampled_prior", "name", "bad"),
    [(0.0, 0.5, "train_prior", 0.0), (0.1, 1.0, "sampled_prior", 1.0), (math.nan, 0.5, "train_prior", math.nan),
     ("0.1", 0.5, "train_prior", "0.1"), (0.1, True, "sampled_prior", True)],
)
def test_correct_prior_rejects_bad_priors(train_prior, sampled_prior, name, bad):
    with pytest.raises(ValueError) as err:
        correct_prior([0.5], train_prior, sampled_prior)
    assert str(err.value) == f"correct_prior: {name} must be a number in (0, 1), got {bad!r}"
