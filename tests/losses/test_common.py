"""Behaviour every lossmatch loss shares, checked once for all of them.

The per-loss files keep only what is specific to one loss: values derived by
hand and identities such as "γ = 0 gives α-weighted cross-entropy". Here each
loss in ``CASES`` goes through the same checks: no-positive batches, gradients,
bad parameters, get_config/from_config, .keras save and reload, one-step fit
with sample and class weights, and the Hydra config in ``conf/loss``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np
import pytest
import reference as ref
import tensorflow as tf
from hydra.utils import instantiate
from loss_batch import Y
from omegaconf import OmegaConf

from lossmatch.listwise import to_lists
from lossmatch.losses import (
    CombinedLoss,
    FocalLoss,
    PairwiseSoftZeroOneLoss,
    SoftF1Loss,
    SoftFBetaLoss,
    SoftJaccardLoss,
    WeightedBCELoss,
    bce_loss,
    combined_loss,
    focal_loss,
    soft_f1_loss,
    soft_fbeta_loss,
    soft_jaccard_loss,
    weighted_bce_loss,
)

CONF = Path(__file__).resolve().parents[2] / "conf" / "loss"

NEAR_PERFECT = [0.99, 0.01, 0.98, 0.02]
# Exactly wrong. Fine for the soft-count losses, whose counts are smooth in p.
WORST = [0.0, 1.0, 0.0, 1.0]
# Just inside the clip range: at exactly 0 or 1 the clip of the cross-entropy
# losses stops the gradient, as in Keras' own probability losses.
WORST_CLIPPED = [0.01, 0.99, 0.02, 0.98]
# No positives; p = 1 on a negative checks the clipping of the log losses.
NO_POSITIVES = (np.zeros(4, "float32"), np.array([0.0, 0.2, 0.3, 1.0], "float32"))


def _pointwise_model(loss):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="sgd", loss=loss)
    return model


def _pointwise_data():
    rng = np.random.default_rng(0)
    return rng.normal(size=(8, 3)).astype("float32"), np.array([1, 0, 0, 0, 1, 0, 0, 0], "float32")


def _list_model(loss):
    keras.utils.set_random_seed(0)
    inputs = keras.Input((4, 3))
    scores = keras.layers.Reshape((4,))(keras.layers.Dense(1)(inputs))
    model = keras.Model(inputs, scores)
    model.compile(optimizer="sgd", loss=loss)
    return model


def _list_data():
    # 11 candidate pairs of 4 left records, grouped into lists of up to 4 candidates.
    rng = np.random.default_rng(0)
    group = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2, 3, 3])
    x = rng.normal(size=(11, 3)).astype("float32")
    y = np.array([1, 0, 0, 0, 1, 0, 1, 0, 0, 1, 0], "float32")
    x_lists, y_lists, _ = to_lists(group, x, y)
    assert x_lists.shape == (4, 4, 3) and y_lists.shape == (4, 4)
    return x_lists, y_lists


POINTWISE_FIT_WEIGHTS = (
    {},
    {"sample_weight": np.arange(1, 9, dtype="float32")},
    {"class_weight": {0: 1.0, 1: 3.0}},
)
# Lists get one weight per list; class_weight has no meaning for (batch, list) labels.
LIST_FIT_WEIGHTS = ({}, {"sample_weight": np.array([1.0, 2.0, 1.0, 0.5], "float32")})


@dataclass(frozen=True)
class Case:
    """One loss and the batches its shared checks run on."""

    name: str  # also the conf/loss/<name>.yaml file
    make: Callable[[], keras.losses.Loss]  # the instance used by the model and gradient checks
    cls: type
    factory: Callable[..., keras.losses.Loss]
    # The NumPy formula of make()'s loss (tests/losses/reference.py): (y_true, y_pred) -> float.
    reference: Callable
    # Attribute values of the default instance (and of conf/loss/<name>.yaml).
    defaults: dict = field(default_factory=dict)
    # Non-default constructor arguments for the exact get_config check; None skips it.
    config_kwargs: dict | None = None
    # Bad values per parameter: {param: (allowed interval, out-of-range and string values)}.
    bad: dict = field(default_factory=dict)
    grad_labels: tuple = tuple(Y)
    grad_batches: tuple = (NEAR_PERFECT, WORST_CLIPPED)
    no_positives: tuple = NO_POSITIVES
    model: Callable = _pointwise_model
    data: Callable = _pointwise_data
    fit_weights: tuple = POINTWISE_FIT_WEIGHTS


EPSILON = "(0, inf)"
UNIT = "[0, 1]"
NON_NEGATIVE = "[0, inf)"

CASES = [
    Case(
        "bce", bce_loss, keras.losses.BinaryCrossentropy, bce_loss, ref.bce,
    ),
    Case(
        "soft_f1", soft_f1_loss, SoftF1Loss, soft_f1_loss, ref.soft_f1,
        defaults={"epsilon": 1e-7},
        config_kwargs={"epsilon": 1e-5},
        bad={"epsilon": (EPSILON, [0.0, -1e-7, -1.0, "1e-7"])},
        grad_batches=(NEAR_PERFECT, WORST),
        no_positives=(np.zeros(4, "float32"), np.array([0.1, 0.2, 0.3, 0.4], "float32")),
    ),
    Case(
        "soft_jaccard", soft_jaccard_loss, SoftJaccardLoss, soft_jaccard_loss, ref.soft_jaccard,
        defaults={"epsilon": 1e-7},
        config_kwargs={"epsilon": 1e-5},
        bad={"epsilon": (EPSILON, [0.0, -1.0, "1e-7"])},
        grad_batches=(NEAR_PERFECT, WORST),
        no_positives=(np.zeros(4, "float32"), np.zeros(4, "float32")),
    ),
    Case(
        "soft_fbeta", lambda: soft_fbeta_loss(beta=2.0), SoftFBetaLoss, soft_fbeta_loss,
        lambda y, p: ref.soft_fbeta(y, p, beta=2.0),
        defaults={"beta": 1.0, "epsilon": 1e-7},
        config_kwargs={"beta": 2.0, "epsilon": 1e-6},
        bad={"beta": (EPSILON, [0.0, -1.0, "2"]), "epsilon": (EPSILON, [0.0, "x"])},
        grad_batches=(NEAR_PERFECT, WORST),
        no_positives=(np.zeros(4, "float32"), np.array([0.1, 0.2, 0.3, 0.4], "float32")),
    ),
    Case(
        "focal", focal_loss, FocalLoss, focal_loss, lambda y, p: ref.focal(y, p, alpha=0.75, gamma=2.0),
        defaults={"alpha": 0.75, "gamma": 2.0},
        config_kwargs={"alpha": 0.5, "gamma": 1.0},
        bad={"alpha": (UNIT, [1.5, -0.1, "0.5"]), "gamma": (NON_NEGATIVE, [-1.0, "2"])},
        no_positives=(np.zeros(4, "float32"), np.array([0.1, 0.2, 0.3, 1.0], "float32")),
    ),
    Case(
        "combined", combined_loss, CombinedLoss, combined_loss, ref.combined,
        # The combined default alpha (0.25) differs from focal_loss's (0.75) on purpose.
        defaults={"weight_f1": 0.5, "epsilon": 1e-7, "alpha": 0.25, "gamma": 2.0},
        config_kwargs={"weight_f1": 0.3, "epsilon": 1e-6, "alpha": 0.6, "gamma": 1.0},
        bad={
            "weight_f1": (UNIT, [1.5, -0.5, "half"]),
            "epsilon": (EPSILON, [0.0]),
            "alpha": (UNIT, [2.0]),
            "gamma": (NON_NEGATIVE, [-0.5]),
        },
    ),
    Case(
        "weighted_bce", lambda: weighted_bce_loss(3.0), WeightedBCELoss, weighted_bce_loss,
        lambda y, p: ref.weighted_bce(y, p, pos_weight=3.0),
        defaults={"pos_weight": 1.0},
        config_kwargs={"pos_weight": 4.0},
        bad={"pos_weight": (EPSILON, [0.0, -2.0, "3"])},
    ),
    Case(
        "pairwise_soft_zero_one", PairwiseSoftZeroOneLoss, PairwiseSoftZeroOneLoss, PairwiseSoftZeroOneLoss,
        # "sum_over_batch_size": the per-item sum divided by the number of items.
        lambda y, s: ref.pairwise_soft_zero_one(y, s).sum() / np.size(s),
        defaults={"temperature": 1.0},
        config_kwargs={"temperature": 0.5, "reduction": "sum"},
        bad={"temperature": (EPSILON, [0.0, -1.0, "1"])},
        # Labels [1, 0, 1, 0]; scores rather than probabilities.
        grad_labels=(tuple(Y),),
        grad_batches=([[5.0, -5.0, 4.0, -4.0]], [[-5.0, 5.0, -4.0, 4.0]]),
        no_positives=(np.zeros((2, 3), "float32"), np.ones((2, 3), "float32")),
        model=_list_model,
        data=_list_data,
        fit_weights=LIST_FIT_WEIGHTS,
    ),
]
CASE_IDS = [case.name for case in CASES]
PARAMETRIZED = [case for case in CASES if case.bad]

# Rejected for every parameter: not finite, a string (even of a valid number),
# missing, or a bool (an int in Python, so a YAML "alpha: yes" must not become 1).
ALWAYS_BAD = [math.nan, math.inf, -math.inf, "0.5", None, True, False]


def _bad_value_cases():
    for case in PARAMETRIZED:
        for param, (interval, specific) in case.bad.items():
            values = {repr(v): v for v in [*specific, *ALWAYS_BAD]}  # without repeats
            for bad in values.values():
                yield pytest.param(case, param, bad, interval, id=f"{case.name}-{param}={bad!r}")


def _weighted_evaluate_cases():
    for case in CASES:
        for kwargs in case.fit_weights:
            if "sample_weight" in kwargs:
                yield pytest.param(case, kwargs["sample_weight"], id=case.name)


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_no_positive_batch_is_finite(case):
    y_true, y_pred = case.no_positives
    assert np.isfinite(float(case.make()(y_true, y_pred)))


# Gradients are compared with central differences (h = 1e-6) of the NumPy formula in
# float64. Keras computes in float32: the largest relative difference measured is 6e-5
# (pairwise, worst batch), 2e-6 elsewhere. Tolerance: 1e-4 relative, plus 1e-5 of the
# batch's largest gradient in absolute terms for elements whose gradient is ~0 (a soft
# count's exactly right element). A wrong sign, a missing factor 2 or β², or a dropped
# α_t changes a gradient by 10 % or more.
GRAD_RTOL, GRAD_ATOL_SHARE = 1e-4, 1e-5


@pytest.mark.parametrize("batch", [0, 1], ids=["near_perfect", "worst"])
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_gradients_match_finite_differences_of_the_formula(case, batch):
    y = np.asarray(case.grad_labels, "float32")
    p0 = np.asarray(case.grad_batches[batch], "float32")
    p = tf.Variable(p0)
    with tf.GradientTape() as tape:
        loss = case.make()(y, p)
    grad = tape.gradient(loss, p).numpy()
    expected = ref.central_difference(lambda x: case.reference(y, x), p0)
    # The value first: the gradient of a wrong formula could still agree by chance.
    np.testing.assert_allclose(float(loss), case.reference(y, p0), rtol=1e-5)
    atol = GRAD_ATOL_SHARE * np.abs(expected).max()
    np.testing.assert_allclose(grad, expected, rtol=GRAD_RTOL, atol=atol)
    # Same direction wherever the formula's gradient is not ~0: a sign flip fails here by name.
    moving = np.abs(expected) > atol
    assert moving.any()
    np.testing.assert_array_equal(np.sign(grad[moving]), np.sign(expected[moving]))


# Lists, not generators: a generator is spent after one collection, and the mutation
# runner collects the same imported module again in every mutant's process.
@pytest.mark.parametrize(("case", "param", "bad", "interval"), list(_bad_value_cases()))
def test_bad_parameters_raise(case, param, bad, interval):
    with pytest.raises(ValueError) as err:
        case.factory(**{param: bad})
    # The message names the factory, the parameter, the range and the value.
    assert str(err.value) == f"{case.factory.__name__}: {param} must be a number in {interval}, got {bad!r}"


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_dtype_reaches_the_computation(case):
    # dtype="float64" must reach keras.losses.Loss (and, for the combined loss, both terms):
    # the value is computed and returned in float64.
    # float32 inputs: the loss itself must cast them to its dtype.
    y, p = np.asarray(case.grad_labels, "float32"), np.asarray(case.grad_batches[0], "float32")
    assert case.cls(dtype="float64")(y, p).dtype == "float64"
    assert case.cls()(y, p).dtype == "float32"


@pytest.mark.parametrize("case", [c for c in CASES if c.name != "bce"], ids=[c.name for c in CASES if c.name != "bce"])
def test_call_gives_the_unweighted_value(case):
    # Loss.call (what Keras' own reduction wraps) agrees with calling the loss, reduced.
    y, p = np.asarray(case.grad_labels, "float32"), np.asarray(case.grad_batches[0], "float32")
    loss = case.make()
    np.testing.assert_allclose(float(np.mean(loss.call(y, p))), float(loss(y, p)), rtol=1e-6)


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_config_round_trip(case):
    loss = case.factory(**(case.config_kwargs or {}))
    config = loss.get_config()
    if case.config_kwargs is not None:
        # Exactly the constructor arguments plus the Loss base arguments.
        assert config == {"name": loss.name, "reduction": "sum_over_batch_size", **case.config_kwargs}
    assert case.cls.from_config(config).get_config() == config
    restored = keras.losses.deserialize(keras.losses.serialize(loss))
    assert isinstance(restored, case.cls) and restored.get_config() == config


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_save_and_reload_without_custom_objects(case, tmp_path):
    model = case.model(case.make())
    x, y = case.data()
    path = tmp_path / "model.keras"
    model.save(path)
    reloaded = keras.saving.load_model(path)
    # The registered class comes back with its parameters, and so does the value.
    assert isinstance(reloaded.loss, case.cls)
    assert reloaded.loss.get_config() == model.loss.get_config()
    np.testing.assert_allclose(
        reloaded.loss(y, reloaded.predict(x, verbose=0)), model.loss(y, model.predict(x, verbose=0)), rtol=1e-5
    )


@pytest.mark.parametrize(("case", "w"), list(_weighted_evaluate_cases()))
def test_evaluate_passes_sample_weight_to_the_loss(case, w):
    # Keras must hand sample_weight to the loss (the soft-count losses weight
    # their counts with it) rather than rescale the scalar: evaluate equals the
    # direct weighted call.
    model = case.model(case.make())
    x, y = case.data()
    np.testing.assert_allclose(
        model.evaluate(x, y, sample_weight=w, batch_size=len(x), verbose=0),
        model.loss(y, model.predict(x, verbose=0), sample_weight=w),
        rtol=1e-5,
    )


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_one_step_fit_with_sample_and_class_weights(case):
    model = case.model(case.make())
    x, y = case.data()
    for kwargs in case.fit_weights:
        history = model.fit(x, y, batch_size=len(x), epochs=1, verbose=0, **kwargs)
        assert np.isfinite(history.history["loss"][0])


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_defaults_and_hydra_config(case):
    cfg = OmegaConf.load(CONF / f"{case.name}.yaml")
    assert cfg.pop("name") == case.name
    for loss in (case.factory(), instantiate(cfg)):
        assert isinstance(loss, case.cls)
        assert {attr: getattr(loss, attr) for attr in case.defaults} == case.defaults
