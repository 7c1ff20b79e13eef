"""The stages of one matching run, in order (``lossmatch.pipeline.run`` chains them):

1. ``prepare``: load and check the data, block, split by entity (no TensorFlow, no MLflow);
2. ``features``: similarity features of every candidate pair;
3. ``fit``: seed, build loss and model, train;
4. ``evaluate``: threshold on validation, figures of every split;
5. ``log``: MLflow params, metrics, artifacts, export, ``metrics.json``.

Each stage is a function of the previous stages' results, tested on its own.
"""
