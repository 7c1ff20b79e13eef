"""Feature cache: keys follow every input (and only the content), corrupt entries are rebuilt,
concurrent writers build once, and cached results equal fresh ones."""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest

import lossmatch.cache as cache_module
from lossmatch.blocking import candidate_keys
from lossmatch.cache import FeatureCache, table_digest
from lossmatch.common import contains_pairs
from lossmatch.data.febrl4 import Febrl4Source
from lossmatch.errors import InputError
from lossmatch.feature_store import compute_features
from lossmatch.similarity import SimilarityMap

RULES = [{"method": "block", "on": "surname"}, {"method": "block", "on": "postcode"}]
MAP = SimilarityMap({"given_name": ["jaro_winkler"], "surname": ["levenshtein", "exact"]})


@pytest.fixture(scope="module")
def data():
    return Febrl4Source(sample=200, seed=2).load()


def _key(cache, left, right, rules=RULES, similarity_map=MAP):
    from lossmatch.blocking import validate_rules

    return cache.key("features", left=table_digest(left), right=table_digest(right),
                     rules=validate_rules(rules), map=similarity_map.to_dict())


def test_a_change_in_any_input_changes_the_key(data, tmp_path, monkeypatch):
    cache = FeatureCache(tmp_path)
    base = _key(cache, data.left, data.right)
    edited = data.left.copy()
    edited.loc[5, "surname"] = "someone else"
    reordered = data.left.iloc[::-1]
    assert _key(cache, edited, data.right) != base  # one value
    assert _key(cache, reordered, data.right) != base  # row order (pairs are row positions)
    assert _key(cache, data.left.rename(columns={"state": "region"}), data.right) != base  # a column name
    assert _key(cache, data.right, data.left) != base  # sides swapped
    assert _key(cache, data.left, data.right, rules=RULES[:1]) != base
    assert _key(cache, data.left, data.right, similarity_map=SimilarityMap({"given_name": ["jaro"]})) != base
    # The content, not the object or its index: an equal copy with other labels keys the same.
    assert _key(cache, data.left.copy().set_axis(np.arange(len(data.left)) + 100), data.right) == base
    # A change in the code that computes features changes every key.
    monkeypatch.setattr(cache, "_code", "another code digest")
    assert _key(cache, data.left, data.right) != base


def test_code_digest_follows_the_source(tmp_path, monkeypatch):
    module = tmp_path / "lm_fake_module.py"
    module.write_text("X = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    first = cache_module.code_digest(["lm_fake_module"])
    module.write_text("X = 2\n")
    assert cache_module.code_digest(["lm_fake_module"]) != first


def test_same_inputs_same_key_in_another_process(data, tmp_path):
    cache = FeatureCache(tmp_path)
    script = textwrap.dedent(f"""
        from lossmatch.blocking import validate_rules
        from lossmatch.cache import FeatureCache, table_digest
        from lossmatch.data.febrl4 import Febrl4Source
        from lossmatch.similarity import SimilarityMap
        d = Febrl4Source(sample=200, seed=2).load()
        c = FeatureCache({str(tmp_path)!r})
        print(c.key("features", left=table_digest(d.left), right=table_digest(d.right),
                    rules=validate_rules({RULES!r}), map=SimilarityMap({MAP.to_dict()!r}).to_dict()))
    """)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.strip() == _key(cache, data.left, data.right)


def test_cached_results_equal_fresh_ones_and_hit_the_second_time(data, tmp_path):
    cache = FeatureCache(tmp_path / "cache")
    fresh_keys = candidate_keys(data.left, data.right, RULES)
    fresh_X = compute_features(MAP, data.left, data.right, fresh_keys)
    for _ in range(2):
        keys = cache.candidate_keys(data.left, data.right, RULES)
        X = cache.feature_matrix(MAP, data.left, data.right, keys, chunk_size=50)
        assert np.array_equal(keys, fresh_keys) and np.array_equal(X, fresh_X)
    # First round: two misses (candidates, features); second round: two hits.
    assert (cache.misses, cache.hits) == (2, 2)
    # Digests computed once and passed on find the same entries.
    digests = cache.table_digests(data.left, data.right)
    assert np.array_equal(cache.feature_matrix(MAP, data.left, data.right,
                                               cache.candidate_keys(data.left, data.right, RULES, digests=digests),
                                               digests=digests), fresh_X)
    assert cache.hits == 4
    # The DuckDB engine gives the same keys, so it reads the same entry.
    assert np.array_equal(cache.candidate_keys(data.left, data.right, RULES, engine="duckdb"), fresh_keys)
    assert cache.hits == 5
    file = cache.feature_file(MAP, data.left, data.right, keys, matches=data.matches)
    found = contains_pairs(data.matches, keys, len(data.right)).sum()
    assert file.column("label").sum() == found > 150 and cache.misses == 3


def test_disabled_cache_writes_nothing(data, tmp_path):
    cache = FeatureCache(tmp_path / "cache", enabled=False)
    keys = cache.candidate_keys(data.left, data.right, RULES)
    assert np.array_equal(cache.feature_matrix(MAP, data.left, data.right, keys),
                          compute_features(MAP, data.left, data.right, keys))
    assert not (tmp_path / "cache").exists()
    with pytest.raises(InputError, match="scratch"):
        cache.feature_file(MAP, data.left, data.right, keys)
    with pytest.raises(InputError, match="directory"):
        FeatureCache(None)


def _entry(cache, data):
    from lossmatch.blocking import validate_rules

    keys = cache.candidate_keys(data.left, data.right, RULES)
    key = cache.key("candidates", left=table_digest(data.left), right=table_digest(data.right),
                    rules=validate_rules(RULES, data.left, data.right))
    return keys, cache.path("candidates", key)


def _truncate(entry):
    with open(entry / "keys.npy", "r+b") as f:
        f.truncate(100)


def _flip(entry):
    raw = bytearray((entry / "keys.npy").read_bytes())
    raw[-3] ^= 0xFF  # same size, one key changed: only the checksum sees it
    (entry / "keys.npy").write_bytes(bytes(raw))


def _no_manifest(entry):
    (entry / "manifest.json").unlink()


def _bad_manifest(entry):
    (entry / "manifest.json").write_text("{not json")


def _no_data(entry):
    (entry / "keys.npy").unlink()


@pytest.mark.parametrize("damage", [_truncate, _flip, _no_manifest, _bad_manifest, _no_data])
def test_a_damaged_entry_is_rebuilt_never_read(data, tmp_path, damage):
    cache = FeatureCache(tmp_path)
    keys, entry = _entry(cache, data)
    damage(entry)
    # The damaged entry is detected, removed and built again: a miss, and the right keys.
    again = cache.candidate_keys(data.left, data.right, RULES)
    assert np.array_equal(again, keys) and cache.misses == 2
    manifest = json.loads((entry / "manifest.json").read_text())
    assert manifest["files"]["keys.npy"]["bytes"] == (entry / "keys.npy").stat().st_size


def test_size_only_verification_misses_a_flipped_byte_but_full_catches_it(data, tmp_path):
    _, entry = _entry(FeatureCache(tmp_path), data)
    _flip(entry)
    assert FeatureCache(tmp_path, verify="size").lookup("candidates", entry.name) is not None
    assert FeatureCache(tmp_path).lookup("candidates", entry.name) is None
    assert not entry.exists()  # removed, so the next build starts clean


def test_concurrent_writers_build_once(tmp_path):
    # Three processes ask for one key at once; the builder sleeps so that they overlap.
    script = textwrap.dedent(f"""
        import time, sys
        from pathlib import Path
        from lossmatch.cache import FeatureCache
        def build(d):
            (Path({str(tmp_path)!r}) / f"built-{{sys.argv[1]}}").touch()
            time.sleep(1.0)
            (d / "value.txt").write_text("42" * 1000)
        entry = FeatureCache({str(tmp_path / "cache")!r}).get_or_build("test", "k" * 64, build)
        print((entry / "value.txt").read_text()[:2])
    """)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    procs = [subprocess.Popen([sys.executable, "-c", script, str(i)], stdout=subprocess.PIPE, text=True, env=env)
             for i in range(3)]
    outputs = [p.communicate(timeout=120)[0].strip() for p in procs]
    assert outputs == ["42"] * 3 and all(p.returncode == 0 for p in procs)
    assert len(list(tmp_path.glob("built-*"))) == 1
    # Nothing half-written is left behind.
    assert list((tmp_path / "cache" / "tmp").iterdir()) == []


def test_bad_verify_option(tmp_path):
    with pytest.raises(InputError, match="verify"):
        FeatureCache(tmp_path, verify="sometimes")


def test_table_digest_sees_types_missing_values_and_boundaries():
    base = pd.DataFrame({"a": ["x", "1", None], "b": [1.0, np.nan, 2.0]})
    digest = table_digest(base)
    # Same content in a new object: same digest; each change below: another digest.
    assert table_digest(base.copy()) == digest
    changes = [
        base.assign(a=["x", 1, None]),          # "1" -> 1: same text, other type
        base.assign(a=["x", "1", "None"]),      # None -> "None"
        base.assign(a=["x", "1", np.nan]),      # None -> NaN
        base.assign(a=["x1", "", None]),        # text moved across a cell boundary
        base.assign(b=[1.0, 0.0, 2.0]),         # NaN -> 0
        base.assign(b=pd.array([1.0, None, 2.0], dtype="Float64")),  # a nullable dtype
        base[["b", "a"]],                       # column order
    ]
    digests = {table_digest(frame) for frame in changes}
    assert digest not in digests and len(digests) == len(changes)
