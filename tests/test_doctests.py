"""The numbers shown in docstring examples are the numbers the code gives.

As in the Keras and keras-rs sources, the public losses, metrics and imbalance
functions show worked examples in their docstrings; each one runs here as a test.
A plain test file (rather than ``--doctest-modules``) keeps README's test command
as it is and lets the mutation run treat the examples like any other test.
"""

from __future__ import annotations

import doctest
import importlib
import inspect

import pytest

# module -> the public names whose docstrings must show an example.
DOCUMENTED = {
    "lossmatch.losses.bce": ["bce_loss"],
    "lossmatch.losses.weighted_bce": ["WeightedBCELoss", "weighted_bce_loss"],
    "lossmatch.losses.focal": ["FocalLoss", "focal_loss"],
    "lossmatch.losses.soft_f1": ["SoftF1Loss", "soft_f1_loss"],
    "lossmatch.losses.soft_fbeta": ["SoftFBetaLoss", "soft_fbeta_loss"],
    "lossmatch.losses.soft_jaccard": ["SoftJaccardLoss", "soft_jaccard_loss"],
    "lossmatch.losses.combined": ["CombinedLoss", "combined_loss"],
    "lossmatch.losses.pairwise_soft_zero_one": ["PairwiseSoftZeroOneLoss"],
    "lossmatch.metrics": ["evaluate", "best_f1_threshold", "half_best_f1_threshold"],
    "lossmatch.imbalance": [
        "balanced_class_weights",
        "class_weights_from_losses",
        "validation_class_weights",
        "check_class_weight_mapping",
        "resample",
        "correct_prior",
    ],
}
# Round-tripped outputs (lists, dicts) may wrap differently; the numbers must match exactly.
FLAGS = doctest.NORMALIZE_WHITESPACE


def _cases():
    for module_name, names in DOCUMENTED.items():
        for name in names:
            yield pytest.param(module_name, name, id=f"{module_name.removeprefix('lossmatch.')}.{name}")


def _docstring_test(module_name: str, name: str) -> doctest.DocTest:
    module = importlib.import_module(module_name)
    # Read the docstring through any wrapper (the mutation tool wraps functions), and
    # run the example in the module's namespace, as ``python -m doctest`` would.
    obj = inspect.unwrap(getattr(module, name))
    # getdoc strips the indentation; the line number is the definition's, close enough to find it.
    return doctest.DocTestParser().get_doctest(
        inspect.getdoc(obj) or "", dict(vars(module)), f"{module_name}.{name}", module.__file__,
        inspect.getsourcelines(obj)[1],
    )


@pytest.mark.parametrize(("module_name", "name"), list(_cases()))  # a list: collected once per mutant
def test_docstring_example(module_name, name):
    test = _docstring_test(module_name, name)
    # Every listed name shows at least one example with an expected output.
    assert any(example.want for example in test.examples), f"{test.name}: no example with an output"
    output: list[str] = []
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    result = runner.run(test, out=output.append)
    assert result.failed == 0, "".join(output)
