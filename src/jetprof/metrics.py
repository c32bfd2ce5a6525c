"""Classification metrics shared by training's evaluation and the profile's quality score.

ROC curves of a discriminant (ties handled exactly), their AUC, the one-vs-rest
and macro AUCs of a score matrix, the background rejection at a working point and
a downsampled ROC for plotting. Pure numpy; the core's, so that ``jetprof.train``
and ``jetprof.profiling`` use one definition without importing each other.
"""

from __future__ import annotations

import math

import numpy as np


def _f(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


def roc_curve(signal: np.ndarray, background: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ROC of a discriminant (higher = more signal-like), ties handled exactly.

    Returns:
        (tpr, fpr, thresholds): jets with score >= threshold pass; starts at (0, 0).
    """
    scores = np.concatenate([signal, background])
    is_sig = np.concatenate([np.ones(len(signal), bool), np.zeros(len(background), bool)])
    order = np.argsort(-scores, kind="mergesort")
    scores, is_sig = scores[order], is_sig[order]
    last = np.r_[np.nonzero(np.diff(scores))[0], len(scores) - 1]  # last index of each distinct score
    tp = np.cumsum(is_sig)[last]
    fp = np.cumsum(~is_sig)[last]
    tpr = np.r_[0.0, tp / max(len(signal), 1)]
    fpr = np.r_[0.0, fp / max(len(background), 1)]
    thr = np.r_[np.inf, scores[last]]
    return tpr, fpr, thr


def auc(signal: np.ndarray, background: np.ndarray) -> float | None:
    """Area under the ROC curve (probability that a signal jet outscores a background jet)."""
    if len(signal) == 0 or len(background) == 0:
        return None
    tpr, fpr, _ = roc_curve(signal, background)
    return float(np.trapezoid(tpr, fpr))


def aucs_ovr(truth: np.ndarray, scores: np.ndarray) -> list[float | None]:
    """Each class's one-vs-rest AUC of its score (None for a class with no jets, or no others)."""
    return [auc(scores[truth == i, i], scores[truth != i, i]) for i in range(scores.shape[1])]


def macro_auc(truth: np.ndarray, scores: np.ndarray) -> float | None:
    """The mean of the defined one-vs-rest AUCs (``auc_ovr_macro``); None if none is defined."""
    valid = [a for a in aucs_ovr(truth, scores) if a is not None]
    return float(np.mean(valid)) if valid else None


def rejection_at(tpr: np.ndarray, fpr: np.ndarray, efficiency: float) -> tuple[float, float]:
    """FPR at the first threshold reaching ``efficiency`` signal efficiency, and 1/FPR (inf if 0)."""
    i = int(np.searchsorted(tpr, efficiency - 1e-12, side="left"))
    i = min(i, len(tpr) - 1)
    f = float(fpr[i])
    return f, (math.inf if f == 0 else 1.0 / f)


def downsample(tpr: np.ndarray, fpr: np.ndarray, thr: np.ndarray, n: int) -> dict[str, list[float | None]]:
    """Keep at most ``n`` ROC points, evenly spaced in signal efficiency, ends included."""
    if len(tpr) > n:
        targets = np.linspace(0, 1, n)
        idx = np.unique(np.r_[0, np.searchsorted(tpr, targets, side="left").clip(0, len(tpr) - 1), len(tpr) - 1])
        tpr, fpr, thr = tpr[idx], fpr[idx], thr[idx]
    return {
        "tpr": [float(x) for x in tpr],
        "fpr": [float(x) for x in fpr],
        "thresholds": [_f(float(x)) for x in thr],
    }
