"""Hydra's sweep grammar to Optuna distributions (pure functions, no study involved).

The grammar is the official hydra-optuna-sweeper's, with one deliberate difference: ``range``'s
stop is exclusive, as in Python and in Hydra's basic sweeper (``range(1, 4)`` is 1, 2, 3), where
the official plugin made it an inclusive upper bound.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import (
    ChoiceSweep,
    IntervalSweep,
    Override,
    RangeSweep,
    Transformer,
)
from optuna.distributions import (
    BaseDistribution,
    CategoricalChoiceType,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)


class SearchSpaceError(ValueError):
    """A ``params`` entry or sweep override that has no Optuna distribution."""


def _choices(override: Override) -> list[CategoricalChoiceType]:
    choices = []
    for value in override.sweep_iterator(transformer=Transformer.encode):
        if not isinstance(value, (str, int, float, bool, type(None))):
            raise SearchSpaceError(
                f"{override.input_line}: choice values must be str, int, float, bool or null, got {type(value).__name__}"
            )
        choices.append(value)
    return choices


def _range_distribution(override: Override, sweep: RangeSweep) -> BaseDistribution:
    if sweep.shuffle:
        return CategoricalDistribution(_choices(override))
    start, stop, step = sweep.start, sweep.stop, sweep.step
    if step is None or step == 0:
        raise SearchSpaceError(f"{override.input_line}: range needs a non-zero step")
    count = math.ceil((stop - start) / step - 1e-9)
    if step < 0 or count < 1:
        raise SearchSpaceError(
            f"{override.input_line}: range is empty or decreasing, expected start < stop and step > 0"
        )
    if any(isinstance(v, float) for v in (start, stop, step)):
        # Rounded so that 0.1-steps give 0.9, not 0.9000000000000001, as the last value.
        last = round(start + (count - 1) * step, 12)
        return FloatDistribution(float(start), float(last), step=float(step))
    return IntDistribution(int(start), int(start + (count - 1) * step), step=int(step))


def _interval_distribution(
    override: Override, sweep: IntervalSweep
) -> BaseDistribution:
    log = "log" in sweep.tags
    if isinstance(sweep.start, int) and isinstance(sweep.end, int):
        return IntDistribution(sweep.start, sweep.end, log=log)
    return FloatDistribution(float(sweep.start), float(sweep.end), log=log)


def distribution_from_override(override: Override) -> Any:
    """The Optuna distribution of one sweep override, or the plain value (a string) of a fixed one."""
    if not override.is_sweep_override():
        return override.get_value_element_as_str()
    value = override.value()
    try:
        if isinstance(value, ChoiceSweep):
            return CategoricalDistribution(_choices(override))
        if isinstance(value, RangeSweep):
            return _range_distribution(override, value)
        if isinstance(value, IntervalSweep):
            return _interval_distribution(override, value)
    except SearchSpaceError:
        raise
    except ValueError as err:  # Optuna's own check, e.g. log scale with low <= 0
        raise SearchSpaceError(f"{override.input_line}: {err}") from None
    raise SearchSpaceError(
        f"{override.input_line}: not supported by the Optuna sweeper; "
        "use choice(...), range(...), interval(a, b), int(interval(a, b)) or tag(log, interval(a, b))"
    )


def params_from_overrides(
    arguments: Sequence[str],
) -> tuple[dict[str, BaseDistribution], dict[str, str], list[str]]:
    """Split overrides into the search space, fixed values and deletions (``~key``).

    A later override of the same key wins, so the command line overrides ``hydra.sweeper.params``.
    """
    parsed = OverridesParser.create().parse_overrides(list(arguments))
    space: dict[str, BaseDistribution] = {}
    fixed: dict[str, str] = {}
    deletions: list[str] = []
    for override in parsed:
        if override.is_delete():
            assert override.input_line is not None
            deletions.append(override.input_line)
            continue
        key = override.get_key_element()
        value = distribution_from_override(override)
        space.pop(key, None)
        fixed.pop(key, None)
        if isinstance(value, BaseDistribution):
            space[key] = value
        else:
            fixed[key] = value
    return space, fixed, deletions


def grid_values(name: str, distribution: BaseDistribution) -> list[Any]:
    """Every value of a discrete distribution, for Optuna's GridSampler."""
    if isinstance(distribution, CategoricalDistribution):
        return list(distribution.choices)
    if isinstance(distribution, IntDistribution) and not distribution.log:
        return list(range(distribution.low, distribution.high + 1, distribution.step))
    if isinstance(distribution, FloatDistribution) and distribution.step is not None:
        count = round((distribution.high - distribution.low) / distribution.step) + 1
        return [
            round(distribution.low + i * distribution.step, 12) for i in range(count)
        ]
    raise SearchSpaceError(
        f"sampler=grid needs discrete parameters; {name} is {distribution!r}: use choice(...) or range(...)"
    )


def describe(space: dict[str, BaseDistribution]) -> str:
    """One line per parameter, for logs and the MLflow parent run."""
    return "\n".join(f"{name}: {dist!r}" for name, dist in sorted(space.items()))
