"""The command line of ``train.py`` and the pipelines: fast checks, one-line errors, clean exits.

``main(task)`` runs before Hydra does:

1. ``debug=true`` on the command line shows tracebacks and TensorFlow's log lines;
2. credentials in ``tracking.uri=...`` move into MLflow's environment variables, so Hydra
   never sees (or saves) them;
3. ``preflight`` composes the config as Hydra will and checks it: unknown group options
   (``loss=nosuchloss``, ``hparams_search=typo``, which Hydra would silently ignore for an
   optional group), unknown keys (``trainer.epoch=5``) and every value (the typed schema of
   ``lossmatch.config``). Each problem is one line on stderr and exit status 2, in about a
   second: nothing slow (TensorFlow, MLflow) is imported yet;
4. SIGTERM (``timeout``, ``docker stop``, SLURM, Kubernetes) ends a run like Ctrl-C: the
   MLflow run is marked KILLED, temporary exports are removed, exit status 143.

Inside the job, ``report_input_errors`` turns an :class:`InputError` into the same one line
and exit status 2; in a multirun it re-raises instead, so that a sweep records the failed
job and goes on.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import sys
from collections.abc import Callable
from pathlib import Path

from lossmatch.errors import InputError, Terminated
from lossmatch.runtime import DEBUG_ENV

EXIT_INPUT, EXIT_FAILED, EXIT_INTERRUPTED, EXIT_TERMINATED = 2, 1, 130, 143
# Hydra flags after which no job runs (help, config printing, completion): no preflight.
_INFO_FLAGS = {"--help", "-h", "--hydra-help", "--info", "-i", "--cfg", "-c", "--shell-completion", "-sc", "--version"}


def main(task: Callable, *, config_dir: str | Path, config_name: str, argv: list[str] | None = None):
    """Check the command line, then let Hydra compose the config and run ``task`` on it."""
    import hydra

    args = list(sys.argv[1:] if argv is None else argv)
    if any(re.fullmatch(r"\+*debug=(true|True|1|yes)", a) for a in args):
        os.environ[DEBUG_ENV] = "1"
    args = [move_credentials(a) for a in args]
    signal.signal(signal.SIGTERM, _raise_terminated)
    flags, overrides = split_command_line(args)
    if not _INFO_FLAGS & set(flags):
        name = _flag_value(flags, "-cn", "--config-name") or config_name
        # Another config folder (-cp, -cd) is Hydra's to search: the job checks its values then.
        if not (_flag_value(flags, "-cp", "--config-path") or _flag_value(flags, "-cd", "--config-dir")):
            with _exit_on_input_error():
                preflight(Path(config_dir), name, overrides, multirun=bool({"-m", "--multirun"} & set(flags)))
    # Flags first: Hydra's parser takes the overrides as one run of words (a=1 -m b=2 failed).
    sys.argv = [sys.argv[0], *flags, *overrides]
    app = hydra.main(version_base="1.3", config_path=str(config_dir), config_name=config_name)(_job(task))
    try:
        app()
    except Terminated:
        print("lossmatch: stopped by SIGTERM; the run is marked KILLED", file=sys.stderr, flush=True)
        sys.exit(EXIT_TERMINATED)
    except KeyboardInterrupt:
        print("lossmatch: interrupted; the run is marked KILLED", file=sys.stderr, flush=True)
        sys.exit(EXIT_INTERRUPTED)
    finally:
        _fast_exit()


# Hydra's flags that take the next word as their value (``-cn train``); ``--flag=value`` is one word.
_VALUE_FLAGS = {"-cp", "--config-path", "-cn", "--config-name", "-cd", "--config-dir", "--experimental-rerun",
                "-p", "--package"}


def split_command_line(args: list[str]) -> tuple[list[str], list[str]]:
    """Hydra's flags (with their values) and the overrides, each in the order given."""
    flags, overrides = [], []
    words = iter(args)
    for word in words:
        if not word.startswith("-"):
            overrides.append(word)
            continue
        flags.append(word)
        if word in _VALUE_FLAGS:
            value = next(words, None)
            if value is not None:
                flags.append(value)
    return flags, overrides


def _flag_value(flags: list[str], short: str, long: str) -> str | None:
    for i, word in enumerate(flags):
        if word in (short, long) and i + 1 < len(flags):
            return flags[i + 1]
        if word.startswith(f"{long}="):
            return word.split("=", 1)[1]
    return None


def _fast_exit() -> None:
    """Make the interpreter's shutdown take a fraction of a second instead of seconds.

    Measured: after ``import tensorflow`` alone, Python's shutdown took 3.6-4.5 s on the
    2-core machine, 0.5 s with this. The time goes to the full garbage collections that
    finalisation runs over TensorFlow's object graph; ``gc.freeze()`` moves every live
    object to the permanent generation, which those collections skip. Unlike ``os._exit``,
    atexit handlers still run and files are still flushed and closed.
    """
    import gc

    gc.freeze()


def _raise_terminated(signum, frame):
    raise Terminated(signum)


def move_credentials(arg: str) -> str:
    """``tracking.uri=http://user:pw@host`` -> ``tracking.uri=http://host``, credentials into the environment."""
    key, sep, value = arg.partition("=")
    if sep and key.lstrip("+").endswith("tracking.uri") and "@" in value:
        from lossmatch.tracking import use_credentials

        return f"{key}={use_credentials(value)}"
    return arg


@contextlib.contextmanager
def _exit_on_input_error():
    try:
        yield
    except InputError as exc:
        if os.environ.get(DEBUG_ENV) == "1":
            raise
        _print_error(exc)
        sys.exit(EXIT_INPUT)


def _print_error(exc: BaseException) -> None:
    from lossmatch.tracking import redact

    print(f"lossmatch: error: {redact(' '.join(str(exc).split()))}", file=sys.stderr, flush=True)


def _job(task: Callable) -> Callable:
    """Hydra's task function: ``task(cfg)`` with one-line errors and secret-free run files."""
    import functools

    @functools.wraps(task)
    def job(cfg):
        from hydra.core.hydra_config import HydraConfig
        from hydra.types import RunMode

        hydra_cfg = HydraConfig.get()
        out = Path(hydra_cfg.runtime.output_dir)
        scrub_secrets(out / hydra_cfg.output_subdir)
        multirun = hydra_cfg.mode == RunMode.MULTIRUN
        try:
            with report_input_errors(multirun=multirun):
                return task(cfg)
        except SystemExit as exc:
            if exc.code == EXIT_INPUT:
                _remove_if_only_hydra_files(out)
            raise

    return job


def _remove_if_only_hydra_files(out: Path) -> None:
    """Bad input leaves no run behind: drop the run directory Hydra made if it holds nothing else."""
    import shutil

    names = {p.name for p in out.iterdir()} if out.is_dir() else set()
    if names and all(n == ".hydra" or n.endswith(".log") for n in names):
        shutil.rmtree(out, ignore_errors=True)


@contextlib.contextmanager
def report_input_errors(debug: bool | None = None, *, multirun: bool = False):
    """Turn an ``InputError`` (or a diverged training) into one line on stderr and an exit status.

    With ``debug`` (default: ``debug=true`` was given) the exception propagates with its
    traceback; in a multirun it propagates after the line is printed, so the sweeper
    records the job as failed and continues.
    """
    from lossmatch.training import TrainingDiverged

    if debug is None:
        debug = os.environ.get(DEBUG_ENV) == "1"
    try:
        yield
    except (InputError, TrainingDiverged) as exc:
        if debug:
            raise
        _print_error(exc)
        if multirun:
            raise
        sys.exit(EXIT_INPUT if isinstance(exc, InputError) else EXIT_FAILED)
    except OSError as exc:
        if debug or multirun or exc.errno is None:
            raise
        # Disk full, permission denied...: the run is already marked FAILED; say what and where.
        where = f" ({exc.filename})" if exc.filename else ""
        print(f"lossmatch: error: {exc.strerror}{where}", file=sys.stderr, flush=True)
        sys.exit(EXIT_FAILED)


def scrub_secrets(folder: Path) -> None:
    """Replace the MLflow password in Hydra's saved config files, should a config file carry it."""
    secret = os.environ.get("MLFLOW_TRACKING_PASSWORD")
    if not secret or not folder.is_dir():
        return
    for path in folder.glob("*.yaml"):
        text = path.read_text(encoding="utf-8")
        if secret in text:
            path.write_text(text.replace(secret, "***"), encoding="utf-8")


def objective(result: dict, cfg) -> float:
    """The figure a sweep optimises: ``optimized_metric`` such as ``val_f1`` (never a test figure)."""
    name = str(cfg.get("optimized_metric", "val_f1"))
    split, _, metric = name.partition("_")
    if split != "val" or metric not in result["val"]:
        raise InputError(f"optimized_metric must be a validation metric such as val_f1, got {name!r}")
    return float(result["val"][metric])


# -- preflight -------------------------------------------------------------------------------
def preflight(config_dir: Path, config_name: str, overrides: list[str], *, multirun: bool = False) -> None:
    """Compose the config as Hydra will and check it; raises one-line InputErrors.

    In a multirun, every option of a swept group is checked; the values are checked on the
    first combination (each job checks its own config again when it starts).
    """
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    try:
        parsed = OverridesParser.create().parse_overrides(overrides)
    except HydraException as exc:
        raise InputError(f"cannot read the command line: {_first_line(exc)}") from None
    groups = {p.name for p in config_dir.iterdir() if p.is_dir()}
    first = []
    for o in parsed:
        key = o.key_or_group
        if key in groups and not o.is_delete():
            values = list(o.sweep_string_iterator()) if o.is_discrete_sweep() else [] if o.is_sweep_override() else [o.value()]
            for value in values:
                check_group_option(config_dir, key, str(value))
        if not o.is_sweep_override():
            first.append(o.input_line)
        elif o.is_discrete_sweep():
            first.append(f"{o.get_key_element()}={next(iter(o.sweep_string_iterator()))}")
    cfg = compose(config_dir, config_name, first)
    from lossmatch.config import check_mandatory

    check_mandatory(cfg)
    uri = cfg.get("tracking", {}).get("uri")
    if uri:
        from lossmatch.tracking import check_store

        check_store(str(uri))  # an unreachable server answers in seconds, not after minutes of retries
    if config_name == "train":
        from lossmatch.config import validate

        validate(cfg)


def check_group_option(config_dir: Path, group: str, option: str) -> None:
    """``group=option`` must name ``conf/<group>/<option>.yaml`` (Hydra ignores a missing optional one)."""
    from lossmatch.config import closest_first

    if option in ("null", "None") or (config_dir / group / f"{option}.yaml").is_file():
        return
    known = [p.stem for p in (config_dir / group).glob("*.yaml")]
    raise InputError(
        f"{group}={option}: no such option; choose one of {', '.join(closest_first(option, known)) or '(none yet)'}"
    )


def compose(config_dir: Path, config_name: str, overrides: list[str]):
    """The config Hydra would give the job, or an InputError saying what does not fit."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    try:
        with initialize_config_dir(config_dir=str(config_dir.resolve()), version_base="1.3"):
            return hydra_compose(config_name=config_name, overrides=overrides)
    except (HydraException, OmegaConfBaseException) as exc:
        raise InputError(_compose_message(exc, config_dir, config_name, overrides)) from None


def _compose_message(exc: Exception, config_dir: Path, config_name: str, overrides: list[str]) -> str:
    from lossmatch.config import closest_first

    text = " ".join(f"{exc} {exc.__cause__ or ''}".split())
    merging = re.match(r"Error merging override (\S+)", str(exc))
    if merging and exc.__cause__ is not None:
        # hydra.sweeper.n_trials=abc: the cause says what the typed node expected.
        return f"{merging.group(1)}: {_first_line(exc.__cause__).split(' full_key:')[0]}"
    option = re.search(r"Could not find '([^'/]+)/([^']+)'", text)
    if option and (config_dir / option.group(1)).is_dir():
        check_group_option(config_dir, option.group(1), option.group(2))  # raises the one-line error
    missing = re.search(r"Could not override '([^']+)'.*?Key '([^']+)' is not in struct", text)
    if missing:
        full, key = missing.groups()
        rest = [o for o in overrides if not o.lstrip("+~").startswith(full)]
        base = compose(config_dir, config_name, rest)
        from omegaconf import OmegaConf

        # data.split.val where data.split is null (give it whole) or absent (data.split is the unknown key).
        absent = object()
        parts = full.split(".")
        while len(parts) > 1:
            above = ".".join(parts[:-1])
            value = OmegaConf.select(base, above, default=absent)
            if value is None:
                return f"{full}: {above} is null here; give it whole ({above}=...)"
            if value is not absent:
                break
            parts = parts[:-1]
        full, key, parent = ".".join(parts), parts[-1], ".".join(parts[:-1])
        node = OmegaConf.select(base, parent) if parent else base
        known = [k for k in node.keys() if not str(k).startswith("_")] if hasattr(node, "keys") else []
        where = f"keys of {parent}" if parent else "top-level keys"
        return f"{full}: unknown key; {where}: {', '.join(closest_first(key, known))}"
    return _first_line(exc)


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return " ".join(lines[:2]) if lines else type(exc).__name__
