"""TensorFlow and Keras, imported late and quietly; seeds for reproducible runs.

TensorFlow 2.21 writes half a dozen C++ log lines to the process's stderr while it is
imported (CUDA probing, CPU instruction sets, an ``E0000 ... cuInit`` line on every machine
without a GPU) before ``TF_CPP_MIN_LOG_LEVEL`` takes effect, so setting the variable alone
does not silence them. We set it *and* point file descriptor 2 at /dev/null for the import.
``LOSSMATCH_DEBUG=1`` (``debug=true`` on the command line) shows everything.

Nothing else in lossmatch imports TensorFlow at module level before the checks of the
command line have run: a bad input answers without paying for the import.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import sys

DEBUG_ENV = "LOSSMATCH_DEBUG"


def debug_enabled() -> bool:
    return os.environ.get(DEBUG_ENV, "").lower() in ("1", "true", "yes")


@contextlib.contextmanager
def quiet_stderr():
    """Send everything written to file descriptor 2 (C++ logs included) to /dev/null.

    Python exceptions raised inside still propagate; their traceback is printed after
    the descriptor is restored.
    """
    if debug_enabled():
        yield
        return
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no usable descriptor 2 (embedded interpreters)
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def import_keras():
    """Import Keras (and TensorFlow, its backend) once, without the start-up noise."""
    if "keras" in sys.modules and "tensorflow" in sys.modules:
        return sys.modules["keras"]
    if not debug_enabled():
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    with quiet_stderr():
        import keras
        import tensorflow as tf

        # Same first device query as training makes: its cuInit message falls in the silence too.
        tf.config.list_logical_devices()
    if not debug_enabled():
        tf.get_logger().setLevel(logging.ERROR)
    # The imports leave about 600,000 long-lived objects that every full garbage collection
    # walks: clear_session's between the jobs of a multirun took 0.5 s each. Frozen, they are
    # skipped by the collector (reference counting still frees them as usual).
    gc.freeze()
    return keras


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and TensorFlow, and make TensorFlow's ops deterministic on CPU."""
    keras = import_keras()
    import tensorflow as tf

    # A sweep runs many jobs in one process: drop the previous job's graphs and layer names.
    keras.backend.clear_session()
    keras.utils.set_random_seed(int(seed))
    tf.config.experimental.enable_op_determinism()
