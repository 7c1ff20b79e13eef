"""A trained matcher as an MLflow pyfunc model: record pairs in, match probability and decision out.

Every run logs one as ``matcher`` (``runs:/<run_id>/matcher``). It holds the run's export
(Keras model, similarity map, threshold) and lossmatch's own code (``code_paths``), so

    mlflow.pyfunc.load_model("runs:/<run_id>/matcher").predict(pairs)
    mlflow models serve -m runs:/<run_id>/matcher --env-manager local

work wherever lossmatch's dependencies are installed, lossmatch itself or not.

Input: a DataFrame with one row per record pair and, for each column the similarity map
compares, ``left_<column>`` and ``right_<column>`` (``left_given_name``, ``right_given_name``,
...). Output: ``probability`` and ``is_match`` (at the threshold chosen on validation), one
row per input row. The scores equal ``lossmatch.predict.predict_matches`` on the same pairs
for every map whose features depend on the pair alone.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import mlflow.pyfunc
import numpy as np
import pandas as pd

LEFT, RIGHT = "left_", "right_"


def pair_columns(similarity_map) -> list[str]:
    """The input columns a matcher with this map expects, in order."""
    return [LEFT + c for c in similarity_map.left_columns] + [RIGHT + c for c in similarity_map.right_columns]


def pairs_frame(df_left: pd.DataFrame, df_right: pd.DataFrame, pairs: pd.DataFrame, similarity_map) -> pd.DataFrame:
    """The matcher's input for candidate ``pairs`` (row positions) of two tables."""
    left = df_left.iloc[pairs["left"].to_numpy()][similarity_map.left_columns].add_prefix(LEFT)
    right = df_right.iloc[pairs["right"].to_numpy()][similarity_map.right_columns].add_prefix(RIGHT)
    return pd.concat([left.reset_index(drop=True), right.reset_index(drop=True)], axis=1)


class Matcher(mlflow.pyfunc.PythonModel):
    """The pyfunc wrapper; ``artifacts["export"]`` is a lossmatch export directory."""

    def load_context(self, context):
        from lossmatch.export import load_export

        self.exported = load_export(Path(context.artifacts["export"]))

    # A DataFrame hint: MLflow infers no schema from it (the logged signature is the schema)
    # and stops advising type hints in every run's output.
    def predict(self, context, model_input: pd.DataFrame, params=None):
        from lossmatch.training import SplitData, Training

        frame = self._check(model_input)
        sm = self.exported.similarity_map
        left = frame[[LEFT + c for c in sm.left_columns]].rename(columns=lambda c: c[len(LEFT) :])
        right = frame[[RIGHT + c for c in sm.right_columns]].rename(columns=lambda c: c[len(RIGHT) :])
        n = len(frame)
        if n == 0:
            return pd.DataFrame({"probability": np.zeros(0), "is_match": np.zeros(0, dtype=bool)})
        ids = pd.Series(np.arange(n).astype(str))
        training = Training(sm, left.assign(_pair=ids), right.assign(_pair=ids), "_pair", "_pair")
        pairs = pd.DataFrame({"left": np.arange(n), "right": np.arange(n)})
        split = SplitData(pairs, training.features(pairs, progress=False), np.zeros(n, dtype=np.float32))
        p = self.exported.probabilities(training.predict(self.exported.model, split, listwise=self.exported.listwise))
        return pd.DataFrame({"probability": p, "is_match": p >= self.exported.threshold})

    def _check(self, model_input) -> pd.DataFrame:
        """A clear 400 answer naming what is wrong, not a traceback."""
        from mlflow.exceptions import MlflowException
        from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE

        if not isinstance(model_input, pd.DataFrame):
            raise MlflowException(
                f"expected a table of record pairs, got {type(model_input).__name__}", INVALID_PARAMETER_VALUE
            )
        expected = pair_columns(self.exported.similarity_map)
        missing = [c for c in expected if c not in model_input.columns]
        if missing:
            raise MlflowException(
                f"missing column(s) {', '.join(missing)}; a record pair needs {', '.join(expected)}",
                INVALID_PARAMETER_VALUE,
            )
        for column in expected:
            bad = model_input[column].map(lambda v: isinstance(v, (dict, list, tuple)))
            if bad.any():
                raise MlflowException(
                    f"column {column}: row {int(np.flatnonzero(bad.to_numpy())[0])} holds a "
                    f"{type(model_input[column][bad].iloc[0]).__name__}, expected text or a number",
                    INVALID_PARAMETER_VALUE,
                )
        return model_input


def log_matcher(exported, export_dir: Path, example: pd.DataFrame, name: str = "matcher") -> None:
    """Log ``export_dir`` as a pyfunc ``matcher`` in the active run, with signature and input example.

    ``exported`` is the same matcher in memory (``lossmatch.export.Export``): it answers the
    example for the signature without loading the model again.
    """
    import importlib.metadata as md

    from mlflow.models import infer_signature

    # Missing values travel as empty strings, which the similarity map reads as missing.
    example = example.astype(object).where(example.notna(), "").astype(str)
    probe = Matcher()
    probe.exported = exported
    signature = infer_signature(example, probe.predict(None, example))
    # Pinned requirements skip MLflow's slow import scanning.
    requirements = [f"{d}=={md.version(d)}" for d in _REQUIREMENTS if _installed(d)]
    _log(name, export_dir, signature, example, requirements)


def _log(name, export_dir, signature, example, requirements) -> None:
    import mlflow

    import lossmatch

    with requirements_check_skipped(), serving_validation_skipped():
        mlflow.pyfunc.log_model(
            name=name,
            # Models from code: MLflow runs serving_model.py at load time instead of unpickling an object.
            python_model=str(Path(__file__).with_name("serving_model.py")),
            artifacts={"export": str(export_dir)},
            code_paths=[str(Path(lossmatch.__file__).parent)],
            signature=signature,
            input_example=example,
            pip_requirements=requirements,
        )


# Where MLflow 3 binds its check that a model's requirements match the environment: on saving
# (mlflow.utils.environment) and on loading, which validating the input example does (mlflow.pyfunc).
_REQUIREMENTS_CHECKS = ("mlflow.utils.environment", "mlflow.pyfunc")


@contextlib.contextmanager
def requirements_check_skipped():
    """Skip MLflow's check that the model's pip requirements match this environment.

    Our requirements are this environment's own installed versions (``log_matcher`` reads
    them), so the check cannot find a mismatch, yet its first call scans every installed
    distribution (``importlib.metadata.packages_distributions``): 1.5 s of a 15 s run. MLflow
    has no switch for it, hence the patch; where a later MLflow moves the function, nothing is
    patched and the check simply runs.
    """
    with _stood_in([(module, "warn_dependency_requirement_mismatches", _no_check) for module in _REQUIREMENTS_CHECKS]):
        yield


def _no_check(requirements) -> None:
    return None


@contextlib.contextmanager
def serving_validation_skipped():
    """Skip MLflow's reload of the saved matcher to predict the input example once more.

    ``log_model`` reloads the model it has just saved and predicts the example again, only to
    log a warning if that fails: 0.2-0.3 s a run, after :func:`log_matcher` has predicted the
    same example in memory for the signature (tests/test_serving.py loads and serves logged
    matchers in a fresh process). ``Model.log`` reads a ``validate_serving_input`` switch, but
    ``pyfunc.save_model`` refuses it as an unknown argument, hence the patch; where a later
    MLflow moves the function, nothing is patched and the validation simply runs.
    """
    with _stood_in([("mlflow.models.utils", "_validate_serving_input", _no_validation)]):
        yield


def _no_validation(model_uri, serving_input) -> None:
    return None


@contextlib.contextmanager
def _stood_in(targets):
    """``(module, function name, stand-in)``: each function replaced while the block runs, where
    the module still has it (a later MLflow that moves it is simply not patched)."""
    import importlib
    from unittest import mock

    with contextlib.ExitStack() as stack:
        for module, name, stand_in in targets:
            target = importlib.import_module(module)
            if hasattr(target, name):
                stack.enter_context(mock.patch.object(target, name, stand_in))
        yield


_REQUIREMENTS = ("tensorflow", "keras", "mlflow", "pandas", "numpy", "rapidfuzz", "scikit-learn", "scipy",
                 "pyyaml", "recordlinkage", "imbalanced-learn", "hydra-core", "pydantic", "dill", "tqdm")


def _installed(dist: str) -> bool:
    import importlib.metadata as md

    try:
        md.version(dist)
        return True
    except md.PackageNotFoundError:
        return False
