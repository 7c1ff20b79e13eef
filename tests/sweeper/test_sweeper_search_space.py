"""The official plugin's grammar maps to the same Optuna distributions (range's stop excepted)."""

from __future__ import annotations

import pytest
from hydra.core.override_parser.overrides_parser import OverridesParser
from optuna.distributions import (
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)

from hydra_plugins.lossmatch_optuna_sweeper._search_space import (
    SearchSpaceError,
    distribution_from_override,
    grid_values,
    params_from_overrides,
)


def _dist(line: str):
    return distribution_from_override(
        OverridesParser.create().parse_overrides([line])[0]
    )


@pytest.mark.parametrize(
    "line, expected",
    [
        ("key=choice(1,2)", CategoricalDistribution([1, 2])),
        ("key=choice(true, false)", CategoricalDistribution([True, False])),
        ("key=choice('hello', 'world')", CategoricalDistribution(["hello", "world"])),
        # range's stop is exclusive as in Python and Hydra's basic sweeper: 1, 2 (upstream: 1..3)
        ("key=range(1,3)", IntDistribution(1, 2)),
        ("key=range(0, 10, 3)", IntDistribution(0, 9, step=3)),  # 0, 3, 6, 9
        # -5.5, -5.0, ..., 5.0: 21 values, the last below the stop 5.5
        ("key=range(-5.5, 5.5, step=0.5)", FloatDistribution(-5.5, 5.0, step=0.5)),
        (
            "key=range(0.5, 5.5, step=1)",
            FloatDistribution(0.5, 4.5, step=1),
        ),  # 0.5 .. 4.5
        ("key=interval(1, 5)", FloatDistribution(1, 5)),
        ("key=int(interval(1, 5))", IntDistribution(1, 5)),
        ("key=tag(log, interval(1, 5))", FloatDistribution(1, 5, log=True)),
        ("key=tag(log, int(interval(1, 5)))", IntDistribution(1, 5, log=True)),
        ("key=tag(log, interval(1e-9, 1e-3))", FloatDistribution(1e-9, 1e-3, log=True)),
    ],
)
def test_override_to_distribution(line, expected):
    assert _dist(line) == expected


def test_shuffled_range_is_categorical():
    # shuffle() randomises the order; the set of values is what matters
    dist = _dist("key=shuffle(range(1,4))")
    assert isinstance(dist, CategoricalDistribution) and set(dist.choices) == {1, 2, 3}


@pytest.mark.parametrize(
    "line, message",
    [
        (
            "key=tag(log, interval(0, 1))",
            "key=tag(log, interval(0, 1))",
        ),  # log scale needs low > 0
        ("key=range(5, 1)", "empty or decreasing"),
        ("key=glob(*)", "not supported by the Optuna sweeper"),
    ],
)
def test_bad_sweeps_are_named(line, message):
    with pytest.raises(
        SearchSpaceError,
        match=message.replace("(", r"\(").replace(")", r"\)").replace("*", r"\*"),
    ):
        _dist(line)


@pytest.mark.parametrize(
    "arguments, expected",
    [
        (["key=choice(1,2)"], ({"key": CategoricalDistribution([1, 2])}, {}, [])),
        (["key=5"], ({}, {"key": "5"}, [])),
        (
            ["key1=choice(1,2)", "key2=5"],
            ({"key1": CategoricalDistribution([1, 2])}, {"key2": "5"}, []),
        ),
        (["~z"], ({}, {}, ["~z"])),
        (["~z=10"], ({}, {}, ["~z=10"])),
        (["+w=interval(0, 1)"], ({"+w": FloatDistribution(0, 1)}, {}, [])),
        # a later override wins: the command line fixes what hydra.sweeper.params searched
        (["x=interval(0, 1)", "x=0.5"], ({}, {"x": "0.5"}, [])),
        (["x=0.5", "x=interval(0, 1)"], ({"x": FloatDistribution(0, 1)}, {}, [])),
        (
            ["hparams_search=focal_optuna", "loss.gamma=interval(0.5, 5)"],
            (
                {"loss.gamma": FloatDistribution(0.5, 5)},
                {"hparams_search": "focal_optuna"},
                [],
            ),
        ),
    ],
)
def test_params_from_overrides(arguments, expected):
    assert params_from_overrides(arguments) == expected


def test_grid_values():
    assert grid_values("a", CategoricalDistribution(["x", "y"])) == ["x", "y"]
    assert grid_values("b", IntDistribution(1, 7, step=3)) == [1, 4, 7]
    # 0.1-steps rounded: 0.3, not 0.30000000000000004
    assert grid_values("c", FloatDistribution(0.1, 0.3, step=0.1)) == [0.1, 0.2, 0.3]
    with pytest.raises(
        SearchSpaceError, match="sampler=grid needs discrete parameters; d is"
    ):
        grid_values("d", FloatDistribution(0, 1))
