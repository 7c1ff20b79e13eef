"""Save and load similarity maps: YAML or JSON (safe, the default) and dill (for existing tools).

The file format follows the suffix: ``.yaml``/``.yml``, ``.json``, ``.dill``/``.pkl``. YAML and
JSON files hold ``{map: {...}}``, the same layout as ``conf/similarity/*.yaml``. Loading a dill
file runs arbitrary code, so it needs ``trusted=True``.
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from lossmatch.errors import InputError
from lossmatch.similarity.map import SimilarityMap

__all__ = ["load_similarity_map", "save_similarity_map"]

_TEXT_SUFFIXES = {".yaml", ".yml", ".json"}
_DILL_SUFFIXES = {".dill", ".pkl"}


def _suffix(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in _TEXT_SUFFIXES | _DILL_SUFFIXES:
        known = ", ".join(sorted(_TEXT_SUFFIXES | _DILL_SUFFIXES))
        raise InputError(f"Cannot tell the similarity map format of {str(path)!r}; use one of: {known}.")
    return suffix


def save_similarity_map(similarity_map: SimilarityMap, path: str | Path) -> None:
    """Write ``similarity_map`` to ``path`` in the format given by its suffix."""
    path = Path(path)
    suffix = _suffix(path)
    content = {"map": similarity_map.to_dict()}
    if suffix in (".yaml", ".yml"):
        path.write_text(yaml.safe_dump(content, sort_keys=False), encoding="utf-8")
    elif suffix == ".json":
        path.write_text(json.dumps(content, indent=2) + "\n", encoding="utf-8")
    else:
        import dill  # only needed for this format

        with path.open("wb") as file:
            dill.dump(similarity_map, file)


def load_similarity_map(path: str | Path, trusted: bool = False) -> SimilarityMap:
    """Read a similarity map saved by :func:`save_similarity_map` (or a ``conf/similarity`` file).

    Args:
        trusted: must be True for ``.dill``/``.pkl``, because unpickling runs code from the file.
    """
    path = Path(path)
    suffix = _suffix(path)
    if not path.is_file():
        raise InputError(f"Similarity map file {str(path)!r} does not exist.")
    if suffix in _DILL_SUFFIXES:
        if not trusted:
            raise InputError(
                f"Loading {str(path)!r} would run code stored in it (dill); pass trusted=True only for "
                "files you created, or load the YAML/JSON copy instead."
            )
        import dill

        with path.open("rb") as file:
            loaded = dill.load(file)
        if not isinstance(loaded, SimilarityMap):
            raise InputError(f"{str(path)!r} holds a {type(loaded).__name__}, not a SimilarityMap.")
        return loaded
    text = path.read_text(encoding="utf-8")
    try:
        content = yaml.safe_load(text) if suffix in (".yaml", ".yml") else json.loads(text)
    except (yaml.YAMLError, json.JSONDecodeError) as err:
        # PyYAML's messages span several lines (with a caret under the column); keep one line.
        raise InputError(f"Cannot parse similarity map file {str(path)!r}: {' '.join(str(err).split())}") from None
    return SimilarityMap.from_dict(content)
