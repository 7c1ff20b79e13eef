"""DeepMatcher-format source on Structured-Beer (counts from the magellan README)."""

from pathlib import Path

import pandas as pd
import pytest
from conftest import MAGELLAN, MAGELLAN_MISSING
from hydra.utils import instantiate
from omegaconf import OmegaConf

from lossmatch.data import DeepMatcherSource
from lossmatch.errors import InputError

BEER = MAGELLAN / "Structured-Beer"
CONF = Path(__file__).resolve().parents[2] / "conf" / "data"
needs_beer = pytest.mark.skipif(not BEER.is_dir(), reason=f"Structured-Beer missing: {MAGELLAN_MISSING}")


@needs_beer
def test_structured_beer_counts():
    data = DeepMatcherSource(path=str(BEER)).load()
    assert data.name == "Structured-Beer"
    assert (len(data.left), len(data.right)) == (275, 269)
    sizes = {s: len(df) for s, df in data.labelled_pairs.items()}
    positives = {s: int(df["label"].sum()) for s, df in data.labelled_pairs.items()}
    # README: 268 / 91 / 91 pairs, 40 / 14 / 14 positives.
    assert sizes == {"train": 268, "val": 91, "test": 91}
    assert positives == {"train": 40, "val": 14, "test": 14}
    # matches: the distinct label-1 pairs of all splits.
    assert len(data.matches) == 68
    # Positions refer to rows whose ids are the file's ids.
    raw = pd.read_csv(BEER / "train.csv", dtype=str)
    first = data.labelled_pairs["train"].iloc[0]
    assert data.left.at[first["left"], "id"] == raw.at[0, "ltable_id"]
    assert data.right.at[first["right"], "id"] == raw.at[0, "rtable_id"]


@needs_beer
def test_sample_via_config():
    cfg = OmegaConf.create({"seed": 0, "data": OmegaConf.load(CONF / "deepmatcher.yaml")})
    cfg.data.path = str(BEER)
    cfg.data.sample = 10
    source = instantiate(cfg.data)
    assert source.blocking is None and source.split is None
    data = source.load()
    # n random pairs per split, and only the records they use.
    assert {s: len(df) for s, df in data.labelled_pairs.items()} == {"train": 10, "val": 10, "test": 10}
    assert len(data.left) <= 30 and len(data.right) <= 30
    for df in data.labelled_pairs.values():
        assert df["left"].max() < len(data.left) and df["right"].max() < len(data.right)


def _write_set(root: Path, **overrides):
    files = {
        "tableA.csv": "id,name\n0,a\n1,b\n",
        "tableB.csv": "id,name\n0,a\n1,c\n",
        "train.csv": "ltable_id,rtable_id,label\n0,0,1\n1,1,0\n",
        "valid.csv": "ltable_id,rtable_id,label\n0,1,0\n",
        "test.csv": "ltable_id,rtable_id,label\n1,0,0\n",
    }
    files.update(overrides)
    root.mkdir()
    for name, text in files.items():
        if text is not None:
            (root / name).write_text(text)
    return root


@pytest.mark.parametrize(
    "overrides, expected",
    [
        ({"test.csv": None}, ["data.path: file not found", "test.csv"]),
        ({"train.csv": "ltable_id,rtable_id,label\n0,0,yes\n"}, ["train.csv", "'label'", "'yes'"]),
        ({"valid.csv": "ltable_id,rtable_id,label\n0,9,0\n"}, ["valid.csv", "'rtable_id'", "'9'"]),
        ({"tableA.csv": "key,name\n0,a\n"}, ["tableA.csv", "'id'", "available columns: 'key', 'name'"]),
        ({"train.csv": "ltable_id,rtable_id\n0,0\n"}, ["train.csv", "'label'"]),
    ],
)
def test_bad_sets(tmp_path, overrides, expected):
    root = _write_set(tmp_path / "set", **overrides)
    with pytest.raises(InputError) as info:
        DeepMatcherSource(path=str(root)).load()
    for part in expected:
        assert part in str(info.value)


def test_missing_directory(tmp_path):
    with pytest.raises(InputError) as err:
        DeepMatcherSource(path=str(tmp_path / "nope")).load()
    assert str(err.value) == f"data.path: directory not found: {tmp_path / 'nope'}"
