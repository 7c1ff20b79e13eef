"""CSV source: happy path, config, and a table of bad inputs that must fail clearly."""

from pathlib import Path

import numpy as np
import pytest
from hydra.utils import instantiate
from omegaconf import OmegaConf

from lossmatch.data import CsvSource
from lossmatch.errors import InputError

CONF = Path(__file__).resolve().parents[2] / "conf" / "data"

LEFT = "id,name,city\n007,ann,rome\n2,bob,oslo\n3,cy,rome\n4,dan,oslo\n"
RIGHT = "id,name,city\n7,ann,rome\nb,bob,oslo\nc,zed,rome\n"
MATCHES = "id_l,id_r\n007,7\n2,b\n"


def write(tmp_path, left=LEFT, right=RIGHT, matches=MATCHES):
    paths = {}
    for key, text in {"left": left, "right": right, "matches": matches}.items():
        p = tmp_path / f"{key}.csv"
        if text is not None:
            p.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
        paths[key] = str(p)
    return paths


def source(paths, **kwargs):
    kwargs = {"matches_id_left": "id_l", "matches_id_right": "id_r", **kwargs}
    return CsvSource(**paths, **kwargs)


def test_happy_path(tmp_path):
    data = source(write(tmp_path)).load()
    assert data.name == "left"
    assert (len(data.left), len(data.right)) == (4, 3)
    # Ids stay strings: "007" matches right "7" only because the matches file says so.
    assert data.left["id"].tolist()[0] == "007"
    assert data.matches.values.tolist() == [[0, 0], [1, 1]]
    assert data.matches.dtypes.tolist() == [np.int64, np.int64]
    assert data.files["matches"] == str(tmp_path / "matches.csv")
    assert data.labelled_pairs is None


def test_relative_paths_and_latin1(tmp_path, monkeypatch):
    write(tmp_path, left=LEFT.replace("ann", "anné").encode("latin-1"))
    monkeypatch.chdir(tmp_path)
    data = source({"left": "left.csv", "right": "right.csv", "matches": "matches.csv"}, encoding="latin-1").load()
    assert data.left.at[0, "name"] == "anné"


def test_sample(tmp_path):
    # 20 left records, 10 matched to right 0..9; right 10..29 match nothing.
    left = "id\n" + "".join(f"{i}\n" for i in range(20))
    right = "id\n" + "".join(f"{i}\n" for i in range(30))
    matches = "id_l,id_r\n" + "".join(f"{i},{i}\n" for i in range(10))
    data = source(write(tmp_path, left, right, matches), sample=10, seed=0).load()
    assert len(data.left) == 10
    n_matches = len(data.matches)
    # Right: the matched records plus half (10/20) of the 20 never-matched ones.
    assert len(data.right) == n_matches + 10
    for left, right in data.matches.itertuples(index=False):
        assert data.left.at[left, "id"] == data.right.at[right, "id"]


def test_instantiates_from_config(tmp_path):
    paths = write(tmp_path, matches=MATCHES.replace("id_l,id_r", "id,rid"))
    cfg = OmegaConf.create({"seed": 5, "data": OmegaConf.load(CONF / "csv.yaml")})
    cfg.data.update(paths)
    cfg.data.matches_id_right = "rid"
    src = instantiate(cfg.data)
    # matches_id_left follows id_left through ${.id_left}.
    assert src.matches_id_left == "id" and src.seed == 5
    assert src.blocking == [{"method": "full"}] and src.split == {"val": 0.2, "test": 0.2}
    assert len(src.load().matches) == 2


BAD = [
    # (what, file overrides, source kwargs, parts the message must contain)
    ("missing left file", {"left": None}, {}, ["data.left: file not found", "left.csv"]),
    ("missing matches file", {"matches": None}, {}, ["data.matches: file not found"]),
    ("missing id column", {"right": "key,name\n7,ann\n"}, {}, ["right.csv", "'id'", "available columns: 'key', 'name'"]),
    ("duplicate ids", {"left": "id\n1\n1\n2\n2\n3\n"}, {}, ["left.csv", "2 duplicated", "'1'", "'2'"]),
    ("unknown match ids", {"matches": "id_l,id_r\n7,7\n2,b\n"}, {}, ["matches.csv", "'id_l'", "'7'", "left table"]),
    ("empty table", {"left": "id,name\n"}, {}, ["left.csv", "no rows"]),
    ("zero-byte file", {"right": ""}, {}, ["right.csv", "0 bytes"]),
    ("empty matches", {"matches": "id_l,id_r\n"}, {}, ["matches.csv", "no rows"]),
    ("matches column", {"matches": "a,b\n007,7\n"}, {}, ["matches.csv", "'id_l'", "available columns: 'a', 'b'"]),
    # "id,name\n1,ann\n2,caf" is 19 bytes, so the latin-1 "\xe9" sits at 0-based offset 19.
    (
        "not utf-8",
        {"left": "id,name\n1,ann\n2,caf\xe9\n".encode("latin-1")},
        {},
        ["left.csv", "not valid utf-8", "offset 19", "line 3", "data.encoding=latin-1"],
    ),
    ("unknown encoding", {}, {"encoding": "klingon"}, ["data.encoding", "'klingon'"]),
    ("blocking column", {}, {"blocking": [{"method": "block", "on": "zip"}]}, ["data.blocking[0]", "'zip'", "'city'"]),
    ("blocking method", {}, {"blocking": [{"method": "magic"}]}, ["data.blocking[0]", "'magic'"]),
    ("split fractions", {}, {"split": {"val": 0.6, "test": 0.5}}, ["data.split", "below 1"]),
    ("split range", {}, {"split": {"val": 0, "test": 0.2}}, ["data.split.val", "(0, 1)"]),
    ("sample", {}, {"sample": 0}, ["data.sample", "0"]),
]


@pytest.mark.parametrize("files, kwargs, expected", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_input(tmp_path, files, kwargs, expected):
    paths = write(tmp_path, **{"left": LEFT, "right": RIGHT, "matches": MATCHES, **files})
    with pytest.raises(InputError) as info:
        source(paths, **kwargs).load()
    message = str(info.value)
    # One line that names the file / column / value.
    assert "\n" not in message
    for part in expected:
        assert part in message, message


def test_csv_tables_decode_html_references_on_request(tmp_path):
    from lossmatch.data.csv import CsvSource

    (tmp_path / "a.csv").write_text("id,name\n1,AT&amp;T\n2,x\n3,y\n")
    (tmp_path / "b.csv").write_text("id,name\n1,AT&T\n2,x\n3,y\n")
    (tmp_path / "m.csv").write_text("l,r\n1,1\n2,2\n3,3\n")
    kwargs = dict(left=str(tmp_path / "a.csv"), right=str(tmp_path / "b.csv"), matches=str(tmp_path / "m.csv"),
                  matches_id_left="l", matches_id_right="r")
    assert CsvSource(**kwargs).load().left["name"].tolist() == ["AT&amp;T", "x", "y"]
    assert CsvSource(**kwargs, unescape_html=True).load().left["name"].tolist() == ["AT&T", "x", "y"]
