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
from collections.abc import Callable, Sequence
from dataclasses import dataclass

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


def t_critical(df: int, confidence: float = CONFIDENCE) -> float:
    """The two-sided Student-t critical value: P(|T| ≤ c) = ``confidence`` for ``df`` degrees of freedom.

    Exact for integer ``df`` (Abramowitz & Stegun 26.7.3-4: P(|T| ≤ t) is a finite series in
    θ = atan(t/√df)), solved by bisection; no table, no dependency.
    """
    if df < 1 or not 0 < confidence < 1:
        raise ValueError(f"t critical value: df={df}, confidence={confidence}")

    def inside(t: float) -> float:
        theta = math.atan(t / math.sqrt(df))
        c2 = math.cos(theta) ** 2
        if df % 2:  # odd: (2/π)(θ + sinθ cosθ (1 + 2/3 cos²θ + ... ))
            term, series = 1.0, 1.0 if df > 1 else 0.0
            for k in range(1, (df - 1) // 2):
                term *= c2 * (2 * k) / (2 * k + 1)
                series += term
            return 2 / math.pi * (theta + math.sin(theta) * math.cos(theta) * series)
        term, series = 1.0, 1.0  # even: sinθ (1 + 1/2 cos²θ + 1·3/(2·4) cos⁴θ + ...)
        for k in range(1, df // 2):
            term *= c2 * (2 * k - 1) / (2 * k)
            series += term
        return math.sin(theta) * series

    lo, hi = 0.0, 1.0
    while inside(hi) < confidence:
        hi *= 2
    for _ in range(200):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if inside(mid) < confidence else (lo, mid)
        if hi - lo < 1e-12 * hi:
            break
    return (lo + hi) / 2


#: the interval methods a comparison states (its ``method`` column), by key
METHODS: dict[str, str] = {
    "bootstrap": METHOD + " (comparisons written before process replication)",
    "processes-t": (f"mean over fresh measuring processes of each process's median per-round log-ratio; "
                    f"{CONFIDENCE:.0%} Student-t interval over the processes (their spread holds the within-process "
                    "noise and the between-process bias of memory placement and build order alike)"),
    "order-statistic": EXACT_METHOD + "; one measuring process: a bias that holds for the whole process is not in it",
    "random-effects": ("random-effects pooling over points (DerSimonian-Laird between-point variance, Hartung-Knapp "
                       f"Student-t interval with K - 1 degrees of freedom, never narrower than the fixed-effect one); "
                       f"{CONFIDENCE:.0%}"),
}


@dataclass(frozen=True)
class Interval:
    """A paired ratio with its interval (``low``/``high`` None: too few rounds or processes for one)."""

    ratio: float
    low: float | None
    high: float | None
    method: str  # a key of METHODS
    processes: int
    rounds: int
    #: the share of the spread of the per-process estimates that lies between processes (None: one process)
    between_share: float | None = None
    #: why there is no interval
    why: str | None = None

    @property
    def half_width(self) -> float | None:
        """Half the interval's width (in ratio units: 0.02 is ±2 %): the smallest difference it can tell."""
        return None if self.low is None or self.high is None else (self.high - self.low) / 2

    def verdict(self, threshold: float) -> str:
        return "inconclusive" if self.low is None or self.high is None else verdict(self.low, self.high, threshold)


def _median_log_var(logs: np.ndarray, resamples: int, rng: np.random.Generator) -> float:
    """Bootstrap variance of the median of ``logs`` (one process's within-process noise)."""
    idx = rng.integers(0, logs.size, size=(resamples, logs.size))
    return float(np.median(logs[idx], axis=1).var())


def process_ratio_ci(baseline: Sequence[float], variant: Sequence[float], process: Sequence[int] | None = None,
                     confidence: float = CONFIDENCE, seed: int = 0) -> Interval:
    """The paired ratio of rounds measured in one or several fresh processes (``process[i]``: the
    process of round ``i``; None: all in one).

    Several processes: each gives the median of its per-round log-ratios, and the interval is a
    Student-t interval over those estimates (K − 1 degrees of freedom), so a bias that holds for a
    whole process (where the variants landed in memory, the order they were built in) is part of the
    spread it is drawn from; ``between_share`` is the part of that spread the within-process noise
    (bootstrap variance of each process's median) does not explain. One process: the distribution-free
    order-statistic interval of :func:`exact_ratio_ci` (none below 6 rounds at 95 %).

    Raises:
        ValueError: the sides do not pair up, a value is not positive, or ``process`` has another length.
    """
    per_round = per_round_ratios(baseline, variant, min_rounds=1)
    procs = np.zeros(per_round.size, dtype=int) if process is None else np.asarray(process, dtype=int)
    if procs.shape != per_round.shape:
        raise ValueError(f"round_process has {procs.size} entries for {per_round.size} rounds")
    logs = np.log(per_round)
    ids = sorted(set(procs.tolist()))
    if len(ids) < 2:
        ratio, low, high = exact_ratio_ci(baseline, variant, confidence)
        why = None if low is not None else (f"{per_round.size} round(s) in one process: a distribution-free "
                                            f"{confidence:.0%} interval for a median needs at least "
                                            f"{_min_rounds(confidence)}")
        return Interval(ratio, low, high, "order-statistic", 1, int(per_round.size), None, why)
    per_proc = [logs[procs == k] for k in ids]
    est = np.array([np.median(x) for x in per_proc])
    k = est.size
    mean, spread = float(est.mean()), float(est.var(ddof=1))
    half = t_critical(k - 1, confidence) * math.sqrt(spread / k)
    rng = np.random.default_rng(seed)
    within = float(np.mean([_median_log_var(x, 500, rng) for x in per_proc if x.size >= 2] or [0.0]))
    share = max(0.0, spread - within) / spread if spread > 0 else 0.0
    return Interval(math.exp(mean), math.exp(mean - half), math.exp(mean + half), "processes-t", k,
                    int(per_round.size), share)


def _min_rounds(confidence: float) -> int:
    n = 1
    while order_statistic_ranks(n, confidence) is None:
        n += 1
    return n


def random_effects_pool(estimates: Sequence[Interval], confidence: float = CONFIDENCE) -> Interval:
    """Several points' ratios pooled without assuming they share one true ratio.

    Each point's log-ratio comes with the variance its own interval implies ((log high − log low) /
    (2·z) squared, z the normal critical value); the between-point variance τ² is DerSimonian and
    Laird's moment estimate, the pooled log-ratio the mean weighted by 1/(v + τ²), and its interval the
    Hartung-Knapp one (Student t, K − 1 degrees of freedom, the variance scaled by the weighted spread
    of the points, at least the unscaled variance). One point: its own interval. A point without an
    interval cannot be weighted, so a pool holding one has none.
    """
    if not estimates:
        raise ValueError("no points to pool")
    if any(e.low is None or e.high is None for e in estimates):
        first = next(e for e in estimates if e.low is None)
        return Interval(float(np.exp(np.mean([math.log(e.ratio) for e in estimates]))), None, None, "random-effects",
                        min(e.processes for e in estimates), sum(e.rounds for e in estimates), None,
                        f"a point has no interval ({first.why})")
    if len(estimates) == 1:
        return estimates[0]
    z = _normal_critical(confidence)
    y = np.array([math.log(e.ratio) for e in estimates])
    v = np.array([max(((math.log(e.high or 1) - math.log(e.low or 1)) / (2 * z)) ** 2, 1e-12) for e in estimates])
    w = 1 / v
    fixed = float(np.sum(w * y) / np.sum(w))
    q = float(np.sum(w * (y - fixed) ** 2))
    k = y.size
    tau2 = max(0.0, (q - (k - 1)) / (np.sum(w) - np.sum(w**2) / np.sum(w)))
    wr = 1 / (v + tau2)
    mean = float(np.sum(wr * y) / np.sum(wr))
    hk = float(np.sum(wr * (y - mean) ** 2) / ((k - 1) * np.sum(wr)))
    var = max(hk, 1 / float(np.sum(wr)))
    half = t_critical(k - 1, confidence) * math.sqrt(var)
    share = tau2 / (tau2 + float(np.mean(v)))
    return Interval(math.exp(mean), math.exp(mean - half), math.exp(mean + half), "random-effects",
                    min(e.processes for e in estimates), sum(e.rounds for e in estimates), share)


def _normal_critical(confidence: float) -> float:
    """Two-sided standard normal critical value (bisection on erf)."""
    lo, hi = 0.0, 10.0
    for _ in range(200):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if math.erf(mid / math.sqrt(2)) < confidence else (lo, mid)
    return (lo + hi) / 2


def clopper_pearson(held: int, n: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """The exact (Clopper-Pearson) ``confidence`` interval of a binomial proportion ``held`` / ``n``:
    how well a coverage counted over ``n`` intervals is known. Bisection on the binomial tails."""
    if n < 1 or not 0 <= held <= n:
        raise ValueError(f"binomial interval: {held} of {n}")
    alpha = (1 - confidence) / 2

    def at_least(p: float) -> float:  # P(X >= held), rising with p
        return sum(math.comb(n, k) * p**k * (1 - p) ** (n - k) for k in range(held, n + 1))

    def at_most(p: float) -> float:  # P(X <= held), falling with p
        return sum(math.comb(n, k) * p**k * (1 - p) ** (n - k) for k in range(held + 1))

    def solve(f: Callable[[float], float], rising: bool) -> float:
        lo, hi = 0.0, 1.0
        for _ in range(60):
            mid = (lo + hi) / 2
            if (f(mid) < alpha) == rising:
                lo = mid
            else:
                hi = mid
        return (lo + hi) / 2

    low = 0.0 if held == 0 else solve(at_least, rising=True)
    high = 1.0 if held == n else solve(at_most, rising=False)
    return low, high
