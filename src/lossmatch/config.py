"""The typed schema of a run's config, and the one place where every config value is checked.

``validate(cfg)`` takes the composed Hydra config of ``conf/train.yaml`` and returns a
:class:`RunConfig`, or raises one :class:`~lossmatch.errors.InputError` whose single line
names the key, the value and what was expected. It imports neither TensorFlow nor MLflow,
so the command line runs it before anything slow (``lossmatch.cli``), and the pipeline runs
it again first thing (a sweep's jobs get configs the command line never saw).

The fixed groups (``trainer``, ``tracking``, ``paths`` and the top-level keys) are pydantic
models below. The groups that name a ``_target_`` (``data``, ``similarity``, ``model``,
``loss``) are checked by what they build, without building anything heavy:

- ``data``: the source class is constructed (it only stores its arguments) and its
  ``validate()`` checks sample, seed, blocking rules and split fractions;
- ``similarity``: the map is parsed (names, parameters, duplicates);
- ``model``: the keys must be parameters of the builder, and a builder may offer a
  TensorFlow-free ``check_params(**params)`` (``lossmatch.model.build_mlp`` does);
- ``loss``: ``lossmatch.loss_params`` runs each loss's own parameter checks.

Defaults live in the YAML files of ``conf/``; the schema says what is allowed.
"""

from __future__ import annotations

import difflib
import inspect
import math
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from lossmatch.errors import InputError

__all__ = [
    "AUTO_DUCKDB_RECORDS", "OBJECTIVE_METRICS", "CacheConfig", "FeaturesConfig", "RunConfig", "TrackingConfig",
    "TrainerConfig", "closest_first", "validate",
]

# What ``optimized_metric`` may name: validation figures only (the test split is never optimised).
OBJECTIVE_METRICS = ("f1", "precision", "recall", "accuracy", "mcc", "pr_auc", "loss")


def _no_bool(value):
    # bool is an int in Python: `epochs: true` must not train one epoch.
    if isinstance(value, bool):
        raise ValueError(f"expected a number, got {value!r}")
    return value


def _finite(value):
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"expected a finite number, got {value!r}")
    return value


Int = Annotated[int, BeforeValidator(_no_bool)]
PositiveInt = Annotated[int, BeforeValidator(_no_bool), Field(ge=1)]
NonNegativeInt = Annotated[int, BeforeValidator(_no_bool), Field(ge=0)]
PositiveFloat = Annotated[float, BeforeValidator(_no_bool), BeforeValidator(_finite), Field(gt=0)]
NonNegativeFloat = Annotated[float, BeforeValidator(_no_bool), BeforeValidator(_finite), Field(ge=0)]
Ratio = Annotated[float, BeforeValidator(_no_bool), BeforeValidator(_finite), Field(gt=0, le=1)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _class_weight(value):
    from lossmatch.imbalance import check_class_weight_mapping

    if value is None:
        return "none"
    if isinstance(value, str):
        if value not in ("none", "balanced", "validation"):
            raise ValueError(f"expected none, balanced, validation or a mapping like {{0: 3.0, 1: 1.0}}, got {value!r}")
        return value
    if isinstance(value, Mapping):
        return check_class_weight_mapping(value)
    raise ValueError(f"expected none, balanced, validation or a mapping like {{0: 3.0, 1: 1.0}}, got {value!r}")


ClassWeight = Annotated[
    Literal["none", "balanced", "validation"] | dict[int, float], BeforeValidator(_class_weight)
]


def _batch_size(value):
    if value == "auto":
        return value
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"expected auto or an integer >= 1, got {value!r}")
    return value


BatchSize = Annotated[Literal["auto"] | int, BeforeValidator(_batch_size)]
EARLY_STOPPING_MONITORS = ("val_pr_auc", "val_f1", "val_loss", "none")


class TrainerConfig(_Section):
    """``conf/trainer/``: the Keras training loop, budgeted in optimizer steps."""

    max_steps: PositiveInt | None = Field(description="budget in optimizer steps (null: epochs alone)")
    epochs: PositiveInt | None = Field(description="or a budget in epochs; with max_steps, whichever ends first")
    min_steps: NonNegativeInt = Field(description="early stopping never stops before this many steps")
    validation_every_steps: PositiveInt | None = Field(
        description="steps per epoch: validation, early stopping and logging after each (null: one pass)"
    )
    batch_size: BatchSize = Field(description="pairs per optimizer step, or auto (from the training split's size)")
    learning_rate: PositiveFloat = Field(description="Adam's learning rate")
    early_stopping_monitor: Literal["val_pr_auc", "val_f1", "val_loss", "none"] = Field(
        description="validation figure whose best epoch's weights are kept (none: the last weights)"
    )
    early_stopping_patience_steps: NonNegativeInt = Field(
        description="steps without a better monitored figure before stopping (0: train the whole budget)"
    )
    class_weight: ClassWeight = Field(description="none, balanced, validation or {0: w0, 1: w1}")
    validation_weight_epochs: NonNegativeInt = Field(
        description="with class_weight=validation: epochs trained before the weights are measured"
    )
    validation_weight_smoothing: NonNegativeFloat = Field(
        description="exponent s of the validation class weights (0 gives ones)"
    )
    sampling: Literal["none", "oversample", "undersample"] = Field(
        description="resample the training split (imbalanced-learn)"
    )
    sampling_ratio: Ratio = Field(description="minority / majority after resampling, in (0, 1]")
    list_size: PositiveInt | None = Field(description="largest candidate list for the pairwise ranking loss")
    steps_per_execution: PositiveInt = Field(
        description="optimizer steps per call into TensorFlow (same results, less overhead)"
    )
    cross_fit: bool = Field(
        description="an ensemble trains on train + valid, member k without fold k; threshold out-of-fold"
    )
    verbose: Literal["auto", 0, 1, 2] = Field(description="Keras progress: 0 silent, 1 bar, 2 a line per epoch")

    @model_validator(mode="before")
    @classmethod
    def _none_sampling(cls, data):
        if isinstance(data, Mapping) and data.get("sampling") is None:
            data = {**data, "sampling": "none"}
        return data

    @model_validator(mode="after")
    def _budget(self):
        if self.max_steps is None and self.epochs is None:
            raise ValueError("trainer.max_steps and trainer.epochs are both null: set a budget in steps or epochs")
        if self.max_steps is not None and self.min_steps > self.max_steps:
            raise ValueError(
                f"trainer.min_steps={self.min_steps} is above trainer.max_steps={self.max_steps}: "
                "early stopping would never get to stop"
            )
        if self.cross_fit and (self.sampling != "none" or self.class_weight == "validation"):
            raise ValueError(
                "trainer.cross_fit needs trainer.sampling=none and a class_weight other than validation, "
                f"got sampling={self.sampling!r}, class_weight={self.class_weight!r}"
            )
        if self.class_weight == "validation":
            limit = self.epochs if self.epochs is not None else math.inf
            if not 1 <= self.validation_weight_epochs < limit:
                raise ValueError(
                    f"validation_weight_epochs must be at least 1 and below trainer.epochs={self.epochs} "
                    f"with class_weight=validation, got {self.validation_weight_epochs}"
                )
        return self


class TrackingConfig(_Section):
    """``conf/tracking/``: where MLflow records the run."""

    uri: str = Field(min_length=1, description="MLflow tracking URI: sqlite:///path/mlflow.db or http(s)://host:port")
    artifact_location: str | None = Field(description="artifact folder of new experiments (local stores)")
    experiment: str | None = Field(description="MLflow experiment; null: lossmatch/<data set>")
    run_name: str | None = Field(description="MLflow run name; null: <loss>-seed<seed>")
    log_model: bool = Field(description="log the pyfunc matcher (record pairs in, probability out; servable)")
    log_keras_model: bool = Field(description="also log the bare Keras network (keras flavour)")
    # Optional so that configs written before the key existed still validate.
    tags: dict[str, Any] = Field(default_factory=dict, description="extra MLflow tags of the run, e.g. {comparison: <id>}")


class PathsConfig(_Section):
    """``conf/paths/``: folders of this machine (never logged as params).

    Attributes:
        root_dir: the checkout: ``PROJECT_ROOT`` (set by train.py), else the current directory.
        mlruns_dir: the default MLflow store (``mlflow.db`` and ``artifacts/``).
        output_dir: where run directories go (``runs/``, ``multiruns/``).
    """

    root_dir: str
    mlruns_dir: str
    output_dir: str


class FeaturesConfig(_Section):
    """``features``: how similarity features are computed and held."""

    chunk_size: PositiveInt = Field(
        default=500_000, description="pairs scored per chunk (memory ~ chunk_size x (features + 8) x 8 bytes)"
    )
    streaming: bool = Field(
        default=False,
        description="write features chunk by chunk to a Parquet file and train/predict through tf.data from it",
    )


class CacheConfig(_Section):
    """``cache``: candidate pairs and features stored once per content hash (``lossmatch.cache``)."""

    enabled: bool = Field(default=True, description="false: block and compute features afresh, store nothing")
    dir: str | None = Field(
        default=None, description="cache folder; null: beside the SQLite MLflow store (else paths.mlruns_dir/cache)"
    )
    verify: Literal["full", "size"] = Field(
        default="full", description="check each entry's files by SHA-256 (full) or by size only (size) on read"
    )


# engine=auto: DuckDB (out of core, spills to disk) once the two tables hold this many
# records together, else the in-memory NumPy path (faster below it; both give the same pairs).
AUTO_DUCKDB_RECORDS = 2_000_000


class RunConfig(_Section):
    """The whole composed ``conf/train.yaml``, checked."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    seed: NonNegativeInt = Field(description="seeds Python, NumPy, TensorFlow and the split")
    debug: bool = Field(description="show tracebacks and TensorFlow's own log lines")
    max_candidate_pairs: PositiveInt = Field(description="refuse blocking that yields more candidate pairs")
    optimized_metric: str = Field(description="what train.py returns to sweepers: a validation metric")
    # Defaults here too, so configs saved before these keys existed still validate.
    engine: Literal["memory", "duckdb", "spark", "auto"] = Field(
        default="memory", description="blocking engine: memory, duckdb, spark or auto (see AUTO_DUCKDB_RECORDS)"
    )
    features: FeaturesConfig = Field(default_factory=FeaturesConfig)
    cache: CacheConfig = Field(default_factory=CacheConfig)
    threshold_rule: Literal["max_f1", "half_best_f1"] = Field(
        default="max_f1", description="decision threshold from validation: max_f1 (where F1 peaks) or half_best_f1"
    )
    data: dict[str, Any]
    similarity: dict[str, Any]
    model: dict[str, Any]
    loss: dict[str, Any]
    trainer: TrainerConfig
    tracking: TrackingConfig
    paths: PathsConfig

    @property
    def loss_name(self) -> str:
        return str(self.loss.get("name") or str(self.loss.get("_target_", "loss")).rsplit(".", 1)[-1])

    @property
    def loss_params(self) -> dict[str, Any]:
        return {k: v for k, v in self.loss.items() if k != "name" and not k.startswith("_")}

    def cache_dir(self) -> str:
        """``cache.dir``, or by default a ``cache`` folder beside the SQLite MLflow store
        (a tracking server's store has no folder here: then ``paths.mlruns_dir/cache``)."""
        if self.cache.dir:
            return self.cache.dir
        prefix = "sqlite:///"
        if self.tracking.uri.startswith(prefix):
            from pathlib import Path

            return str(Path(self.tracking.uri[len(prefix):]).parent / "cache")
        return f"{self.paths.mlruns_dir}/cache"

    def blocking_engine(self, n_records: int) -> str:
        """``engine``, with ``auto`` resolved for tables of ``n_records`` records together."""
        if self.engine != "auto":
            return self.engine
        return "duckdb" if n_records >= AUTO_DUCKDB_RECORDS else "memory"

    @property
    def listwise(self) -> bool:
        from lossmatch.loss_params import LOSS_PARAMETERS

        spec = LOSS_PARAMETERS.get(str(self.loss.get("_target_")))
        return bool(spec and spec.expects_lists)


def closest_first(name: str, options) -> list[str]:
    """``options`` sorted with the ones most like ``name`` first (for "did you mean" messages)."""
    options = sorted(str(o) for o in options)
    close = difflib.get_close_matches(str(name), options, n=3, cutoff=0.5)
    return close + [o for o in options if o not in close]


def _format_error(err: Mapping, raw: Mapping) -> str:
    loc = [str(p) for p in err["loc"]]
    key = ".".join(loc)
    if err["type"] == "extra_forbidden":
        parent = raw
        for part in err["loc"][:-1]:
            parent = parent.get(part, {}) if isinstance(parent, Mapping) else {}
        known = [k for k in parent if k != loc[-1] and not str(k).startswith("_")] if isinstance(parent, Mapping) else []
        section = ".".join(loc[:-1]) or "the config"
        return f"{key}: unknown key; keys of {section}: {', '.join(closest_first(loc[-1], known))}"
    if err["type"] == "missing":
        return f"{key}: missing; it must be set"
    message = str(err["msg"]).removeprefix("Value error, ")
    if message.startswith((f"{key}:", f"{key}.")) or not key:
        return message
    return f"{key}: {message}, got {err.get('input')!r}" if "got" not in message else f"{key}: {message}"


def validate(cfg) -> RunConfig:
    """Check every value of a composed ``train`` config; see the module docstring.

    Raises:
        InputError: one line naming the key, the value and what was expected.
    """
    raw = _resolve(cfg)
    # Hydra's own node is not the run's config (the CLI checks hydra.* separately).
    raw = {k: v for k, v in raw.items() if k != "hydra"}
    try:
        config = RunConfig.model_validate(raw)
    except ValidationError as exc:
        errors = exc.errors()
        # A cross-field check inside a section reports at that section; show the most specific first.
        raise InputError(_format_error(errors[0], raw)) from None
    _check_objective(config.optimized_metric)
    _check_loss(config)
    _check_listwise(config)
    _check_streaming(config)
    _check_model(config.model)
    _check_cross_fit(config)
    _check_similarity(config)
    _check_data(config.data)
    _check_cache(config)
    return config


def _check_cache(config: RunConfig) -> None:
    """The feature cache's folder must take files (it is made, if need be, only once the run starts)."""
    from lossmatch.common import writable_folder

    if not config.cache.enabled:
        return
    try:
        writable_folder(config.cache_dir())
    except OSError as exc:
        raise InputError(
            f"cache.dir: {exc.filename or config.cache_dir()} is not writable ({exc.strerror or exc}); "
            "choose another cache.dir, or cache.enabled=false"
        ) from None


def check_mandatory(cfg) -> None:
    """Every mandatory value (``???``, e.g. data.left/right/matches of data=csv) is given.

    All missing keys are named at once; left in place they would surface later as a
    traceback from instantiation or interpolation.

    Raises:
        InputError: one line naming the missing keys.
    """
    from omegaconf import DictConfig, OmegaConf

    tree = OmegaConf.to_container(cfg, resolve=False) if isinstance(cfg, DictConfig) else cfg
    missing = sorted(_missing_keys(tree))
    if missing:
        given = " ".join(f"{k}=..." for k in missing)
        what = "missing values; give them" if len(missing) > 1 else "missing value; give it"
        raise InputError(f"{', '.join(missing)}: {what} on the command line ({given})")


def _missing_keys(node, prefix: str = "") -> list[str]:
    """Dotted keys whose value is OmegaConf's ``???`` (unresolved tree; Hydra's own node skipped)."""
    if isinstance(node, Mapping):
        items = ((f"{prefix}{k}", v) for k, v in node.items() if not (not prefix and k == "hydra"))
        return [key for name, value in items for key in _missing_keys(value, f"{name}.")]
    if isinstance(node, list):
        return [key for i, value in enumerate(node) for key in _missing_keys(value, f"{prefix}{i}.")]
    return [prefix[:-1]] if node == "???" else []


def _resolve(cfg) -> dict[str, Any]:
    from omegaconf import DictConfig, OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    if isinstance(cfg, Mapping) and not isinstance(cfg, DictConfig):
        return dict(cfg)
    check_mandatory(cfg)
    try:
        return OmegaConf.to_container(cfg, resolve=True)
    except OmegaConfBaseException as exc:
        key = getattr(exc, "full_key", "") or "config"
        raise InputError(f"{key}: {str(exc).splitlines()[0]}") from None


def _check_objective(name: str) -> None:
    split, _, metric = name.partition("_")
    if split != "val" or metric not in OBJECTIVE_METRICS:
        choices = ", ".join(f"val_{m}" for m in OBJECTIVE_METRICS)
        raise InputError(
            f"optimized_metric must be a validation metric ({choices}), got {name!r}: "
            "the test split is never optimised"
        )


def _check_loss(config: RunConfig) -> None:
    from lossmatch.loss_params import check_loss_params

    target = config.loss.get("_target_")
    if not target:
        raise InputError("loss._target_: missing; choose a loss with loss=<name>")
    try:
        spec = check_loss_params(str(target), config.loss_params)
    except ValueError as exc:
        raise InputError(f"loss={config.loss_name}: {exc}") from None
    if spec is None:
        # A loss of the user's own: at least its keys must be parameters of its factory.
        _check_signature("loss", config.loss_name, str(target), config.loss_params)


def _check_listwise(config: RunConfig) -> None:
    tr = config.trainer
    if config.listwise and (tr.class_weight != "none" or tr.sampling != "none"):
        raise InputError(
            f"loss={config.loss_name} trains on candidate lists: trainer.class_weight and trainer.sampling "
            f"must be none, got {tr.class_weight!r} and {tr.sampling!r}"
        )


def _check_streaming(config: RunConfig) -> None:
    """What the streaming fit (``lossmatch.streaming``) does not do, refused before anything runs."""
    tr = config.trainer
    if not config.features.streaming:
        return
    if config.listwise:
        raise InputError(f"features.streaming=true: loss={config.loss_name} trains on candidate lists, "
                         "which streaming does not build; set features.streaming=false")
    if tr.sampling != "none":
        raise InputError(f"features.streaming=true: trainer.sampling must be none, got {tr.sampling!r}")
    if tr.class_weight == "validation":
        raise InputError("features.streaming=true: trainer.class_weight must be none, balanced or a mapping, "
                         "got 'validation'")


def _locate(group: str, target: str):
    from hydra.utils import get_object

    try:
        return get_object(target)
    except Exception as exc:  # ImportError, AttributeError: a typo in _target_
        raise InputError(f"{group}._target_: cannot import {target!r} ({exc})") from None


def _check_signature(group: str, option: str, target: str, params: Mapping, *, filled=()) -> object:
    """The keys of ``params`` must be parameters of ``target``; returns the target."""
    fn = _locate(group, target)
    try:
        parameters = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return fn
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return fn
    known = [n for n in parameters if n not in ("self", *filled)]
    for key in params:
        if key not in parameters:
            raise InputError(
                f"{group}.{key}: unknown key for {group}={option}; keys: {', '.join(closest_first(key, known))}"
            )
    return fn


def _params(node: Mapping) -> dict[str, Any]:
    return {k: v for k, v in node.items() if not str(k).startswith("_")}


def _check_model(model: Mapping) -> None:
    target = str(model.get("_target_", ""))
    if not target:
        raise InputError("model._target_: missing; choose a model with model=<name>")
    option = target.rsplit(".", 1)[-1]
    fn = _check_signature("model", option, target, _params(model), filled=("n_features", "listwise", "feature_names"))
    check = getattr(fn, "check_params", None)
    if check is not None:
        check(**_params(model))


def _check_cross_fit(config: RunConfig) -> None:
    """trainer.cross_fit holds out one fold per ensemble member: it needs an ensemble of 2 or more."""
    if not config.trainer.cross_fit:
        return
    members = config.model.get("members") if "members" in _params(config.model) else None
    if not isinstance(members, int) or isinstance(members, bool) or members < 2:
        raise InputError(
            "trainer.cross_fit=true needs model=ensemble with model.members >= 2 (one held-out fold per member), "
            f"got model={str(config.model.get('_target_', '')).rsplit('.', 1)[-1]}"
            + (f" with members={members!r}" if members is not None else "")
        )
    if config.listwise:
        raise InputError(f"trainer.cross_fit=true cannot train on candidate lists (loss={config.loss_name})")
    if config.threshold_rule != "max_f1":
        # The cross-fitted threshold is chosen out of fold in training (max F1), not by the rule.
        raise InputError(f"trainer.cross_fit=true chooses its threshold out of fold (max F1): "
                         f"set threshold_rule=max_f1, got threshold_rule={config.threshold_rule}")


def _check_similarity(config: RunConfig) -> None:
    """A hand-written map must parse; an inferred one (``similarity.auto``) is built from the
    tables in the prepare stage, so only its options and hand-written entries are checked here."""
    from lossmatch.similarity import SimilarityMap

    node = config.similarity
    unknown = sorted(set(_params(node)) - {"map", "auto", "auto_options"})
    if unknown:
        raise InputError(f"similarity.{unknown[0]}: unknown key; keys: map, auto, auto_options")
    auto, spec = node.get("auto", False), node.get("map")
    if not isinstance(auto, bool):
        raise InputError(f"similarity.auto must be true or false, got {auto!r}")
    options = node.get("auto_options") or {}
    bad = sorted(set(options) - {"context", "max_context_cells"}) if isinstance(options, Mapping) else ["?"]
    if bad:
        raise InputError(f"similarity.auto_options: unknown option {bad[0]!r}; options: context, max_context_cells")
    if spec is None and not auto:
        raise InputError(
            f"similarity.map is not set for this data: choose similarity=<name> (one of {', '.join(known_options('similarity'))})"
            " or give similarity.map='{column: [jaro_winkler], left_col~right_col: [exact]}'"
        )
    if spec:
        SimilarityMap.from_dict(spec)


def _check_data(data: Mapping) -> None:
    from hydra.errors import InstantiationException
    from hydra.utils import instantiate

    target = str(data.get("_target_", ""))
    if not target:
        raise InputError("data._target_: missing; choose a data source with data=<name>")
    _check_signature("data", target.rsplit(".", 1)[-1], target, _params(data))
    try:
        source = instantiate(data, _convert_="all")
    except InstantiationException as exc:
        cause = exc.__cause__ or exc
        raise InputError(f"data: {cause}") from None
    source.validate()
    # Missing files are found here, before Hydra starts the job (about a second sooner).
    check_files = getattr(source, "check_files", None)
    if check_files is not None:
        check_files()


def config_dir():
    """The ``conf/`` folder of this checkout (train.py's ``config_path``)."""
    from pathlib import Path

    return Path(__file__).resolve().parents[2] / "conf"


# Options that stand for "the data's own default", not a map of their own.
_PLACEHOLDERS = {"similarity": {"csv", "deepmatcher"}}


def known_options(group: str) -> list[str]:
    """The options of a config group: the YAML files in ``conf/<group>/``."""
    folder = config_dir() / group
    names = sorted(p.stem for p in folder.glob("*.yaml"))
    return [n for n in names if n not in _PLACEHOLDERS.get(group, set())]
