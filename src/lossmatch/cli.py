"""Command-line helpers shared by train.py and the pipelines."""

from __future__ import annotations

import contextlib
import sys

from lossmatch.errors import InputError


@contextlib.contextmanager
def report_input_errors(debug: bool = False):
    """Turn an ``InputError`` into one line on stderr and exit status 2.

    With ``debug`` the exception propagates with its traceback. Other errors
    are real bugs and keep their traceback.
    """
    try:
        yield
    except InputError as exc:
        if debug:
            raise
        print(f"lossmatch: error: {exc}", file=sys.stderr, flush=True)
        sys.exit(2)


def objective(result: dict, cfg) -> float:
    """The figure a sweep optimises: ``optimized_metric`` such as ``val_f1`` (never a test figure)."""
    name = str(cfg.get("optimized_metric", "val_f1"))
    split, _, metric = name.partition("_")
    if split != "val" or metric not in result["val"]:
        raise InputError(f"optimized_metric must be a validation metric such as val_f1, got {name!r}")
    return float(result["val"][metric])
