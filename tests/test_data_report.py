"""pipelines/data_report.py: blocking figures and the scikit-learn baseline of a data setting."""

import re

import pytest
from conftest import load_script


def _report_main():
    return load_script("pipelines/data_report.py").main


def test_synthetic_report(capsys):
    main = _report_main()
    assert main(["data=synthetic", "data.n_records=400"]) == 0
    out = capsys.readouterr().out
    # 0.1 x 400 = 40 matches; the figures line names candidates, completeness and the ratio.
    line = next(text for text in out.splitlines() if text.startswith("candidates"))
    assert re.search(r"of 40 matches \(pair completeness [01]\.\d{4}\), 1 match per [\d,]+ candidates", line)
    assert "blocking       : [{method: block, left_on: [given_name]" in out
    assert "baseline" not in out


@pytest.mark.slow
def test_synthetic_report_with_baseline(capsys):
    # Slow: HistGradientBoosting's OpenMP threads take seconds even on tiny data on a busy machine.
    main = _report_main()
    assert main(["--baseline", "data=synthetic", "data.n_records=400"]) == 0
    out = capsys.readouterr().out
    assert len(re.findall(r"baseline       : .+: validation F1 [01]\.\d{3}", out)) == 2


def test_blocked_deepmatcher_reports_train_valid_completeness(tmp_path, capsys):
    root = tmp_path / "tiny"
    root.mkdir()
    files = {
        "tableA.csv": "id,name\n0,alpha\n1,beta\n2,gamma\n",
        "tableB.csv": "id,name\n0,alpha\n1,betta\n2,gamma\n3,zeta\n",
        "train.csv": "ltable_id,rtable_id,label\n0,0,1\n1,3,0\n",
        "valid.csv": "ltable_id,rtable_id,label\n1,1,1\n",
        "test.csv": "ltable_id,rtable_id,label\n2,2,1\n",
    }
    for name, text in files.items():
        (root / name).write_text(text)
    main = _report_main()
    args = ["data=deepmatcher", "data.pairs=blocked", f"data.path={root}", "similarity.map={name: [jaro_winkler]}"]
    assert main(args) == 0
    out = capsys.readouterr().out
    # Every pair of 3 x 4 records: the 3 matches of all files are found, 1 per 4 candidates.
    assert "12 pairs, 3 of 3 matches (pair completeness 1.0000), 1 match per 4 candidates" in out
    assert "completeness   : 1.0000 on the train + valid positives of the official files" in out


@pytest.mark.parametrize("overrides,line", [
    (["data=nosuch"], "data=nosuch: no such option; choose one of"),
    # deepmatcher's data.split is null: a key under it was a ConfigCompositionException traceback.
    (["data=deepmatcher", "data.path=x", "data.split.val=2"], "data.split.val: data.split is null here; give it whole"),
    (["data=csv", "data.left=a.csv"], "data.matches, data.right: missing values"),
])
def test_bad_overrides_are_one_line_and_exit_2(overrides, line, capsys):
    main = _report_main()
    with pytest.raises(SystemExit) as exit_info:
        main(overrides)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"lossmatch: error: {line}"), err
