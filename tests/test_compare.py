"""Loss-comparison aggregation on a fabricated set of runs whose results are known by hand."""

import math

import pandas as pd
import pytest
from scipy import stats

from lossmatch import compare as lm_compare
from lossmatch.errors import InputError

# Data set A: four losses x seeds 1-5. focal = bce + [.01 .02 .03 .04 .05],
# soft_f1 = bce + [.01 -.02 .03 .04 .05], combined = bce exactly.
BCE_A = [0.80, 0.82, 0.78, 0.84, 0.76]
F1 = {
    ("A", "bce"): BCE_A,
    ("A", "focal"): [0.81, 0.84, 0.81, 0.88, 0.81],
    ("A", "soft_f1"): [0.81, 0.80, 0.81, 0.88, 0.81],
    ("A", "combined"): BCE_A,
    # Data set B has no bce, and soft_f1 ran one seed only.
    ("B", "focal"): [0.5, 0.6, 0.7],
    ("B", "soft_f1"): [0.9],
    ("B", "combined"): [0.4, 0.4, 0.4],
    # Data set C: two seeds each, a clear order soft_f1 > focal > bce > combined.
    ("C", "bce"): [0.5, 0.5],
    ("C", "focal"): [0.6, 0.6],
    ("C", "soft_f1"): [0.7, 0.7],
    ("C", "combined"): [0.4, 0.4],
}


def fabricated_runs() -> pd.DataFrame:
    """Rows shaped like mlflow.search_runs: run_id, status, start_time, tags.*, metrics.*."""
    rows = []
    t = pd.Timestamp("2025-01-01")
    for (data, loss), values in F1.items():
        for seed, f1 in enumerate(values, start=1):
            t += pd.Timedelta(seconds=1)
            rows.append(
                {
                    "run_id": f"{data}-{loss}-{seed}",
                    "status": "FINISHED",
                    "start_time": t,
                    "tags.data": data,
                    "tags.loss": loss,
                    "tags.seed": str(seed),
                    "metrics.test_f1": f1,
                    "metrics.test_precision": f1 + 0.05,
                    "metrics.test_recall": f1 - 0.05,
                    "metrics.test_brier": 0.01 * seed,
                    "metrics.val_f1": f1,
                }
            )
    junk = [
        # The comparison's parent run: no loss or seed tag, no test_f1.
        {"run_id": "parent", "status": "FINISHED", "start_time": t, "tags.data": None, "tags.loss": None, "tags.seed": None},
        # A failed run and an older run of the same (A, bce, seed 1): both must not count.
        {"run_id": "failed", "status": "FAILED", "start_time": t, "tags.data": "A", "tags.loss": "focal", "tags.seed": "9", "metrics.test_f1": 0.0},
        {"run_id": "old", "status": "FINISHED", "start_time": pd.Timestamp("2024-01-01"), "tags.data": "A", "tags.loss": "bce", "tags.seed": "1", "metrics.test_f1": 0.1},
    ]
    return pd.DataFrame(rows + junk)


@pytest.fixture(scope="module")
def result():
    return lm_compare.compare(fabricated_runs())


def row(frame, data, loss):
    return frame[(frame["data"] == data) & (frame["loss"] == loss)].iloc[0]


def test_runs_table_keeps_latest_finished_tagged_runs():
    table = lm_compare.runs_table(fabricated_runs())
    assert len(table) == sum(len(v) for v in F1.values())
    assert "parent" not in set(table["run_id"]) and "failed" not in set(table["run_id"])
    # The later run of (A, bce, 1) replaces the older one.
    assert table[(table["data"] == "A") & (table["loss"] == "bce") & (table["seed"] == 1)]["test_f1"].tolist() == [0.80]
    # Metrics no run logged are NaN columns, not errors.
    assert table["test_ece"].isna().all()


def test_mean_and_t_interval_by_hand(result):
    r = row(result.frame, "A", "bce")
    # mean 0.80; deviations 0 .02 -.02 .04 -.04 -> SS = .004, s² = .004/4 = .001,
    # s/√5 = √.0002 = .0141421; t(.975, 4) = 2.7764 (table) -> half width .039264.
    assert r["seeds"] == 5
    assert r["test_f1_mean"] == pytest.approx(0.80)
    assert r["test_f1_std"] == pytest.approx(math.sqrt(0.001))
    assert r["test_f1_ci_low"] == pytest.approx(0.80 - 2.7764 * math.sqrt(0.0002), abs=1e-5)
    assert r["test_f1_ci_high"] == pytest.approx(0.80 + 2.7764 * math.sqrt(0.0002), abs=1e-5)
    # Other metrics get the same treatment: precision = F1 + .05 in every run.
    assert r["test_precision_mean"] == pytest.approx(0.85)
    assert r["test_brier_mean"] == pytest.approx(0.03)  # (.01 + .02 + .03 + .04 + .05) / 5


def test_one_seed_has_no_interval_and_constant_values_a_point(result):
    one = row(result.frame, "B", "soft_f1")
    assert one["seeds"] == 1 and one["test_f1_mean"] == 0.9
    assert math.isnan(one["test_f1_ci_low"]) and math.isnan(one["test_f1_std"])
    flat = row(result.frame, "B", "combined")
    assert (flat["test_f1_ci_low"], flat["test_f1_ci_high"]) == pytest.approx((0.4, 0.4))


def test_interval_is_cut_to_the_possible_values():
    runs = fabricated_runs()
    c_bce = runs["tags.data"].eq("C") & runs["tags.loss"].eq("bce")
    runs.loc[c_bce, "metrics.test_f1"] = [0.98, 1.0]
    runs.loc[c_bce, "metrics.test_mcc"] = [-0.99, -0.95]
    r = row(lm_compare.compare(runs).frame, "C", "bce")
    # mean .99, s = .01414, t(.975, 1) = 12.706: .99 ± .127 reaches 1.117; F1 cannot pass 1.
    assert r["test_f1_ci_low"] == pytest.approx(0.99 - 12.706 * 0.01, abs=1e-3)
    assert r["test_f1_ci_high"] == 1.0
    # MCC: -.97 ± .254 reaches -1.224; MCC cannot pass -1.
    assert r["test_mcc_ci_low"] == -1.0 and r["test_mcc_ci_high"] == pytest.approx(-0.97 + 12.706 * 0.02, abs=1e-3)


def test_bootstrap_interval_is_narrower_than_t_for_five_seeds():
    # Why t is the default: the percentile bootstrap of 5 values understates the spread.
    low_t, high_t = lm_compare.confidence_interval(BCE_A)
    low_b, high_b = lm_compare.confidence_interval(BCE_A, method="bootstrap")
    assert low_t < low_b < 0.80 < high_b < high_t
    # Seeded: the same call gives the same interval.
    assert lm_compare.confidence_interval(BCE_A, method="bootstrap") == (low_b, high_b)
    with pytest.raises(InputError, match="ci: expected 't' or 'bootstrap'"):
        lm_compare.confidence_interval(BCE_A, method="jackknife")


def test_paired_comparison_against_bce(result):
    focal = row(result.frame, "A", "focal")
    # Differences .01 .02 .03 .04 .05: 5 wins; all signs positive, W- = 0, exact two-sided
    # p = 2 * P(W- <= 0) = 2 * 1/32 = 0.0625 (the smallest p 5 pairs can give).
    assert (focal["wins_vs_bce"], focal["ties_vs_bce"], focal["losses_vs_bce"]) == (5, 0, 0)
    assert focal["diff_vs_bce"] == pytest.approx(0.03)
    assert focal["p_vs_bce"] == pytest.approx(0.0625)
    soft = row(result.frame, "A", "soft_f1")
    # Differences .01 -.02 .03 .04 .05: ranks 1..5, the negative one has rank 2, W- = 2.
    # Sign patterns with W- <= 2: {}, {1}, {2} -> 3/32; two-sided p = 6/32 = 0.1875.
    assert (soft["wins_vs_bce"], soft["losses_vs_bce"]) == (4, 1)
    assert soft["diff_vs_bce"] == pytest.approx(0.022)
    assert soft["p_vs_bce"] == pytest.approx(0.1875)
    # The same as scipy on the explicit vector.
    assert soft["p_vs_bce"] == pytest.approx(stats.wilcoxon([0.01, -0.02, 0.03, 0.04, 0.05]).pvalue)


def test_identical_runs_are_ties_with_p_one(result):
    combined = row(result.frame, "A", "combined")
    assert (combined["ties_vs_bce"], combined["diff_vs_bce"], combined["p_vs_bce"]) == (5, 0.0, 1.0)


def test_missing_baseline_gives_no_pairs(result):
    focal_b = row(result.frame, "B", "focal")
    assert focal_b["pairs_vs_bce"] == 0 and math.isnan(focal_b["p_vs_bce"]) and math.isnan(focal_b["diff_vs_bce"])


def test_wilcoxon_edge_cases():
    assert math.isnan(lm_compare.wilcoxon_p([]))
    assert lm_compare.wilcoxon_p([0.0, 0.0, 0.0]) == 1.0
    # One non-zero pair: p = 2 * 1/2 = 1; zeros are dropped before testing, so
    # [0, .01, .02, .03, .04] is four pairs: p = 2/16 = 0.125.
    assert lm_compare.wilcoxon_p([0.02]) == 1.0
    assert lm_compare.wilcoxon_p([0.0, 0.01, 0.02, 0.03, 0.04]) == pytest.approx(0.125)
    # Six pairs all one way: 2/64 = 0.03125, the first count of seeds that can reach p < .05.
    assert lm_compare.wilcoxon_p([0.01, 0.02, 0.03, 0.04, 0.05, 0.06]) == pytest.approx(0.03125)


def test_ranks_with_ties_and_mean_ranks(result):
    ranks = {(r.data, r.loss): r.rank for r in result.frame.itertuples()}
    # A by mean F1: focal .83, soft_f1 .822, then bce and combined tie at .80 -> 3.5 each.
    assert [ranks[("A", loss)] for loss in ("focal", "soft_f1", "bce", "combined")] == [1, 2, 3.5, 3.5]
    # B: soft_f1 .9, focal .6, combined .4.  C: soft_f1, focal, bce, combined.
    assert [ranks[("B", loss)] for loss in ("soft_f1", "focal", "combined")] == [1, 2, 3]
    assert [ranks[("C", loss)] for loss in ("soft_f1", "focal", "bce", "combined")] == [1, 2, 3, 4]
    means = result.mean_ranks.set_index("loss")
    # soft_f1 (2 + 1 + 1) / 3, focal (1 + 2 + 2) / 3, bce (3.5 + 3) / 2 on 2 data sets, combined (3.5 + 3 + 4) / 3.
    assert means["mean_rank"].to_dict() == pytest.approx({"soft_f1": 4 / 3, "focal": 5 / 3, "bce": 3.25, "combined": 3.5})
    assert means["n_data"].to_dict() == {"soft_f1": 3, "focal": 3, "bce": 2, "combined": 3}
    assert result.mean_ranks["loss"].tolist() == ["soft_f1", "focal", "bce", "combined"]
    # soft_f1's t interval over 3 data sets, 4/3 ± 4.303 * s/√3 (s = √(1/3)), reaches below 1: clipped to rank 1.
    assert means.loc["soft_f1", "rank_ci_low"] == 1.0
    assert means.loc["soft_f1", "rank_ci_high"] == pytest.approx(4 / 3 + 4.3027 * math.sqrt(1 / 3) / math.sqrt(3), abs=1e-4)


def test_friedman_and_critical_difference(result):
    test = result.rank_test
    # Only A and C have all four losses (B lacks bce).
    assert (test["n_data"], test["n_losses"]) == (2, 4)
    # Ranks per data set (bce, combined, focal, soft_f1): A 3.5 3.5 1 2, C 3 4 2 1.
    expected = stats.friedmanchisquare([3.5, 3], [3.5, 4], [1, 2], [2, 1]).pvalue
    assert test["friedman_p"] == pytest.approx(expected)
    # Nemenyi: q(.05, k=4) = 2.569 (Demšar 2006, table 5) * sqrt(4 * 5 / (6 * 2)) = 3.317.
    assert test["critical_difference"] == pytest.approx(2.569 * math.sqrt(20 / 12), rel=1e-3)


def test_median_seed_run():
    table = lm_compare.runs_table(fabricated_runs())
    median = lm_compare.median_seed_runs(table).set_index(["data", "loss"])
    # A/bce F1 by seed: .80 .82 .78 .84 .76 -> median .80 is seed 1.
    assert median.loc[("A", "bce"), "run_id"] == "A-bce-1"
    # Two seeds of C/focal tie at .6: the lower middle, by seed, is seed 1.
    assert median.loc[("C", "focal"), "seed"] == 1


def test_written_files(result, tmp_path):
    files = lm_compare.write_comparison(result, tmp_path)
    assert set(files) == {"csv", "md", "f1_by_loss", "mean_rank"}
    csv = pd.read_csv(tmp_path / "comparison.csv")
    assert csv.columns[:7].tolist() == ["data", "loss", "seeds", "test_f1_mean", "test_f1_ci_low", "test_f1_ci_high", "p_vs_bce"]
    assert len(csv) == len(F1)
    md = (tmp_path / "comparison.md").read_text()
    assert "## A" in md and "## B" in md and "## Mean rank across data sets" in md
    # focal on A: mean .830 with its interval, 5/0/0 against bce, Δ +.030, p .062.
    assert "| `focal` | 5 | 0.830 [" in md and "| 5/0/0 | +0.030 | 0.062 | 1.0 |" in md
    assert "No `bce` runs on this data set" in md
    assert "(0.0625 for n = 5)" in md
    for name in ("f1_by_loss.png", "mean_rank.png"):
        assert (tmp_path / name).stat().st_size > 1000


def test_no_usable_runs_is_an_input_error():
    with pytest.raises(InputError, match="tags.loss"):
        lm_compare.runs_table(pd.DataFrame({"run_id": ["x"], "tags.data": ["A"]}))
    empty = fabricated_runs().assign(status="FAILED")
    with pytest.raises(InputError, match="no finished run"):
        lm_compare.runs_table(empty)


def test_aggregates_from_an_mlflow_store(tmp_path):
    # The comparison reads runs back through mlflow.search_runs, not from memory.
    import mlflow

    uri = f"sqlite:///{tmp_path}/mlflow.db"
    client = mlflow.MlflowClient(tracking_uri=uri)
    exp = client.create_experiment("lossmatch/A", artifact_location=(tmp_path / "artifacts").as_uri())
    for loss, values in (("bce", BCE_A), ("focal", F1[("A", "focal")])):
        for seed, f1 in enumerate(values, start=1):
            run = client.create_run(exp, tags={"data": "A", "loss": loss, "seed": str(seed)}, run_name=f"{loss}-seed{seed}")
            client.log_metric(run.info.run_id, "test_f1", f1)
            client.set_terminated(run.info.run_id)
    runs = lm_compare.search_runs(uri, ["lossmatch/A", "lossmatch/missing"])
    result = lm_compare.compare(runs)
    assert row(result.frame, "A", "focal")["p_vs_bce"] == pytest.approx(0.0625)
    assert row(result.frame, "A", "bce")["test_f1_mean"] == pytest.approx(0.80)
    with pytest.raises(InputError, match="none of the experiments"):
        lm_compare.search_runs(uri, ["nope"])
