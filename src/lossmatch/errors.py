"""Errors raised for bad user input (files, columns, values, parameters).

An ``InputError`` is caught by the command-line entry points and shown as one
line, without a traceback, before any training starts.
"""


class InputError(ValueError):
    """Bad input from the user: the message names what is wrong and what was expected."""


class Terminated(KeyboardInterrupt):
    """The process received SIGTERM (``timeout``, ``docker stop``, SLURM, Kubernetes).

    A ``KeyboardInterrupt`` so that everything that cleans up after Ctrl-C (the MLflow run
    ends KILLED, a temporary export is removed) does the same here; ``lossmatch.cli`` then
    exits with status 143 (128 + SIGTERM).
    """
