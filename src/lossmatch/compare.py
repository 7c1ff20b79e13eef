"""Which loss, on which data, by how much, how sure: the aggregation of a loss comparison.

Input is what ``mlflow.search_runs`` returns (one row per run; columns ``tags.data``,
``tags.loss``, ``tags.seed``, ``metrics.test_f1``, ...), so a comparison is always
rebuilt from the tracking store, never from a process's memory. From it:

1. :func:`runs_table`: one row per (data, loss, seed): finished runs only, the latest
   when a seed was run twice.
2. :func:`summarize`: per data set and loss, the number of seeds and each metric's mean,
   standard deviation and 95 % confidence interval. The interval is Student's t by
   default: with 5 seeds a bootstrap of the mean resamples only 5 values, so its
   interval is too narrow (it estimates the spread with divisor n rather than n - 1
   and its percentiles come from at most 126 distinct resamples); the t interval is
   exact for normal seed-to-seed noise and widens properly for few seeds.
   ``ci="bootstrap"`` (percentile, seeded) is offered for many seeds or skewed metrics.
3. :func:`paired_comparison`: each loss against the baseline (``bce``) over the seeds
   both have, seed by seed (same seed = same split and initialisation): wins, ties,
   losses, mean difference and the two-sided Wilcoxon signed-rank p-value.
4. :func:`rank_losses` / :func:`mean_ranks` / :func:`rank_test`: the losses ranked per
   data set by mean test F1 (ties share the average rank), the mean rank across data
   sets, and Friedman's test with Nemenyi's critical difference (Demšar 2006).
5. :func:`write_comparison`: ``comparison.csv``, ``comparison.md`` and the figures.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from lossmatch.errors import InputError

__all__ = [
    "BASELINE",
    "REPORTED_METRICS",
    "Comparison",
    "compare",
    "comparison_frame",
    "confidence_interval",
    "mean_ranks",
    "median_seed_runs",
    "paired_comparison",
    "rank_losses",
    "rank_test",
    "runs_table",
    "search_runs",
    "summarize",
    "wilcoxon_p",
    "write_comparison",
]

BASELINE = "bce"
# Test metrics of every run (threshold chosen on validation), then validation F1 for reference.
REPORTED_METRICS = (
    "test_f1",
    "test_precision",
    "test_recall",
    "test_mcc",
    "test_pr_auc",
    "test_brier",
    "test_log_loss",
    "test_ece",
    "val_f1",
)
KEYS = ("data", "loss", "seed")
# The values each metric can take: an interval is cut to them (with two or three seeds a t
# interval of an F1 near 1 reaches above 1, which no mean F1 can).
METRIC_RANGE = {"test_mcc": (-1.0, 1.0), "test_log_loss": (0.0, np.inf)}
UNIT_RANGE = (0.0, 1.0)
# Two F1 values closer than this are the same count ratio up to float rounding: a tie.
TIE_TOLERANCE = 1e-12


def runs_table(runs: pd.DataFrame, *, loss_tag: str = "loss") -> pd.DataFrame:
    """Tidy runs from ``mlflow.search_runs``: columns run_id, data, loss, seed and the metrics.

    Keeps finished runs that carry the ``data``, ``loss`` (or ``loss_tag``) and ``seed``
    tags and a ``test_f1`` metric, so a comparison's parent run and failed runs drop out.
    When one (data, loss, seed) was run more than once, the latest run counts.
    """
    needed = {"tags.data": "data", f"tags.{loss_tag}": "loss", "tags.seed": "seed", "metrics.test_f1": "test_f1"}
    missing = [c for c in needed if c not in runs.columns]
    if missing:
        raise InputError(
            f"runs: no column {missing[0]!r} in the search result; a comparison needs finished runs "
            f"tagged data, {loss_tag} and seed with a test_f1 metric"
        )
    df = runs
    if "status" in df.columns:
        df = df[df["status"] == "FINISHED"]
    df = df.dropna(subset=list(needed))
    if "start_time" in df.columns:
        df = df.sort_values("start_time", kind="stable")
    out = pd.DataFrame(
        {
            "run_id": df["run_id"] if "run_id" in df.columns else pd.Series(range(len(df)), index=df.index).astype(str),
            "data": df["tags.data"].astype(str),
            "loss": df[f"tags.{loss_tag}"].astype(str),
            "seed": pd.to_numeric(df["tags.seed"], errors="coerce"),
        }
    )
    bad = out["seed"].isna()
    if bad.any():
        raise InputError(f"runs: tag 'seed' must be an integer, got {df.loc[bad, 'tags.seed'].iloc[0]!r}")
    out["seed"] = out["seed"].astype(np.int64)
    for metric in REPORTED_METRICS:
        column = f"metrics.{metric}"
        out[metric] = pd.to_numeric(df[column], errors="coerce") if column in df.columns else np.nan
    if out.empty:
        raise InputError("runs: no finished run tagged data, loss and seed with a test_f1 metric")
    out = out.drop_duplicates(subset=list(KEYS), keep="last")
    return out.sort_values(list(KEYS)).reset_index(drop=True)


def confidence_interval(
    values: Sequence[float], confidence: float = 0.95, *, method: str = "t", seed: int = 0
) -> tuple[float, float]:
    """Two-sided interval for the mean of ``values`` (NaN ignored).

    ``method="t"``: mean ± t(1 - (1 - confidence) / 2, n - 1) · s / √n.
    ``method="bootstrap"``: scipy's percentile bootstrap of the mean, seeded.
    One value gives (NaN, NaN); identical values give (mean, mean).
    """
    x = np.asarray(values, dtype=np.float64)
    x = x[~np.isnan(x)]
    if len(x) < 2:
        return (float("nan"), float("nan"))
    mean = float(x.mean())
    if np.ptp(x) == 0:
        return (mean, mean)
    if method == "t":
        low, high = stats.t.interval(confidence, len(x) - 1, loc=mean, scale=stats.sem(x))
    elif method == "bootstrap":
        res = stats.bootstrap(
            (x,), np.mean, confidence_level=confidence, method="percentile", n_resamples=9999, rng=np.random.default_rng(seed)
        )
        low, high = res.confidence_interval
    else:
        raise InputError(f"ci: expected 't' or 'bootstrap', got {method!r}")
    return (float(low), float(high))


def summarize(
    table: pd.DataFrame,
    *,
    metrics: Iterable[str] = REPORTED_METRICS,
    confidence: float = 0.95,
    ci: str = "t",
) -> pd.DataFrame:
    """Per (data, loss): ``seeds`` and, per metric, ``<m>_mean``, ``<m>_std``, ``<m>_ci_low``, ``<m>_ci_high``.

    Intervals are cut to the metric's possible values (``METRIC_RANGE``; [0, 1] otherwise).
    """
    rows = []
    for (data, loss), group in table.groupby(["data", "loss"], sort=True):
        row = {"data": data, "loss": loss, "seeds": len(group)}
        for m in metrics:
            x = group[m].to_numpy(dtype=np.float64)
            finite = x[~np.isnan(x)]
            row[f"{m}_mean"] = float(finite.mean()) if len(finite) else float("nan")
            row[f"{m}_std"] = float(finite.std(ddof=1)) if len(finite) > 1 else float("nan")
            low, high = confidence_interval(finite, confidence, method=ci)
            lowest, highest = METRIC_RANGE.get(m, UNIT_RANGE)
            row[f"{m}_ci_low"], row[f"{m}_ci_high"] = min(max(low, lowest), highest), max(min(high, highest), lowest)
        rows.append(row)
    return pd.DataFrame(rows)


def wilcoxon_p(differences: Sequence[float]) -> float:
    """Two-sided Wilcoxon signed-rank p-value of paired differences (scipy), with the edge cases spelt out.

    Zero differences (ties) are dropped, Wilcoxon's own convention. No pair at all gives
    NaN (nothing to test); only ties gives 1.0 (no sign of a difference). Otherwise
    ``scipy.stats.wilcoxon(method="auto")``: the exact null distribution for few pairs
    (permutations when |differences| tie). With n non-zero pairs the smallest possible
    p is 2 / 2**n: 0.0625 for 5 seeds, so 5 seeds can never give p < 0.05.
    """
    d = np.asarray(differences, dtype=np.float64)
    if len(d) == 0:
        return float("nan")
    d = d[np.abs(d) > TIE_TOLERANCE]
    if len(d) == 0:
        return 1.0
    return float(stats.wilcoxon(d, zero_method="wilcox", alternative="two-sided", method="auto").pvalue)


def paired_comparison(table: pd.DataFrame, *, baseline: str = BASELINE, metric: str = "test_f1") -> pd.DataFrame:
    """Each loss against ``baseline`` on the seeds both ran, per data set.

    Columns: data, loss, pairs, wins, ties, losses (of the loss against the baseline,
    seed by seed), diff (mean of loss - baseline), p (:func:`wilcoxon_p`). A data set
    without the baseline gives pairs = 0 and NaN for its losses; the baseline is
    compared with itself (all ties, p = 1) so every row of the table has the columns.
    """
    rows = []
    for data, runs in table.groupby("data", sort=True):
        base = runs[runs["loss"] == baseline].set_index("seed")[metric]
        for loss, group in runs.groupby("loss", sort=True):
            other = group.set_index("seed")[metric]
            seeds = other.index.intersection(base.index)
            d = (other.loc[seeds] - base.loc[seeds]).to_numpy(dtype=np.float64)
            d = d[~np.isnan(d)]
            rows.append(
                {
                    "data": data,
                    "loss": loss,
                    "pairs": len(d),
                    "wins": int(np.sum(d > TIE_TOLERANCE)),
                    "ties": int(np.sum(np.abs(d) <= TIE_TOLERANCE)),
                    "losses": int(np.sum(d < -TIE_TOLERANCE)),
                    "diff": float(d.mean()) if len(d) else float("nan"),
                    "p": wilcoxon_p(d),
                }
            )
    return pd.DataFrame(rows, columns=["data", "loss", "pairs", "wins", "ties", "losses", "diff", "p"])


def rank_losses(summary: pd.DataFrame, *, metric: str = "test_f1_mean") -> pd.DataFrame:
    """Rank of each loss within its data set by ``metric`` (higher is better, rank 1 best; ties averaged)."""
    ranked = summary[["data", "loss", metric]].dropna().copy()
    ranked["rank"] = ranked.groupby("data")[metric].transform(lambda x: stats.rankdata(-x.to_numpy(), method="average"))
    return ranked[["data", "loss", "rank"]].reset_index(drop=True)


def mean_ranks(ranks: pd.DataFrame, confidence: float = 0.95) -> pd.DataFrame:
    """Per loss: number of data sets, mean rank and its t interval over data sets, best first.

    The interval is clipped to the possible ranks, [1, number of losses].
    """
    rows = []
    n_losses = ranks["loss"].nunique()
    for loss, group in ranks.groupby("loss", sort=True):
        r = group["rank"].to_numpy(dtype=np.float64)
        low, high = np.clip(confidence_interval(r, confidence), 1, n_losses)
        rows.append(
            {"loss": loss, "n_data": len(r), "mean_rank": float(r.mean()), "rank_ci_low": float(low), "rank_ci_high": float(high)}
        )
    return pd.DataFrame(rows).sort_values(["mean_rank", "loss"]).reset_index(drop=True)


def rank_test(ranks: pd.DataFrame, alpha: float = 0.05) -> dict:
    """Friedman's test over data sets and Nemenyi's critical difference of mean ranks.

    Uses only the data sets on which every loss ran (Friedman needs complete blocks).
    ``critical_difference`` = q_α · √(k (k + 1) / (6 N)) with q_α the studentized range
    quantile / √2 for k losses (scipy.stats.studentized_range), N data sets: two losses
    whose mean ranks differ by more are different at level α. NaN where undefined
    (fewer than 2 data sets or 3 losses).
    """
    wide = ranks.pivot(index="data", columns="loss", values="rank").dropna()
    n_data, k = wide.shape
    out = {"n_data": int(n_data), "n_losses": int(k), "friedman_p": float("nan"), "critical_difference": float("nan"), "alpha": alpha}
    if n_data < 2 or k < 3:
        return out
    values = wide.to_numpy()
    if np.all(values == values[:, :1]):
        # Every data set ties all losses: no evidence of any difference (scipy would divide by zero).
        out["friedman_p"] = 1.0
    else:
        out["friedman_p"] = float(stats.friedmanchisquare(*values.T).pvalue)
    q_alpha = stats.studentized_range.ppf(1 - alpha, k, np.inf) / np.sqrt(2)
    out["critical_difference"] = float(q_alpha * np.sqrt(k * (k + 1) / (6 * n_data)))
    return out


def median_seed_runs(table: pd.DataFrame, *, metric: str = "test_f1") -> pd.DataFrame:
    """Per (data, loss) the run whose ``metric`` is the median over seeds (lower middle for even counts).

    The typical run of each loss, e.g. for overlaying precision-recall curves.
    """
    rows = []
    for _, group in table.groupby(["data", "loss"], sort=True):
        ordered = group.sort_values([metric, "seed"], kind="stable").reset_index(drop=True)
        rows.append(ordered.iloc[(len(ordered) - 1) // 2][["data", "loss", "seed", "run_id", metric]])
    return pd.DataFrame(rows).reset_index(drop=True)


def comparison_frame(summary: pd.DataFrame, paired: pd.DataFrame, ranks: pd.DataFrame, *, baseline: str = BASELINE) -> pd.DataFrame:
    """One row per (data, loss): the summary, the paired test against ``baseline`` and the rank.

    Columns start with data, loss, seeds, test_f1_mean, test_f1_ci_low, test_f1_ci_high,
    p_vs_<baseline>, then wins/ties/losses/diff/pairs vs the baseline, the rank, and the
    other metrics' mean and interval.
    """
    vs = paired.rename(columns={c: f"{c}_vs_{baseline}" for c in ("pairs", "wins", "ties", "losses", "diff", "p")})
    frame = summary.merge(vs, on=["data", "loss"], how="left").merge(ranks, on=["data", "loss"], how="left")
    first = ["data", "loss", "seeds", "test_f1_mean", "test_f1_ci_low", "test_f1_ci_high", f"p_vs_{baseline}"]
    then = [f"{c}_vs_{baseline}" for c in ("wins", "ties", "losses", "diff", "pairs")] + ["rank"]
    rest = [c for c in frame.columns if c not in first + then]
    frame = frame[first + then + rest]
    return frame.sort_values(["data", "rank", "loss"]).reset_index(drop=True)


def _fmt(x, digits: int = 3) -> str:
    return "–" if x is None or (isinstance(x, float) and np.isnan(x)) else f"{x:.{digits}f}"


def _fmt_ci(row, metric: str) -> str:
    mean, low, high = row[f"{metric}_mean"], row[f"{metric}_ci_low"], row[f"{metric}_ci_high"]
    if np.isnan(low):
        return _fmt(mean)
    return f"{_fmt(mean)} [{_fmt(low)}, {_fmt(high)}]"


def _fmt_p(p) -> str:
    if np.isnan(p):
        return "–"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def markdown(frame: pd.DataFrame, means: pd.DataFrame, test: dict, *, baseline: str = BASELINE, confidence: float = 0.95, ci: str = "t") -> str:
    """``comparison.md``: one table per data set, the mean ranks and how to read them."""
    level = f"{confidence:.0%}"
    lines = ["# Loss comparison", ""]
    lines.append(
        f"Test metrics at the threshold chosen on validation; mean over seeds with a {level} "
        f"{'Student t' if ci == 't' else 'percentile bootstrap'} interval in brackets. "
        f"W/T/L and Δ F1 compare each loss with `{baseline}` seed by seed (same seed, same split); "
        f"p is the two-sided Wilcoxon signed-rank test of those differences. Rank 1 is the best mean test F1."
    )
    lines.append("")
    for data, rows in frame.groupby("data", sort=True):
        seeds = sorted(set(rows["seeds"]))
        lines += [f"## {data}", "", f"Seeds per loss: {', '.join(map(str, seeds))}.", ""]
        header = ["loss", "seeds", "test F1", "precision", "recall", "MCC", "PR-AUC", "Brier", "log loss", "ECE",
                  f"W/T/L vs {baseline}", "Δ F1", "p", "rank"]
        lines.append("| " + " | ".join(header) + " |")
        lines.append("|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|")
        for _, r in rows.iterrows():
            wtl = "–" if not r[f"pairs_vs_{baseline}"] or np.isnan(r[f"pairs_vs_{baseline}"]) else (
                f"{int(r[f'wins_vs_{baseline}'])}/{int(r[f'ties_vs_{baseline}'])}/{int(r[f'losses_vs_{baseline}'])}"
            )
            cells = [
                f"`{r['loss']}`", str(int(r["seeds"])), _fmt_ci(r, "test_f1"), _fmt(r["test_precision_mean"]),
                _fmt(r["test_recall_mean"]), _fmt(r["test_mcc_mean"]), _fmt(r["test_pr_auc_mean"]),
                _fmt(r["test_brier_mean"], 4), _fmt(r["test_log_loss_mean"]), _fmt(r["test_ece_mean"], 4), wtl,
                "–" if r["loss"] == baseline else (
                    f"{r[f'diff_vs_{baseline}']:+.3f}" if not np.isnan(r[f"diff_vs_{baseline}"]) else "–"
                ),
                "–" if r["loss"] == baseline else _fmt_p(r[f"p_vs_{baseline}"]),
                _fmt(r["rank"], 1),
            ]
            lines.append("| " + " | ".join(cells) + " |")
        if baseline not in set(rows["loss"]):
            lines += ["", f"No `{baseline}` runs on this data set: no paired comparison."]
        lines.append("")
    lines += ["## Mean rank across data sets", "", "| loss | data sets | mean rank | " + level + " interval |", "|---|---:|---:|---:|"]
    for _, r in means.iterrows():
        interval = "–" if np.isnan(r["rank_ci_low"]) else f"[{r['rank_ci_low']:.2f}, {r['rank_ci_high']:.2f}]"
        lines.append(f"| `{r['loss']}` | {int(r['n_data'])} | {r['mean_rank']:.2f} | {interval} |")
    lines.append("")
    if not np.isnan(test["critical_difference"]):
        lines.append(
            f"Friedman test over the {test['n_data']} data sets where all {test['n_losses']} losses ran: "
            f"p = {_fmt_p(test['friedman_p'])}; Nemenyi critical difference at α = {test['alpha']}: "
            f"{test['critical_difference']:.2f} ranks (mean ranks closer than this are not distinguishable)."
        )
    else:
        lines.append("Friedman / Nemenyi: needs at least 2 data sets on which at least 3 losses all ran.")
    n_pairs = int(frame[f"pairs_vs_{baseline}"].max()) if frame[f"pairs_vs_{baseline}"].notna().any() else 0
    if n_pairs:
        lines += [
            "",
            (
                f"Note: with n paired seeds the Wilcoxon test cannot give p below 2/2^n "
                f"({2 / 2 ** n_pairs:.4f} for n = {n_pairs})."
            ),
        ]
    return "\n".join(lines) + "\n"


@dataclass
class Comparison:
    """The tables of a comparison and the files written (name -> path)."""

    runs: pd.DataFrame
    frame: pd.DataFrame
    mean_ranks: pd.DataFrame
    rank_test: dict
    files: dict[str, Path] = field(default_factory=dict)


def compare(
    runs: pd.DataFrame,
    *,
    baseline: str = BASELINE,
    confidence: float = 0.95,
    ci: str = "t",
    loss_tag: str = "loss",
) -> Comparison:
    """All tables of a comparison from a ``mlflow.search_runs`` frame (nothing written)."""
    table = runs_table(runs, loss_tag=loss_tag)
    summary = summarize(table, confidence=confidence, ci=ci)
    paired = paired_comparison(table, baseline=baseline)
    ranks = rank_losses(summary)
    frame = comparison_frame(summary, paired, ranks, baseline=baseline)
    return Comparison(table, frame, mean_ranks(ranks, confidence), rank_test(ranks))


def write_comparison(
    comparison: Comparison, out_dir: Path | str, *, baseline: str = BASELINE, confidence: float = 0.95, ci: str = "t"
) -> dict[str, Path]:
    """Write ``comparison.csv``, ``comparison.md``, ``f1_by_loss.png`` and ``mean_rank.png`` into ``out_dir``."""
    from lossmatch import plots

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = {"csv": out / "comparison.csv", "md": out / "comparison.md"}
    comparison.frame.to_csv(files["csv"], index=False)
    files["md"].write_text(
        markdown(comparison.frame, comparison.mean_ranks, comparison.rank_test, baseline=baseline, confidence=confidence, ci=ci),
        encoding="utf-8",
    )
    figures = {
        "f1_by_loss": plots.f1_by_loss_figure(comparison.runs, baseline=baseline),
        "mean_rank": plots.mean_rank_figure(comparison.mean_ranks, comparison.rank_test),
    }
    for name, fig in figures.items():
        files[name] = out / f"{name}.png"
        fig.savefig(files[name], dpi=120)
        plots.close(fig)
    comparison.files.update(files)
    return files


def search_runs(tracking_uri: str, experiment_names: Sequence[str] | None, *, filter_string: str = "") -> pd.DataFrame:
    """All runs of ``experiment_names`` in the store at ``tracking_uri`` (experiments that do not exist are skipped).

    ``experiment_names=None`` searches every experiment: a comparison's runs live in one
    experiment per data set, found by ``filter_string="tags.comparison = '<id>'"``.
    """
    import mlflow

    client = mlflow.MlflowClient(tracking_uri=tracking_uri)
    where = {"search_all_experiments": True}
    if experiment_names is not None:
        ids = [e.experiment_id for name in experiment_names if (e := client.get_experiment_by_name(name)) is not None]
        if not ids:
            raise InputError(f"tracking: none of the experiments {list(experiment_names)} exists in {tracking_uri}")
        where = {"experiment_ids": ids}
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(tracking_uri)
    try:
        return mlflow.search_runs(**where, filter_string=filter_string, output_format="pandas")
    finally:
        mlflow.set_tracking_uri(previous)
