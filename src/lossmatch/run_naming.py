"""What a run looks like in MLflow: readable params, tags, experiment and run name.

Pure functions of the composed config (nothing is logged here), so the log stage
calls :func:`run_identity` once and hands its four parts to MLflow:

- **params**: dotted keys as MLflow's compare view lines them up, values written as
  in YAML (``true``, ``null``, ``[jaro_winkler, levenshtein]``). The loss is its
  name and parameters (``loss: focal``, ``loss.alpha: 0.75``), never ``_target_``
  paths; blocking rules read as written (``[{method: block, on: surname}]``, even
  where YAML 1.1 turned a bare ``on:`` key into ``True``); machine-specific groups
  (``paths``, ``tracking``, ``hydra``) are left out and absolute paths become
  relative to the project root, or just their last component.
- **tags**: ``data``, ``loss``, ``seed`` (and ``study``, ``trial`` when given) to
  filter and group runs, and ``git_commit`` / ``git_dirty`` when the project is a git
  checkout.
- **experiment name**: ``tracking.experiment`` when set, else one per data set,
  ``lossmatch/<data name>``, so that a compare view never mixes data sets.
- **run name**: ``<loss>-seed<seed>``.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Mapping
from pathlib import Path, PurePath
from typing import NamedTuple

from lossmatch.common import plain

__all__ = [
    "EXPERIMENT_PREFIX",
    "RunIdentity",
    "experiment_name",
    "flow",
    "git_state",
    "readable_params",
    "run_identity",
    "run_name",
]

EXPERIMENT_PREFIX = "lossmatch"
# Config groups that describe this machine (where files go, which store), not the run.
_MACHINE_GROUPS = frozenset({"paths", "tracking", "hydra", "debug"})
# Hydra's instantiation keys: how a node is built, not what it is.
_HYDRA_KEYS = frozenset({"_target_", "_convert_", "_partial_", "_recursive_", "_args_"})
# MLflow's limits: a param key of at most 250 characters from [/\w.\- :], a value of 6000.
_MAX_KEY_CHARS = 250
_MAX_VALUE_CHARS = 6000
_BAD_KEY_CHARS = re.compile(r"[^/\w.\- :]")
# A bare word YAML would read back as itself (no quoting needed in a flow collection).
_PLAIN_WORD = re.compile(r"^[\w./~+@-][\w./~+@ -]*$")


class RunIdentity(NamedTuple):
    params: dict[str, str]
    tags: dict[str, str]
    experiment_name: str
    run_name: str


def _as_mapping(config) -> dict:
    """A plain dict of the config: an OmegaConf container, a pydantic ``RunConfig`` or a dict."""
    if hasattr(config, "model_dump"):
        return config.model_dump()
    return plain(config)


def _fix_on(key):
    # YAML 1.1 (PyYAML, OmegaConf) reads a bare `on:` key as the boolean true.
    return "on" if key is True else key


def flow(value) -> str:
    """One value in YAML flow style: ``true``, ``null``, ``0.5``, ``[a, b]``, ``{method: block, on: x}``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{_fix_on(k)}: {flow(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(flow(v) for v in value) + "]"
    if isinstance(value, str) and not _PLAIN_WORD.match(value):
        return repr(value)
    return str(value)


def _portable(value, root: Path | None):
    """An absolute path becomes relative to ``root`` when inside it, else its last component."""
    if not isinstance(value, str) or not (os.path.isabs(value) or value.startswith("~")):
        return value
    path = Path(value).expanduser()
    if root is not None:
        try:
            return path.resolve().relative_to(root.resolve()).as_posix()
        except ValueError:
            pass
    return PurePath(value).name


def _param_key(key: str) -> str:
    # Similarity-map keys "left~right" are readable as "left vs right"; other characters
    # MLflow refuses in a key become "_".
    key = _BAD_KEY_CHARS.sub("_", key.replace("~", " vs "))
    return key[:_MAX_KEY_CHARS]


def _flatten(node: Mapping, prefix: str, root: Path | None, out: dict[str, str]) -> None:
    for key, value in node.items():
        key = _fix_on(key)
        if key in _HYDRA_KEYS:
            continue
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            _flatten(value, f"{name}.", root, out)
            continue
        text = flow(_portable(value, root))
        if len(text) > _MAX_VALUE_CHARS:
            text = text[: _MAX_VALUE_CHARS - 3] + "..."
        out[_param_key(name)] = text


def _target_name(node: Mapping) -> str | None:
    target = node.get("_target_")
    return str(target).rsplit(".", 1)[-1] if target else None


def readable_params(config: Mapping, *, data_name: str, root: Path | str | None = None) -> dict[str, str]:
    """The config as flat, readable MLflow params (see the module docstring).

    Args:
        config: the composed config (DictConfig or plain dict), resolved.
        data_name: the data set's name (``MatchingData.name``): the value of ``data``.
        root: the project root; absolute paths inside it are logged relative to it.
    """
    config = _as_mapping(config)
    root = Path(root) if root is not None else None
    params: dict[str, str] = {}
    for group, node in config.items():
        if group in _MACHINE_GROUPS:
            continue
        if not isinstance(node, Mapping):
            _flatten({group: node}, "", root, params)
            continue
        node = dict(node)
        if group == "data":
            params["data"] = data_name
            if _target_name(node):
                params["data.source"] = _target_name(node)
            node.pop("name", None)
        elif "name" in node or (_target_name(node) and group != "similarity"):
            # A group that names its choice (loss: focal) shows the name, not the class path.
            # (Every similarity config builds the same SimilarityMap: its map says it all.)
            params[group] = str(node.pop("name", None) or _target_name(node))
        _flatten(node, f"{group}.", root, params)
    return params


def experiment_name(data_name: str, configured: str | None = None) -> str:
    """``tracking.experiment`` when set, else ``lossmatch/<data name>`` (one experiment per data set)."""
    if configured not in (None, ""):
        return str(configured)
    return f"{EXPERIMENT_PREFIX}/{data_name}"


def run_name(loss: str, seed) -> str:
    """``<loss>-seed<seed>``, e.g. ``focal-seed3``: what the compare view lists."""
    return f"{loss}-seed{seed}"


def git_state(root: Path | str | None) -> dict[str, str]:
    """``{"git_commit": sha, "git_dirty": "true"|"false"}`` of the checkout at ``root``; ``{}`` outside git."""
    if root is None:
        return {}

    def git(*args):
        return subprocess.run(
            ["git", *args], cwd=root, capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()

    try:
        commit = git("rev-parse", "HEAD")
        dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.SubprocessError):
        return {}
    return {"git_commit": commit, "git_dirty": "true" if dirty else "false"}


def _loss_name(config: Mapping) -> str:
    loss = config.get("loss") or {}
    return str(loss.get("name") or _target_name(loss) or "loss")


def run_identity(
    config: Mapping,
    *,
    data_name: str,
    root: Path | str | None = None,
    study: str | None = None,
    trial: int | None = None,
    git: Mapping[str, str] | None = None,
    extra_tags: Mapping[str, str] | None = None,
) -> RunIdentity:
    """``(params, tags, experiment_name, run_name)`` of one training run.

    Args:
        config: the composed config (``cfg``) or the validated ``RunConfig``.
        data_name: ``MatchingData.name`` of the loaded data (``febrl4``,
            ``Structured-Beer``, the left CSV's stem, ...).
        root: project root (``cfg.paths.root_dir``), for relative paths and the git commit.
        study, trial: the Optuna study name and trial number when the run is a trial.
        git: the git tags to use instead of asking git (``{}`` for none).
        extra_tags: more tags, e.g. ``{"comparison": "<id>"}`` to find one comparison's runs.
    """
    config = _as_mapping(config)
    seed = config.get("seed")
    loss = _loss_name(config)
    tags = {"data": data_name, "loss": loss, "seed": str(seed)}
    if study is not None:
        tags["study"] = str(study)
    if trial is not None:
        tags["trial"] = str(trial)
    tags.update(git_state(root) if git is None else git)
    tags.update({str(k): str(v) for k, v in (extra_tags or {}).items()})
    configured = (config.get("tracking") or {}).get("experiment")
    return RunIdentity(
        params=readable_params(config, data_name=data_name, root=root),
        tags=tags,
        experiment_name=experiment_name(data_name, configured),
        run_name=run_name(loss, seed),
    )
