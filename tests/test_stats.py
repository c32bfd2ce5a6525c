"""The distribution-free interval for a median of per-round ratios (jetprof.stats)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from jetprof import stats


def _coverage(n: int, lo: int) -> float:
    """P(x_(lo) <= median <= x_(n+1-lo)) for n continuous values: 1 - 2 P(Binomial(n, 1/2) <= lo - 1)."""
    return 1 - 2 * sum(math.comb(n, k) for k in range(lo)) / 2**n


@pytest.mark.parametrize("n", range(1, 61))
def test_ranks_are_the_widest_that_keep_95_percent_and_the_narrowest_possible(n):
    ranks = stats.order_statistic_ranks(n)
    if ranks is None:
        assert _coverage(n, 1) < 0.95  # even the sample's min and max cover the median < 95 % of the time
        return
    lo, hi = ranks
    assert hi == n + 1 - lo
    assert _coverage(n, lo) >= 0.95
    assert lo + 1 > hi or _coverage(n, lo + 1) < 0.95  # one rank further in would fall short


def test_no_interval_below_six_rounds_and_textbook_ranks_above():
    assert [stats.order_statistic_ranks(n) for n in (5, 6, 10, 20)] == [None, (1, 6), (2, 9), (6, 15)]


def test_exact_ratio_ci_is_none_for_too_few_rounds():
    ratio, low, high = stats.exact_ratio_ci([1.0, 1.0, 1.0, 1.0], [1.1, 0.9, 1.2, 1.0])
    assert ratio == pytest.approx(1.05) and low is None and high is None


@pytest.mark.parametrize("rounds", [6, 8, 30])
def test_exact_interval_covers_a_known_ratio_at_least_95_percent(rounds):
    """Simulated per-round ratios around a known median of 1.07 (skewed noise, heavy right tail)."""
    rng = np.random.default_rng(rounds)
    held = 0
    trials = 4000
    for _ in range(trials):
        base = rng.lognormal(0.0, 0.05, rounds) + rng.exponential(0.02, rounds)
        noise = np.exp(rng.standard_t(3, rounds) * 0.03)
        _, low, high = stats.exact_ratio_ci(base, base * 1.07 * noise)
        assert low is not None and high is not None
        held += low <= 1.07 <= high
    # exact coverage is >= 95 %; 4000 trials put 3 sigma at about 1 %
    assert held / trials >= 0.94


def test_calibration_benchmark_builds_fresh_pairs_and_states_every_method():
    """The coverage benchmark's rows for one tiny setting (its figures are printed, not asserted)."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "calibration.py"
    spec = importlib.util.spec_from_file_location("calibration", path)
    assert spec is not None and spec.loader is not None
    calibration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(calibration)
    before = len(calibration.KEPT)
    rows = calibration.setting("known", rounds=6, n=3, calls=2, instances=2)
    assert len(calibration.KEPT) - before == 3 * (1 + 2)  # one pair per comparison, 2 more per replicated one
    assert [(r["clock"], r["method"]) for r in rows] == [
        (c, m) for c in ("wall", "cpu") for m in ("bootstrap", "order-statistic", "t over 2 pairs")]
    assert all(r["stated"] == 3 and 0 <= r["coverage"] <= 1 and r["half_width"] > 0 for r in rows)
    assert all(r["truth"] > 0 for r in rows)
    few = calibration.setting("A/A", rounds=5, n=2, calls=2, instances=0)
    assert [r["stated"] for r in few if r["method"] == "order-statistic"] == [0, 0]  # no interval below 6 rounds
    assert all(r["truth"] == 1.0 for r in few)
