"""Figures logged with every run: the validation precision-recall curve and the learning curves."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # no display on servers and CI

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.metrics import PrecisionRecallDisplay  # noqa: E402


def run_figures(y_val, p_val, threshold: float, history: dict) -> dict:
    figures = {}
    y_val = np.asarray(y_val).astype(int)
    if 0 < y_val.sum() < len(y_val):
        fig, ax = plt.subplots(figsize=(5, 4))
        PrecisionRecallDisplay.from_predictions(y_val, p_val, ax=ax, name="validation")
        pred = np.asarray(p_val) >= threshold
        tp = int((pred & (y_val == 1)).sum())
        if pred.sum():
            ax.plot(tp / max(y_val.sum(), 1), tp / pred.sum(), "o", color="crimson", label=f"threshold {threshold:.3f}")
        ax.legend(loc="lower left")
        ax.set_title("Validation precision-recall")
        figures["val_precision_recall"] = fig
    if history.get("loss"):
        fig, ax = plt.subplots(figsize=(5, 4))
        for key in ("loss", "val_loss"):
            if key in history:
                ax.plot(np.arange(1, len(history[key]) + 1), history[key], marker=".", label=key)
        ax.set_xlabel("epoch")
        ax.legend()
        ax.set_title("Learning curves")
        figures["learning_curves"] = fig
    for fig in figures.values():
        fig.tight_layout()
    return figures


def close(fig) -> None:
    """Free a logged figure (pyplot keeps every open figure alive)."""
    plt.close(fig)
