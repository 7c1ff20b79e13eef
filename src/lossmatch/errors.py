"""Errors raised for bad user input (files, columns, values, parameters).

An ``InputError`` is caught by the command-line entry points and shown as one
line, without a traceback, before any training starts.
"""


class InputError(ValueError):
    """Bad input from the user: the message names what is wrong and what was expected."""
