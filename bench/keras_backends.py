"""What the Keras backend costs a run: import and training time of the default network per backend.

Issue 13's end-to-end target (``python train.py`` on FEBRL4 no slower than the classic
recordlinkage recipe) is out of reach while ``import tensorflow`` + Keras alone take about 4.6 s
of a run that the classic recipe finishes in 6.6 s. Keras 3 runs the same model code on other
backends; this script measures, in fresh processes, what each would cost:

- ``import keras`` (with the backend's own import);
- building, compiling and training the default network (``model=mlp``: 29 features -> 64 -> 32
  -> 1, dropout 0.1, Adam 1e-3, binary cross-entropy) for 1,500 optimizer steps at batch 256
  on synthetic data (the trainer's minimum budget on FEBRL4), first call (tracing or
  compiling) and the rest apart.

Each backend runs with its own interpreter (``--python backend=/path/to/python``: JAX is not a
dependency of lossmatch, so it lives in another virtualenv), ``--rounds`` times, interleaved;
the script prints medians and the ratio to the tensorflow backend measured in the same run.

    python bench/keras_backends.py [--rounds 3] [--python jax=/tmp/jaxenv/bin/python]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

# Run in a fresh interpreter per backend: the import is part of what is measured.
PROBE = r"""
import json, os, time
start = time.perf_counter()
import keras
imported = time.perf_counter() - start
import numpy as np
rng = np.random.default_rng(0)
X = rng.random((20000, 29), dtype=np.float32)
y = (rng.random((20000, 1)) < 0.1).astype(np.float32)
keras.utils.set_random_seed(0)
inputs = keras.Input((29,))
h = keras.layers.Dropout(0.1)(keras.layers.Dense(64, activation="relu")(inputs))
h = keras.layers.Dropout(0.1)(keras.layers.Dense(32, activation="relu")(h))
model = keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(h))
model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="binary_crossentropy", steps_per_execution=25)
start = time.perf_counter()
model.fit(X[:6400], y[:6400], batch_size=256, epochs=1, verbose=0, shuffle=False)  # 25 steps: trace/compile
first = time.perf_counter() - start
start = time.perf_counter()
model.fit(X, y, batch_size=256, epochs=int(np.ceil(1475 / 79)), steps_per_epoch=79, verbose=0)
rest = time.perf_counter() - start
steps = 25 + 79 * int(np.ceil(1475 / 79))
print(json.dumps({"backend": keras.backend.backend(), "import": imported, "first": first, "rest": rest,
                  "steps": steps}))
"""


def probe(python: str, backend: str) -> dict:
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3"}
    out = subprocess.run([python, "-c", PROBE], env=env, capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--python", action="append", default=[],
                        help="backend=interpreter (default: tensorflow=this interpreter)")
    args = parser.parse_args()
    pythons = {"tensorflow": sys.executable}
    pythons.update(dict(item.split("=", 1) for item in args.python))
    results: dict[str, list[dict]] = {b: [] for b in pythons}
    for r in range(args.rounds):
        for backend in (list(pythons) if r % 2 == 0 else list(pythons)[::-1]):
            result = probe(pythons[backend], backend)
            results[backend].append(result)
            print(f"round {r + 1} {backend:10s}: import {result['import']:.2f} s, first call {result['first']:.2f} s, "
                  f"{result['steps'] - 25} more steps {result['rest']:.2f} s", flush=True)
    base = {k: statistics.median(x[k] for x in results["tensorflow"]) for k in ("import", "first", "rest")}
    print("\nmedians (ratio to tensorflow in this run):")
    for backend, runs in results.items():
        med = {k: statistics.median(x[k] for x in runs) for k in ("import", "first", "rest")}
        total, base_total = sum(med.values()), sum(base.values())
        print(f"{backend:10s} import {med['import']:.2f} s ({med['import'] / base['import']:.2f}x)  "
              f"first call {med['first']:.2f} s ({med['first'] / base['first']:.2f}x)  "
              f"training {med['rest']:.2f} s ({med['rest'] / base['rest']:.2f}x)  "
              f"all {total:.2f} s ({total / base_total:.2f}x)")


if __name__ == "__main__":
    main()
