"""Figures: those logged with every run, and those of a loss comparison.

Every function returns matplotlib figures and never shows them; the caller logs them
(``mlflow.log_figure``) or saves them, then frees them with :func:`close`.
"""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib

matplotlib.use("Agg")  # no display on servers and CI

import matplotlib.pyplot as plt
import numpy as np
from sklearn.metrics import ConfusionMatrixDisplay, confusion_matrix

from lossmatch import metrics as match_metrics

__all__ = [
    "close",
    "confusion_matrix_figure",
    "f1_by_loss_figure",
    "f1_threshold_figure",
    "mean_rank_figure",
    "precision_recall_figure",
    "precision_recall_overlay_figure",
    "reliability_figure",
    "run_figures",
    "training_curves_figure",
]


def _has_both_classes(y) -> bool:
    return 0 < int(np.sum(y)) < len(y)


def _operating_point(y, p, threshold: float, missed: int) -> tuple[float, float] | None:
    """(recall, precision) of predicting a match at ``p >= threshold``; None if nothing is predicted."""
    m = match_metrics.evaluate(y, p, threshold, missed_matches=missed)
    return (m["recall"], m["precision"]) if m["tp"] + m["fp"] else None


def precision_recall_figure(splits: Mapping[str, tuple], threshold: float):
    """Precision against recall for each ``{split: (y, p, missed_matches)}``, the threshold's point marked.

    Recall counts the matches that blocking missed (they are never retrieved, so a
    curve may end below recall 1), which scikit-learn's ``PrecisionRecallDisplay`` cannot.
    """
    fig, ax = plt.subplots(figsize=(5, 4))
    for split, (y, p, missed) in splits.items():
        _, precision, recall, _ = match_metrics.precision_recall_f1_curve(y, p, missed_matches=missed)
        ap = match_metrics.pr_auc(y, p, missed_matches=missed)
        (line,) = ax.step(recall, precision, where="post", label=f"{split} (AP {ap:.3f})")
        point = _operating_point(y, p, threshold, missed)
        if point is not None:
            ax.plot(*point, "o", color=line.get_color(), markeredgecolor="black")
    ax.plot([], [], "o", color="white", markeredgecolor="black", label=f"threshold {threshold:.3f}")
    ax.set(xlabel="recall", ylabel="precision", xlim=(0, 1.02), ylim=(0, 1.02), title="Precision-recall")
    ax.legend(loc="lower left")
    return fig


def f1_threshold_figure(splits: Mapping[str, tuple], threshold: float):
    """F1 against the decision threshold for each ``{split: (y, p, missed_matches)}``; a line at the chosen one."""
    fig, ax = plt.subplots(figsize=(5, 4))
    for split, (y, p, missed) in splits.items():
        thresholds, _, _, f1 = match_metrics.precision_recall_f1_curve(y, p, missed_matches=missed)
        ax.step(thresholds, f1, where="post", label=split)
    ax.axvline(threshold, color="crimson", linestyle="--", label=f"chosen {threshold:.3f}")
    ax.set(xlabel="threshold", ylabel="F1", xlim=(0, 1), ylim=(0, 1.02), title="F1 by threshold")
    ax.legend(loc="lower left")
    return fig


def confusion_matrix_figure(y, p, threshold: float, *, missed_matches: int = 0, split: str = "test"):
    """Confusion counts at ``threshold``; matches missed by blocking are added to the false negatives."""
    cm = confusion_matrix(np.asarray(y).astype(int), (np.asarray(p) >= threshold).astype(int), labels=[0, 1])
    cm[1, 0] += int(missed_matches)
    fig, ax = plt.subplots(figsize=(4.5, 4))
    ConfusionMatrixDisplay(cm, display_labels=["non-match", "match"]).plot(
        ax=ax, values_format="d", colorbar=False, cmap="Blues"
    )
    note = f", {missed_matches} missed by blocking in FN" if missed_matches else ""
    ax.set_title(f"{split} at threshold {threshold:.3f}{note}", fontsize=9)
    return fig


def reliability_figure(splits: Mapping[str, tuple]):
    """Reliability diagram for each ``{split: (y, p)}`` with the pairs per bin below (log scale).

    Bins are those of :func:`lossmatch.metrics.calibration_bins` (ten equal-width),
    the same ones that give the ECE in the legend.
    """
    fig, (ax, hist) = plt.subplots(2, 1, figsize=(5, 5.5), sharex=True, height_ratios=[3, 1])
    ax.plot([0, 1], [0, 1], ":", color="grey", label="perfectly calibrated")
    edges = np.linspace(0, 1, match_metrics.CALIBRATION_BINS + 1)
    for split, (y, p) in splits.items():
        frac, mean, _ = match_metrics.calibration_bins(y, p)
        ece = match_metrics.expected_calibration_error(y, p)
        ax.plot(mean, frac, "s-", label=f"{split} (ECE {ece:.3f})")
        hist.hist(np.asarray(p, dtype=float), bins=edges, histtype="step", label=split)
    ax.set(ylabel="fraction of matches", xlim=(0, 1), ylim=(-0.02, 1.02), title="Reliability")
    ax.legend(loc="upper left")
    hist.set(xlabel="predicted probability", ylabel="pairs", yscale="log")
    return fig


def training_curves_figure(history: Mapping[str, list]):
    """Loss by epoch (training and validation) beside validation F1 by epoch.

    ``history`` is Keras' ``History.history`` (merged over training phases). The
    right panel shows ``val_f1`` when the trainer records it, else ``val_pr_auc``
    (what Keras records now); a ``f1`` / ``pr_auc`` training curve joins it if present.
    """
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.8))
    for key in ("loss", "val_loss"):
        if history.get(key):
            left.plot(np.arange(1, len(history[key]) + 1), history[key], marker=".", label=key)
    left.set(xlabel="epoch", ylabel="loss", title="Loss")
    left.legend()
    score = "f1" if history.get("val_f1") else "pr_auc"
    for key in (score, f"val_{score}"):
        if history.get(key):
            right.plot(np.arange(1, len(history[key]) + 1), history[key], marker=".", label=key)
    right.set(xlabel="epoch", ylabel=score.replace("_", "-").upper(), title=f"Validation {score.replace('_', '-').upper()}")
    if right.get_legend_handles_labels()[0]:
        right.legend()
    return fig


def run_figures(
    y_val,
    p_val,
    threshold: float,
    history: Mapping[str, list],
    *,
    y_test=None,
    p_test=None,
    missed_val: int = 0,
    missed_test: int = 0,
) -> dict:
    """Every figure of one training run, as ``{name: figure}`` (names are artifact file stems).

    Args:
        y_val, p_val: validation labels (0/1) and predicted probabilities of the
            candidate pairs; the threshold was chosen on them.
        threshold: the decision threshold (a match when ``p >= threshold``).
        history: Keras ``History.history``: ``loss``, ``val_loss``, and ``val_f1`` or
            ``val_pr_auc`` lists by epoch.
        y_test, p_test: test labels and probabilities; when given, the curves show
            test beside validation and the confusion matrix is the test one.
        missed_val, missed_test: true matches that blocking never proposed in each
            split; recall, F1, PR-AUC and the confusion matrix count them as missed.

    Returns (each only when its input allows it, e.g. both classes present):
        ``precision_recall``, ``f1_threshold``, ``confusion_matrix``, ``reliability``,
        ``training_curves``.
    """
    curves = {}
    if _has_both_classes(y_val):
        curves["validation"] = (y_val, p_val, missed_val)
    if y_test is not None and _has_both_classes(y_test):
        curves["test"] = (y_test, p_test, missed_test)
    figures = {}
    if curves:
        figures["precision_recall"] = precision_recall_figure(curves, threshold)
        figures["f1_threshold"] = f1_threshold_figure(curves, threshold)
    if y_test is not None and len(y_test):
        figures["confusion_matrix"] = confusion_matrix_figure(y_test, p_test, threshold, missed_matches=missed_test)
    elif len(y_val):
        figures["confusion_matrix"] = confusion_matrix_figure(
            y_val, p_val, threshold, missed_matches=missed_val, split="validation"
        )
    reliability = {name: (y, p) for name, (y, p) in (("validation", (y_val, p_val)), ("test", (y_test, p_test))) if y is not None and len(y)}
    if reliability:
        figures["reliability"] = reliability_figure(reliability)
    if history.get("loss"):
        figures["training_curves"] = training_curves_figure(history)
    for name, fig in figures.items():
        fig.subplots_adjust(**_RUN_FIGURE_MARGINS[name])
    return figures


# Fixed margins for the figures of every run, wide enough for their longest labels (probability
# and F1 ticks are 0-1; counts on a log axis; a loss in 5-6 characters). tight_layout() drew each
# figure once more just to measure its labels: half of a run's 0.75 s of plotting.
_RUN_FIGURE_MARGINS = {
    "precision_recall": {"left": 0.14, "right": 0.96, "bottom": 0.15, "top": 0.91},
    "f1_threshold": {"left": 0.14, "right": 0.96, "bottom": 0.15, "top": 0.91},
    "confusion_matrix": {"left": 0.24, "right": 0.97, "bottom": 0.15, "top": 0.91},
    "reliability": {"left": 0.19, "right": 0.95, "bottom": 0.11, "top": 0.93, "hspace": 0.1},
    "training_curves": {"left": 0.09, "right": 0.98, "bottom": 0.16, "top": 0.9, "wspace": 0.22},
}


# ---- Figures of a loss comparison (lossmatch.compare) ----


def f1_by_loss_figure(runs, *, metric: str = "test_f1", baseline: str = "bce"):
    """One panel per data set: a box per loss over its seeds, each seed a dot, baseline's mean dashed.

    ``runs`` is :func:`lossmatch.compare.runs_table`'s frame (data, loss, seed, metrics).
    Losses are ordered by mean within each panel, best on top.
    """
    datasets = sorted(runs["data"].unique())
    n_losses = runs.groupby("data")["loss"].nunique().max()
    fig, axes = plt.subplots(
        1, len(datasets), figsize=(4.2 * len(datasets), 0.45 * n_losses + 1.6), squeeze=False
    )
    rng = np.random.default_rng(0)  # jitter only; fixed so the figure is reproducible
    for ax, data in zip(axes[0], datasets):
        rows = runs[runs["data"] == data]
        order = rows.groupby("loss")[metric].mean().sort_values().index.tolist()
        values = [rows.loc[rows["loss"] == loss, metric].dropna().to_numpy() for loss in order]
        ax.boxplot(values, vert=False, widths=0.6, showfliers=False)
        for i, v in enumerate(values, start=1):
            ax.plot(v, i + rng.uniform(-0.12, 0.12, len(v)), "o", color="tab:blue", alpha=0.7, markersize=4)
        if baseline in order:
            ax.axvline(np.nanmean(values[order.index(baseline)]), color="grey", linestyle="--", linewidth=1)
        ax.set_yticks(range(1, len(order) + 1), order)
        ax.set(xlabel=metric.replace("_", " "), title=data)
    fig.tight_layout()
    return fig


def mean_rank_figure(means, test: dict | None = None):
    """Mean rank of each loss across data sets (1 = best) with its interval; Nemenyi's CD as a bar.

    ``means`` is :func:`lossmatch.compare.mean_ranks`' frame; ``test`` its
    :func:`lossmatch.compare.rank_test` result (the critical difference, if defined).
    """
    means = means.sort_values("mean_rank", ascending=False).reset_index(drop=True)
    fig, ax = plt.subplots(figsize=(6, 0.45 * len(means) + 1.6))
    y = np.arange(len(means))
    low = (means["mean_rank"] - means["rank_ci_low"]).fillna(0).clip(lower=0)
    high = (means["rank_ci_high"] - means["mean_rank"]).fillna(0).clip(lower=0)
    ax.errorbar(means["mean_rank"], y, xerr=[low, high], fmt="o", capsize=3)
    ax.set_yticks(y, means["loss"])
    ax.set(xlabel="mean rank across data sets (1 = best)", title="Mean rank of each loss")
    cd = (test or {}).get("critical_difference", float("nan"))
    if not np.isnan(cd):
        best = float(means["mean_rank"].min())
        ax.plot([best, best + cd], [len(means) - 0.4] * 2, color="crimson", linewidth=3,
                label=f"Nemenyi CD {cd:.2f} (α {test['alpha']})")
        ax.legend(loc="best")
    ax.set_ylim(-0.6, len(means) - 0.1)
    fig.tight_layout()
    return fig


def precision_recall_overlay_figure(curves: Mapping[str, tuple], *, title: str = "Precision-recall, median-seed run per loss"):
    """Test precision-recall curves of several runs, ``{label: (y, p, missed_matches)}``, on one axis."""
    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    for label, (y, p, missed) in curves.items():
        _, precision, recall, _ = match_metrics.precision_recall_f1_curve(y, p, missed_matches=missed)
        ax.step(recall, precision, where="post", label=f"{label} (AP {match_metrics.pr_auc(y, p, missed_matches=missed):.3f})")
    ax.set(xlabel="recall", ylabel="precision", xlim=(0, 1.02), ylim=(0, 1.02), title=title)
    ax.legend(loc="lower left", fontsize=8)
    fig.tight_layout()
    return fig


def close(fig) -> None:
    """Free a logged figure (pyplot keeps every open figure alive)."""
    plt.close(fig)
