"""similarity=auto: the map inferred from the columns, its combination with hand-written entries, bad input."""

from __future__ import annotations

import pandas as pd
import pytest
import yaml

from lossmatch.errors import InputError
from lossmatch.similarity import SimilarityMap
from lossmatch.similarity.auto import infer_map, profile_columns, resolve_similarity_map

TEXT = ["jaro_winkler", "levenshtein", "token_sort_ratio", "token_set_ratio", "partial_ratio", "token_jaccard",
        "token_overlap", "tfidf_word", "tfidf_char", "length_ratio"]
SIDES = ["missing_left", "missing_right"]


@pytest.fixture
def tables():
    left = pd.DataFrame({
        "id": [1, 2, 3, 4, 5],
        "name": ["apple ipod nano", "sony walkman", "canon eos camera", "acme anvil", "blue widget"],
        "price": ["10", "20", "$30", "40", None],
        "model": ["A1234", "XB-200", "5D", "C-3", "K9"],
        "notes": ["gift", None, None, None, None],
        "color": ["red", "blue", "", "black", "white"],
    })
    right = pd.DataFrame({
        "id": [7, 8, 9, 10, 11],
        "name": ["ipod nano by apple", "sony walkman wm1", "eos camera", "anvil", "green widget"],
        "price": ["10.00", "20", "30", "40 %", ""],
        "model": ["a1234", "xb200", "5d mk2", "C-3", "k9"],
        "notes": ["gift", "", "", None, None],
    })
    return left, right


def test_infers_a_map_from_the_columns(tables):
    left, right = tables
    spec = infer_map(left, right, ignore=["id"])
    assert spec == {
        # Text: the edit, token and TF-IDF similarities; no name occurs on both sides, so no 'exact'.
        "name": TEXT + SIDES,
        # Numbers (currency and percent signs allowed): 10, 20, 30, 40 on each side; sorted
        # 10,10,20,20,30,30,40,40 has quartiles 17.5 and 32.5, so the gaussian scale is 15 / 2.
        "price": ["exact", "levenshtein", "numeric_abs", {"name": "gaussian", "scale": 7.5}] + SIDES,
        # Codes: short values whose words mostly hold digits (8.5 of 10 word shares).
        "model": ["exact", "levenshtein", "jaro_winkler", "partial_ratio", "code_jaccard", "code_overlap",
                  "tfidf_char", "length_ratio"] + SIDES,
        # 80 % missing on each side: a short list ('gift' is on both sides, so 'exact' stays).
        "notes": ["exact", "jaro_winkler", "token_set_ratio"] + SIDES,
        # Each attribute found anywhere in the other record (misplaced values).
        "name~*": ["token_overlap"], "*~name": ["token_overlap"],
        "price~*": ["token_overlap"], "*~price": ["token_overlap"],
        "model~*": ["token_overlap"], "*~model": ["token_overlap"],
        "notes~*": ["token_overlap"], "*~notes": ["token_overlap"],
        # A left-only column is compared with the right record.
        "color~*": ["token_overlap", "code_overlap"],
        # Whole records, with the table context of their TF-IDF cosines (5 x 5 records is cheap).
        "*": [{"name": "tfidf_word", "context": True}, {"name": "tfidf_char", "context": True},
              "token_set_ratio", "token_jaccard", "token_overlap", "code_jaccard", "code_overlap",
              "code_disjoint", "length_ratio"],
    }
    # It is an ordinary map: it builds, transforms, and survives YAML.
    sm = SimilarityMap(spec)
    assert SimilarityMap(yaml.safe_load(yaml.safe_dump(sm.to_dict()))) == sm
    X = sm.transform(left, right, [0, 1, 2], [0, 1, 2])
    assert X.shape == (3, len(sm.feature_names))


def test_profiles_say_why(tables):
    left, right = tables
    profiles = {p.column: p for p in profile_columns(left, right, ignore=["id"])}
    assert {c: p.kind for c, p in profiles.items()} == {
        "name": "text", "price": "numeric", "model": "code", "notes": "text", "color": "one-sided"}
    # 1 of 5 prices missing on each side; 4 of 5 notes.
    assert (profiles["price"].missing_left, profiles["notes"].missing_right) == (0.2, 0.8)
    assert profiles["model"].code_word_share == 0.85


def test_long_text_gets_no_edit_distances():
    words = " ".join(f"word{i % 7}" if i % 3 else f"term{i}" for i in range(45))
    left = pd.DataFrame({"id": [0, 1], "description": [words, words + " extra"]})
    right = pd.DataFrame({"id": [0, 1], "description": [words, "other " + words]})
    spec = infer_map(left, right, ignore=["id"])
    # 45 words a value: long text, compared by TF-IDF and token sets, no O(n*m) edit distances.
    assert spec["description"] == ["tfidf_word", "tfidf_char", "token_jaccard", "token_overlap", "code_jaccard",
                                   "code_overlap", "code_disjoint", "length_ratio"] + SIDES
    # One attribute: no cross entries; records of over 40 words get no rapidfuzz scorer either.
    assert set(spec) == {"description", "*"} and "token_set_ratio" not in spec["*"]


def test_context_is_dropped_above_the_cell_budget(tables):
    left, right = tables
    spec = infer_map(left, right, ignore=["id"], max_context_cells=24)
    # 5 x 5 distinct records = 25 cells > 24: plain TF-IDF cosines, no context.
    assert spec["*"][:2] == ["tfidf_word", "tfidf_char"]
    spec = infer_map(left, right, ignore=["id"], max_context_cells=124)
    # Character n-grams get a fifth of the budget: 25 <= 124 for words, 25 > 124 // 5 = 24 for characters.
    assert spec["*"][:2] == [{"name": "tfidf_word", "context": True}, "tfidf_char"]


def test_hand_written_entries_replace_or_add(tables):
    left, right = tables
    config = {"auto": True, "map": {"name~name": ["exact"], "color~notes": ["token_set_ratio"]}}
    sm = resolve_similarity_map(config, left, right, ignore=["id"])
    spec = sm.to_dict()
    # "name~name" is the same column pair as the inferred "name": the hand-written list wins.
    assert spec["name"] == ["exact"]
    # A new pair is added; the inferred rest stays.
    assert spec["color~notes"] == ["token_set_ratio"] and spec["model"][0] == "exact"


def test_without_auto_the_hand_written_map_is_used(tables):
    left, right = tables
    sm = resolve_similarity_map({"auto": False, "map": {"name": ["exact"]}}, left, right)
    assert sm.to_dict() == {"name": ["exact"]}
    with pytest.raises(InputError, match="similarity.map"):
        resolve_similarity_map({"map": None}, left, right)


@pytest.mark.parametrize(
    ("config", "words"),
    [
        ({"auto": "yes"}, ["similarity.auto", "'yes'"]),
        ({"auto": True, "auto_options": {"contxt": False}}, ["contxt", "max_context_cells"]),
        ({"auto": True, "map": ["name"]}, ["similarity.map", "mapping"]),
    ],
)
def test_bad_config_raises_one_line_input_error(tables, config, words):
    left, right = tables
    with pytest.raises(InputError) as err:
        resolve_similarity_map(config, left, right, ignore=["id"])
    assert "\n" not in str(err.value)
    for word in words:
        assert word in str(err.value)


def test_bad_tables_raise_input_error():
    with pytest.raises(InputError, match="no column to compare"):
        infer_map(pd.DataFrame({"id": [1]}), pd.DataFrame({"id": [2]}), ignore=["id"])
    with pytest.raises(InputError, match="'\\*'"):
        infer_map(pd.DataFrame({"*": ["a"]}), pd.DataFrame({"*": ["b"]}))
    with pytest.raises(InputError, match="nothing can be compared, the left table and the right table have no column"):
        infer_map(pd.DataFrame({"a": [None]}), pd.DataFrame({"b": [None]}))


def test_profile_figures_and_the_inclusive_kind_boundaries():
    letters = " ".join("abcdefghijklmnopqrst")  # 20 words without a digit
    left = pd.DataFrame({
        "text": ["ab 12", "ab 12", "cd", "cd"], "num": ["1", "2", "x", None], "edge_num": ["1", "2", None, None],
        "edge_code": ["a1 b2 c d", None, None, None], "edge_long": [letters, None, None, None]})
    right = pd.DataFrame({
        "text": ["ab 12", None, "ef gh ij", "cd"], "num": ["3", "4", "5", "6"], "edge_num": ["3", "4", "x", None],
        "edge_code": ["a1 b2 c d", None, None, None], "edge_long": [letters, None, None, None]})
    got = {p.column: p.as_dict() for p in profile_columns(left, right)}
    # text: 7 present values, "ab 12" x3 (2 words, 1 code), "cd" x3 (1 word), "ef gh ij" x1 (3 words).
    # 3 distinct / 7 = 0.4286; mean words (2*3 + 1*3 + 3) / 7 = 1.71; code share (1/2 * 3) / 7 = 0.2143;
    # on both sides: "ab 12" and "cd"; 1 of 4 right values missing.
    assert got["text"] == {"column": "text", "kind": "text", "missing_left": 0.0, "missing_right": 0.25,
                           "numeric_share": 0.0, "distinct_share": 0.4286, "mean_words": 1.71,
                           "code_word_share": 0.2143, "shared_values": 2, "scale": None,
                           "parse": None}
    # num: 1..6 and "x": 6 / 7 = 0.8571 numbers (>= 0.8: numeric), each its own 1-word code value.
    # Scale: half the IQR of 1..6, (4.75 - 2.25) / 2 = 1.25.
    assert got["num"] == {"column": "num", "kind": "numeric", "missing_left": 0.25, "missing_right": 0.0,
                          "numeric_share": 0.8571, "distinct_share": 1.0, "mean_words": 1.0,
                          "code_word_share": 0.8571, "shared_values": 0, "scale": 1.25,
                          "parse": "number"}
    # The thresholds are inclusive: numbers 4 / 5 = 0.8 is numeric; 4 words of which half are codes
    # is a code; 20 words is long text.
    assert {c: got[c]["kind"] for c in ("edge_num", "edge_code", "edge_long")} == {
        "edge_num": "numeric", "edge_code": "code", "edge_long": "long"}
    assert (got["edge_num"]["numeric_share"], got["edge_code"]["mean_words"], got["edge_code"]["code_word_share"],
            got["edge_long"]["mean_words"]) == (0.8, 4.0, 0.5, 20.0)


def test_profile_edge_cases_of_scale_kind_and_missing_columns():
    n = [None] * 4
    left = pd.DataFrame({"same_num": ["7"] * 4, "spiky": ["5"] * 4, "punct": ["-", "ab", None, None],
                         "only_left": ["q", None, None, None], "empty": n, "left_blank": n, "right_blank": ["a", "b", None, None]})
    right = pd.DataFrame({"same_num": ["7"] * 4, "spiky": ["5", "5", "5", "9"], "punct": ["-", None, None, None],
                          "empty": n, "left_blank": ["a", "b", None, None], "right_blank": n})
    got = {p.column: p.as_dict() for p in profile_columns(left, right)}
    # One repeated number: no spread at all, the scale falls back to 1.
    assert (got["same_num"]["kind"], got["same_num"]["scale"]) == ("numeric", 1.0)
    # Seven 5s and a 9: the quartiles are both 5 (IQR 0), so the scale is the std:
    # mean 5.5, variance (7 * 0.25 + 12.25) / 8 = 1.75, std 1.3229 -> 1.32 (three digits).
    assert (got["spiky"]["kind"], got["spiky"]["scale"]) == ("numeric", 1.32)
    # "-" has no word: it counts 0 words and no code (not a division by zero, not a code value);
    # mean words (0 * 2 + 1) / 3 = 0.33.
    assert (got["punct"]["kind"], got["punct"]["mean_words"], got["punct"]["code_word_share"]) == ("text", 0.33, 0.0)
    # A column of one table only, or missing everywhere on one side, is one-sided; a table without
    # the column counts as all missing there; nothing present at all has no distinct values.
    assert {c: got[c]["kind"] for c in ("only_left", "empty", "left_blank", "right_blank")} == dict.fromkeys(
        ("only_left", "empty", "left_blank", "right_blank"), "one-sided")
    assert (got["only_left"]["missing_left"], got["only_left"]["missing_right"]) == (0.75, 1.0)
    assert (got["empty"]["distinct_share"], got["empty"]["shared_values"]) == (0.0, 0)
    # Missing values on both sides are not a value they share.
    assert got["right_blank"]["shared_values"] == 0 and got["punct"]["shared_values"] == 1
