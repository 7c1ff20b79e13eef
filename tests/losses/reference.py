"""Each loss written again in plain NumPy (float64), from its formula alone.

These are the references that the Keras losses are checked against: values at
many parameter settings and gradients by central finite differences. They are
written from the formulas in README's loss table, not from the Keras code, so a
one-character slip in either shows up as a mismatch.
"""

from __future__ import annotations

import numpy as np

CLIP = 1e-7  # probabilities are clipped to [1e-7, 1 - 1e-7] before any log


def _clip(p):
    return np.clip(np.asarray(p, np.float64), CLIP, 1.0 - CLIP)


def bce(y, p):
    """mean(−y·log p − (1 − y)·log(1 − p))"""
    y, p = np.asarray(y, np.float64), _clip(p)
    return np.mean(-y * np.log(p) - (1 - y) * np.log(1 - p))


def weighted_bce(y, p, pos_weight):
    """mean(−w·y·log p − (1 − y)·log(1 − p))"""
    y, p = np.asarray(y, np.float64), _clip(p)
    return np.mean(-pos_weight * y * np.log(p) - (1 - y) * np.log(1 - p))


def focal(y, p, alpha, gamma):
    """mean(α_t·(1 − p_t)^γ·(−log p_t)), p_t = p for positives, 1 − p for negatives."""
    y, p = np.asarray(y, np.float64), _clip(p)
    p_t = np.where(y == 1, p, 1 - p)
    alpha_t = np.where(y == 1, alpha, 1 - alpha)
    return np.mean(alpha_t * (1 - p_t) ** gamma * -np.log(p_t))


def soft_counts(y, p, w=None):
    """TP = Σ w·p·y, FP = Σ w·p·(1 − y), FN = Σ w·(1 − p)·y (no clipping)."""
    y, p = np.asarray(y, np.float64), np.asarray(p, np.float64)
    w = np.ones_like(p) if w is None else np.asarray(w, np.float64)
    return np.sum(w * p * y), np.sum(w * p * (1 - y)), np.sum(w * (1 - p) * y)


def soft_f1(y, p, epsilon=1e-7):
    """1 − (2·TP + ε) / (2·TP + FP + FN + ε)"""
    tp, fp, fn = soft_counts(y, p)
    return 1 - (2 * tp + epsilon) / (2 * tp + fp + fn + epsilon)


def soft_fbeta(y, p, beta, epsilon=1e-7):
    """1 − ((1 + β²)·TP + ε) / ((1 + β²)·TP + β²·FN + FP + ε)"""
    tp, fp, fn = soft_counts(y, p)
    b2 = beta**2
    return 1 - ((1 + b2) * tp + epsilon) / ((1 + b2) * tp + b2 * fn + fp + epsilon)


def soft_jaccard(y, p, epsilon=1e-7):
    """1 − (TP + ε) / (TP + FP + FN + ε)"""
    tp, fp, fn = soft_counts(y, p)
    return 1 - (tp + epsilon) / (tp + fp + fn + epsilon)


def combined(y, p, weight_f1=0.5, epsilon=1e-7, alpha=0.25, gamma=2.0):
    """weight_f1·soft F1 + (1 − weight_f1)·focal"""
    return weight_f1 * soft_f1(y, p, epsilon) + (1 - weight_f1) * focal(y, p, alpha, gamma)


def pairwise_soft_zero_one(y, s, temperature=1.0):
    """Per item i of each list: Σ_j I(y_i > y_j)·(1 − σ((s_i − s_j)/T)); labels < 0 are padding.

    Returns the (batch, list) per-item losses.
    """
    y, s = np.atleast_2d(np.asarray(y, np.float64)), np.atleast_2d(np.asarray(s, np.float64))
    out = np.zeros_like(s)
    for b in range(s.shape[0]):
        for i in range(s.shape[1]):
            for j in range(s.shape[1]):
                if y[b, i] >= 0 and y[b, j] >= 0 and y[b, i] > y[b, j]:
                    out[b, i] += 1 - 1 / (1 + np.exp(-(s[b, i] - s[b, j]) / temperature))
    return out


def central_difference(f, x, h=1e-6):
    """∂f/∂x_k ≈ (f(x + h·e_k) − f(x − h·e_k)) / 2h for every element k of x (float64)."""
    x = np.asarray(x, np.float64)
    grad = np.zeros_like(x)
    for k in np.ndindex(x.shape):
        step = np.zeros_like(x)
        step[k] = h
        grad[k] = (f(x + step) - f(x - step)) / (2 * h)
    return grad
