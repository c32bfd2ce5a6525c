"""Paired comparison statistics: a ratio of medians with a bootstrap confidence interval
over rounds, and a verdict against a practical threshold.

Two variants measured in the same rounds (interleaved: each round times every
variant of a group) give paired latencies ``baseline[i]``, ``variant[i]``. The ratio
is the median over rounds of ``variant[i] / baseline[i]``: within a round both sides
saw the same machine, so a drift between rounds cancels in each round's ratio (on
this project's shared 2-core machine that interval was about half as wide as the
ratio of the two sides' medians, measured on the same rounds). Its 95 % interval
comes from a bootstrap over rounds (percentile interval of the resampled medians);
the bootstrap is seeded, so the same rounds always give the same interval. Several
points asking one question (the weight state at every batch size, say) are pooled
into the precision-weighted geometric mean of their ratios (:func:`pooled_ratio_ci`).

Verdicts (``threshold`` t, e.g. 0.05):

* ``same``: the whole interval lies inside [1 − t, 1 + t];
* ``different``: the whole interval lies outside it (below 1 − t or above 1 + t);
* ``inconclusive``: anything else (more rounds, or a quieter machine, would decide).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

BOOTSTRAP_RESAMPLES = 2000
CONFIDENCE = 0.95
METHOD = (f"median of per-round latency ratios (variant/baseline); {CONFIDENCE:.0%} CI from a "
          f"bootstrap over rounds ({BOOTSTRAP_RESAMPLES} resamples, percentile interval)")


def per_round_ratios(baseline: Sequence[float], variant: Sequence[float], min_rounds: int) -> np.ndarray:
    """variant[i] / baseline[i] for every round, after checking the two sides pair up.

    Raises:
        ValueError: different lengths, fewer than ``min_rounds`` rounds, or a non-positive value.
    """
    b = np.asarray(baseline, dtype=float)
    v = np.asarray(variant, dtype=float)
    if b.shape != v.shape or b.ndim != 1:
        raise ValueError(f"paired samples need equal lengths ({b.size} vs {v.size})")
    if b.size < min_rounds:
        raise ValueError(f"a paired comparison needs at least {min_rounds} round{'s' * (min_rounds > 1)}")
    if not (np.all(b > 0) and np.all(v > 0)):
        raise ValueError("latencies must be positive")
    return v / b


def ratio_ci(baseline: Sequence[float], variant: Sequence[float],
             resamples: int = BOOTSTRAP_RESAMPLES, seed: int = 0) -> tuple[float, float, float]:
    """(ratio, low, high): the median of per-round ratios and its bootstrap CI.

    Raises:
        ValueError: the two sides have different lengths, fewer than 2 rounds, or a
            non-positive value.
    """
    per_round = per_round_ratios(baseline, variant, min_rounds=2)
    ratio = float(np.median(per_round))
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, per_round.size, size=(resamples, per_round.size))
    boot = np.median(per_round[idx], axis=1)
    alpha = (1 - CONFIDENCE) / 2
    low, high = np.quantile(boot, [alpha, 1 - alpha])
    return ratio, float(low), float(high)


def verdict(low: float, high: float, threshold: float) -> str:
    """``same``, ``different`` or ``inconclusive`` for a ratio's interval [low, high]."""
    if not threshold > 0:
        raise ValueError(f"threshold {threshold}: must be > 0")
    if 1 - threshold <= low and high <= 1 + threshold:
        return "same"
    if high < 1 - threshold or low > 1 + threshold:
        return "different"
    return "inconclusive"


def pooled_ratio_ci(pairs: Sequence[tuple[Sequence[float], Sequence[float]]],
                    resamples: int = BOOTSTRAP_RESAMPLES, seed: int = 0) -> tuple[float, float, float]:
    """(ratio, low, high) pooled over several points: the weighted geometric mean of the
    points' ratios (each the median of its per-round ratios), every point weighted by the
    inverse of its bootstrap variance (a fixed-effect meta-analysis: a noisy point, few
    rounds at a large batch say, counts less), with a bootstrap interval that resamples
    the rounds of every point independently.

    One point's interval is as wide as that point's noise allows; the question "does this
    change the cost?" asked of several points at once is answered more precisely by their
    pooled ratio, while a large effect at a single point still shows in that point's own
    comparison.
    """
    if not pairs:
        raise ValueError("no points to pool")
    rng = np.random.default_rng(seed)
    medians, boots = [], []
    for baseline, variant in pairs:
        b = np.asarray(baseline, dtype=float)
        v = np.asarray(variant, dtype=float)
        if b.shape != v.shape or b.size < 2:
            raise ValueError("each pooled point needs paired rounds (at least 2)")
        per_round = np.log(v / b)
        medians.append(np.median(per_round))
        idx = rng.integers(0, b.size, size=(resamples, b.size))
        boots.append(np.median(per_round[idx], axis=1))
    boot = np.asarray(boots)
    variances = np.maximum(boot.var(axis=1), 1e-12)
    weights = (1 / variances) / np.sum(1 / variances)
    pooled = float(np.dot(weights, medians))
    alpha = (1 - CONFIDENCE) / 2
    low, high = np.exp(np.quantile(weights @ boot, [alpha, 1 - alpha]))
    return float(np.exp(pooled)), float(low), float(high)


EXACT_METHOD = (f"median of per-round latency ratios; {CONFIDENCE:.0%} CI from order statistics (distribution-free, "
                "binomial ranks: coverage at least the nominal level at any round count)")


def order_statistic_ranks(n: int, confidence: float = CONFIDENCE) -> tuple[int, int] | None:
    """1-based ranks (lo, hi) of the sorted sample whose values bound a distribution-free
    ``confidence`` interval for the median of ``n`` independent values, or ``None`` when no
    such interval exists (too few values: at 95 % it takes at least 6).

    The interval [x_(lo), x_(hi)] with hi = n + 1 − lo misses the median only when at most
    lo − 1 values fall on one side of it, which for any continuous distribution has the
    Binomial(n, ½) probability 2·P(B ≤ lo − 1); lo is the largest rank keeping that ≤ 1 − confidence.
    """
    if n < 1 or not 0 < confidence < 1:
        raise ValueError(f"order-statistic interval: n={n}, confidence={confidence}")
    alpha = 1 - confidence
    tail = 0.0
    lo = 0
    for k in range(n // 2 + 1):  # tail = P(B <= k) after adding k
        tail += math.comb(n, k) / 2**n
        if 2 * tail > alpha:
            break
        lo = k + 1
    if lo < 1:
        return None
    return lo, n + 1 - lo


def exact_ratio_ci(baseline: Sequence[float], variant: Sequence[float],
                   confidence: float = CONFIDENCE) -> tuple[float, float | None, float | None]:
    """(ratio, low, high): the median of per-round ratios and its order-statistic interval
    (:func:`order_statistic_ranks`); low and high are ``None`` when the rounds are too few
    for any interval at ``confidence``.

    Raises:
        ValueError: the two sides have different lengths, no rounds, or a non-positive value.
    """
    per_round = np.sort(per_round_ratios(baseline, variant, min_rounds=1))
    ratio = float(np.median(per_round))
    ranks = order_statistic_ranks(per_round.size, confidence)
    if ranks is None:
        return ratio, None, None
    return ratio, float(per_round[ranks[0] - 1]), float(per_round[ranks[1] - 1])
