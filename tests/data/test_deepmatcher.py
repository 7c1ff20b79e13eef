"""DeepMatcher-format source on Structured-Beer (counts from the magellan README)."""

from pathlib import Path

import pandas as pd
import pytest
from conftest import MAGELLAN, MAGELLAN_MISSING, tiny_overrides
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


# ---- pairs=blocked: the set as two tables, blocked, split by entity ----

BLOCKED_SET = {
    "tableA.csv": "id,name,city\n0,alpha,x\n1,beta,y\n2,gamma,x\n3,delta,z\n",
    "tableB.csv": "id,name,city\n0,alpha,x\n1,betta,y\n2,gamma,x\n3,epsilon,z\n4,zeta,y\n",
    "train.csv": "ltable_id,rtable_id,label\n0,0,1\n1,3,0\n",
    "valid.csv": "ltable_id,rtable_id,label\n1,1,1\n2,0,0\n",
    # (1, 1) is a match in valid.csv and a non-match here: labelled 1 anywhere means a match.
    "test.csv": "ltable_id,rtable_id,label\n2,2,1\n1,1,0\n",
}


def _blocked_set(tmp_path):
    return _write_set(tmp_path / "tiny", **BLOCKED_SET)


def test_blocked_mode_matches_are_the_positives_of_all_files(tmp_path):
    source = DeepMatcherSource(path=str(_blocked_set(tmp_path)), pairs="blocked")
    data = source.load()
    # No official pairs: the trainer blocks and splits by entity.
    assert data.labelled_pairs is None and data.name == "tiny-blocked"
    # Label-1 pairs of train, valid and test: (0,0), (1,1), (2,2), as row positions.
    assert data.matches.values.tolist() == [[0, 0], [1, 1], [2, 2]]
    # Tiny tables: the generic default compares every pair; the split defaults to 0.2 / 0.2.
    assert source.blocking == [{"method": "full"}]
    assert source.split == {"val": 0.2, "test": 0.2}


def test_blocked_mode_uses_and_checks_given_rules(tmp_path):
    root = str(_blocked_set(tmp_path))
    source = DeepMatcherSource(path=root, pairs="blocked", blocking=[{"method": "block", True: "city"}])
    source.load()
    assert source.blocking == [{"method": "block", "left_on": ["city"], "right_on": ["city"]}]
    with pytest.raises(InputError, match=r"data.blocking\[0\] \(left table\): column 'title' not found"):
        DeepMatcherSource(path=root, pairs="blocked", blocking=[{"method": "block", "on": "title"}]).load()


def test_blocked_mode_through_the_pipeline_preparation(tmp_path, compose_cfg):
    from lossmatch.config import validate
    from lossmatch.pipeline import prepare

    root = _blocked_set(tmp_path)
    cfg = compose_cfg(
        ["data=deepmatcher", "data.pairs=blocked", f"data.path={root}", "similarity.map={name: [jaro_winkler]}",
         "similarity.auto=false", "seed=1", *tiny_overrides(tmp_path)[1:]]
    )
    prepared = prepare(validate(cfg))
    # Every pair of 4 x 5 records is a candidate and all 3 matches are among them.
    assert (prepared.n_candidates, prepared.completeness) == (20, 1.0)
    # Pairs are split by entity: a match's two records always share a split.
    kept = sum(len(p) for p in prepared.pairs.values())
    assert kept < 20 and sum(prepared.missed.values()) == 0


def test_default_blocking_of_large_tables_sorts_on_the_first_attribute():
    from lossmatch.data.deepmatcher import default_blocking

    left = pd.DataFrame({"id": range(2000), "title": "a", "price": 1.0})
    right = pd.DataFrame({"id": range(1501), "title": "a", "price": 1.0})
    # 2,000 x 1,501 = 3,002,000 pairs, above the 3 M limit for comparing every pair.
    assert default_blocking(left, right) == [{"method": "sortedneighbourhood", "on": "title", "window": 21}]
    assert default_blocking(left, right.iloc[:1500]) == [{"method": "full"}]


def test_blocked_mode_sample_keeps_tables_consistent(tmp_path):
    data = DeepMatcherSource(path=str(_blocked_set(tmp_path)), pairs="blocked", sample=2, seed=0).load()
    assert len(data.left) == 2
    # Every match refers to kept rows.
    assert data.matches["left"].max() < 2 and data.matches["right"].max() < len(data.right)


def test_unknown_pairs_mode(tmp_path):
    with pytest.raises(InputError, match="data.pairs: expected one of official, blocked, got 'all'"):
        DeepMatcherSource(path=str(_blocked_set(tmp_path)), pairs="all").load()


def test_html_character_references_are_decoded_on_request(tmp_path):
    # Scraped tables keep HTML references on one side: "&#40;" is "(" (code point 40), "&#233;"
    # is "é" (233), "&amp;" is "&"; a bare "&" and the ids are left alone.
    root = _write_set(
        tmp_path / "set",
        **{"tableA.csv": 'id,name,price\n0,Ruby & Co,4.5\n1,b,\n',
           "tableB.csv": 'id,name,price\n0,"Ruby &amp; Co &#40; Brewery &#41;",4.5\n1,Jos&#233;,\n'},
    )
    plain = DeepMatcherSource(path=str(root)).load()
    decoded = DeepMatcherSource(path=str(root), unescape_html=True).load()
    assert plain.right["name"].tolist() == ["Ruby &amp; Co &#40; Brewery &#41;", "Jos&#233;"]
    assert decoded.right["name"].tolist() == ["Ruby & Co ( Brewery )", "José"]
    assert decoded.left["name"].tolist() == ["Ruby & Co", "b"]
    pd.testing.assert_series_equal(decoded.right["price"], plain.right["price"])
    pd.testing.assert_series_equal(decoded.right["id"], plain.right["id"])
