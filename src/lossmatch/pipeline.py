"""``run(cfg)``: one matching run from a composed Hydra config, tracked in one MLflow run.

The run is a short list of named stages (``lossmatch.stages``)::

    check config -> check store -> prepare -> [MLflow run: features -> fit -> evaluate -> log]

Order matters: everything a user can get wrong (config values, the tracking store, files,
columns, ids, blocking rules, splits without matches) is checked before the MLflow run
starts and before TensorFlow is imported, so bad input answers fast and never leaves a run
behind. Once the run is open, any failure ends it FAILED (KILLED on Ctrl-C or SIGTERM)
rather than RUNNING.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from lossmatch import sweep, tracking
from lossmatch.config import validate
from lossmatch.errors import InputError
from lossmatch.export import remove_abandoned_exports
from lossmatch.run_naming import run_identity
from lossmatch.stages.evaluate import evaluate
from lossmatch.stages.features import compute_features
from lossmatch.stages.fit import fit
from lossmatch.stages.log import finish, start, summary, write_metrics_json
from lossmatch.stages.prepare import prepare

__all__ = ["run", "train"]


def run(cfg, output_dir=None, *, callbacks=()) -> dict:
    """Train, choose the threshold on validation, evaluate on test, track; returns the figures.

    ``callbacks`` are extra Keras callbacks for the fit stage. Inside a sweep of lossmatch's
    Optuna sweeper the run is nested under the sweep's MLflow run, reports validation F1 per
    epoch to its trial, and ends with ``optuna.TrialPruned`` when the pruner stops it.
    """
    started = time.perf_counter()
    config = validate(cfg)
    uri = tracking.use_credentials(config.tracking.uri)
    tracking.check_store(uri)
    prepared = prepare(config)
    out = run_directory(output_dir)
    trial = sweep.current_trial()
    identity = run_identity(
        config, data_name=prepared.data.name, root=config.paths.root_dir, extra_tags=config.tracking.tags,
        **sweep.identity(trial),
    )
    experiment_id = tracking.setup_tracking(uri, identity.experiment_name, config.tracking.artifact_location)
    remove_abandoned_exports(Path(config.paths.output_dir))
    with tracking.mlflow_run(config.tracking.run_name or identity.run_name, **sweep.run_options(trial)) as active:
        sweep.record(trial, mlflow_run_id=active.info.run_id)
        start(identity, prepared)
        splits = compute_features(prepared)
        pruning = sweep.pruning(trial)
        fitted = fit(config, prepared.training, splits, [*callbacks, *pruning])
        sweep.stop_if_pruned(pruning)
        evaluation = evaluate(fitted, prepared.training, splits, list_size=config.trainer.list_size,
                              threshold_rule=config.threshold_rule)
        run_info = {"run_id": active.info.run_id, "experiment_id": experiment_id}
        result = finish(config, _config_yaml(cfg), prepared, splits, fitted, evaluation, out, run_info)
        result["seconds"] = round(time.perf_counter() - started, 2)
        write_metrics_json(result, out)
        sweep.record(trial, val_f1=result["val"]["f1"], test_f1=result["test"]["f1"])
    print(summary(result, uri), flush=True)
    return result


def train(cfg, output_dir=None, **kwargs) -> dict:
    """Run one training job described by a composed Hydra config (``train.py``'s task)."""
    return run(cfg, output_dir=output_dir, **kwargs)


def _config_yaml(cfg) -> str:
    from omegaconf import DictConfig, OmegaConf

    if isinstance(cfg, DictConfig):
        return OmegaConf.to_yaml(cfg, resolve=True)
    import yaml

    return yaml.safe_dump(dict(cfg), sort_keys=False)


# What a finished run writes into its directory; a directory that holds one is never reused.
_RUN_OUTPUTS = ("metrics.json", "metrics.csv", "export")


def run_directory(output_dir=None) -> Path:
    """The folder this run writes into: Hydra's job directory, ``output_dir``, or a new temp folder.

    Raises:
        InputError: the folder already holds another run's outputs (nothing is overwritten).
    """
    if output_dir is None:
        try:
            from hydra.core.hydra_config import HydraConfig

            output_dir = HydraConfig.get().runtime.output_dir
        except ValueError:
            output_dir = tempfile.mkdtemp(prefix="lossmatch-")
    out = Path(output_dir)
    taken = [name for name in _RUN_OUTPUTS if (out / name).exists()]
    if taken:
        raise InputError(f"run directory {out} already holds a run ({taken[0]}); choose another (hydra.run.dir)")
    out.mkdir(parents=True, exist_ok=True)
    return out
