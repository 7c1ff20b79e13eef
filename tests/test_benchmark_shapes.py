"""bench/benchmark_shapes.py: seeded synthetic sets with the shapes of the largest DeepMatcher sets."""

from __future__ import annotations

import importlib.util
import sys

import numpy as np
import pandas as pd
import pytest
from conftest import ROOT


def _script():
    spec = importlib.util.spec_from_file_location("benchmark_shapes", ROOT / "bench" / "benchmark_shapes.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


FILES = ("tableA.csv", "tableB.csv", "train.csv", "valid.csv", "test.csv")


@pytest.mark.parametrize("name", ["company", "dblp-scholar", "walmart-amazon"])
def test_a_set_has_the_shape_scaled_and_the_official_layout(tmp_path, name):
    shapes = _script()
    folder = shapes.write_shape(name, tmp_path, scale=0.01, words=40, seed=3)
    shape = shapes.SHAPES[name].scaled(0.01)
    left, right = pd.read_csv(folder / "tableA.csv"), pd.read_csv(folder / "tableB.csv")
    splits = {s: pd.read_csv(folder / f"{s}.csv") for s in ("train", "valid", "test")}
    pairs = pd.concat(splits.values())
    assert (len(left), len(right)) == (shape.n_left, shape.n_right)
    assert list(pairs.columns) == ["ltable_id", "rtable_id", "label"]
    assert len(pairs) == shape.n_pairs and int(pairs["label"].sum()) == shape.n_matches
    assert not pairs.duplicated(["ltable_id", "rtable_id"]).any()
    assert pairs["ltable_id"].isin(left["id"]).all() and pairs["rtable_id"].isin(right["id"]).all()
    # 3:1:1 for matches and non-matches alike (each rounded on its own: within a pair of each).
    for label in (0, 1):
        sizes = np.array([(splits[s]["label"] == label).sum() for s in ("train", "valid", "test")])
        assert np.abs(sizes - np.array([0.6, 0.2, 0.2]) * sizes.sum()).max() <= 1
    assert all(splits[s]["label"].sum() > 0 for s in splits)


def test_the_same_seed_writes_the_same_files_and_another_seed_others(tmp_path):
    shapes = _script()
    first = shapes.write_shape("dblp-scholar", tmp_path / "a", scale=0.005, seed=1)
    again = shapes.write_shape("dblp-scholar", tmp_path / "b", scale=0.005, seed=1)
    other = shapes.write_shape("dblp-scholar", tmp_path / "c", scale=0.005, seed=2)
    assert all((first / f).read_bytes() == (again / f).read_bytes() for f in FILES)
    assert (first / "tableA.csv").read_bytes() != (other / "tableA.csv").read_bytes()


def test_company_matches_share_many_words_but_not_their_order_or_length(tmp_path):
    shapes = _script()
    folder = shapes.write_shape("company", tmp_path, scale=0.005, words=200, seed=0)
    left = pd.read_csv(folder / "tableA.csv").set_index("id")["content"]
    right = pd.read_csv(folder / "tableB.csv").set_index("id")["content"]
    pairs = pd.concat(pd.read_csv(folder / f"{s}.csv") for s in ("train", "valid", "test"))
    lengths = left.str.split().map(len)
    assert 100 < lengths.mean() < 400  # about --words on average

    def overlap(row):
        a, b = set(left[row.ltable_id].split()), set(right[row.rtable_id].split())
        return len(a & b) / min(len(a), len(b))

    shared = pairs.apply(overlap, axis=1)
    matches, others = shared[pairs["label"] == 1], shared[pairs["label"] == 0]
    assert matches.mean() > others.mean() + 0.1
    match = pairs[pairs["label"] == 1].iloc[0]
    a, b = left[match.ltable_id].split(), right[match.rtable_id].split()
    assert a[: len(b)] != b[: len(a)] and len(a) != len(b)


def test_zipf_words_make_frequent_words_frequent():
    shapes = _script()
    # p(rank) ~ rank^-1.05: rank 1 is 2^1.05 times as likely as rank 2, sums to 1.
    p = shapes.zipf_probabilities(1000)
    assert p.sum() == pytest.approx(1.0) and p[0] / p[1] == pytest.approx(2 ** 1.05)
    draws = shapes.zipf_draw(np.cumsum(p), 20_000, np.random.default_rng(0))
    assert draws.min() >= 0 and draws.max() < 1000
    assert np.mean(draws == 0) == pytest.approx(p[0], abs=0.01)
