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
    rows = calibration.setting("known", rounds=6, n=3, calls=2, instances=2, fresh="instance")
    assert len(calibration.KEPT) - before == 3 * (1 + 2)  # one pair per comparison, 2 more per replicated one
    assert [(r["clock"], r["method"]) for r in rows] == [
        (c, m) for c in ("wall", "cpu") for m in ("bootstrap", "order-statistic", "t over 2 instances")]
    assert all(r["stated"] == 3 and 0 <= r["coverage"] <= 1 and r["half_width"] > 0 for r in rows)
    assert all(r["truth"] > 0 for r in rows)
    before = len(calibration.KEPT)
    forked = calibration.setting("A/A", rounds=6, n=2, calls=2, instances=3)  # the study's design: fresh processes
    assert len(calibration.KEPT) - before == 2  # the replicated pairs were built in the forked children
    replicated = [r for r in forked if r["method"] == "t over 3 processes"]
    assert len(replicated) == 2 and all(r["stated"] == 2 and r["half_width"] > 0 for r in replicated)
    few = calibration.setting("A/A", rounds=5, n=2, calls=2, instances=0)
    assert [r["stated"] for r in few if r["method"] == "order-statistic"] == [0, 0]  # no interval below 6 rounds
    assert all(r["truth"] == 1.0 for r in few)


@pytest.mark.parametrize("df", [1, 2, 3, 4, 5, 7, 10, 30, 200])
def test_t_critical_is_student_s(df):
    from scipy.stats import t

    assert stats.t_critical(df) == pytest.approx(t.ppf(0.975, df), rel=1e-9)
    assert stats.t_critical(df, 0.9) == pytest.approx(t.ppf(0.95, df), rel=1e-9)


def _processes(rng, k, rounds, truth, between, within=0.03):
    """Paired rounds from ``k`` processes, each with its own bias of sd ``between`` (log scale)."""
    base, var, proc = [], [], []
    for p in range(k):
        bias = math.exp(rng.normal(0, between))
        b = rng.lognormal(0, 0.05, rounds)
        base += list(b)
        var += list(b * truth * bias * rng.lognormal(0, within, rounds))
        proc += [p] * rounds
    return base, var, proc


@pytest.mark.parametrize("between", [0.0, 0.03])
def test_the_process_interval_covers_the_truth_95_percent_when_a_bias_holds_per_process(between):
    rng = np.random.default_rng(7)
    held = 0
    for _ in range(400):
        base, var, proc = _processes(rng, 4, 10, 1.05, between)
        found = stats.process_ratio_ci(base, var, proc)
        assert found.method == "processes-t" and found.processes == 4 and found.rounds == 40
        held += found.low <= 1.05 <= found.high
    assert 0.92 <= held / 400 <= 0.98  # binomial sd at 95 % over 400 is 1.1 %


def test_within_process_intervals_cannot_see_a_bias_that_the_process_interval_does():
    rng = np.random.default_rng(3)
    within_held = process_held = 0
    for _ in range(200):
        base, var, proc = _processes(rng, 4, 10, 1.0, between=0.04, within=0.01)
        one = stats.exact_ratio_ci(base[:10], var[:10])
        within_held += one[1] <= 1.0 <= one[2]
        found = stats.process_ratio_ci(base, var, proc)
        process_held += found.low <= 1.0 <= found.high
    assert within_held / 200 < 0.6 and process_held / 200 > 0.9


def test_between_share_says_where_the_spread_lies():
    rng = np.random.default_rng(11)
    quiet = stats.process_ratio_ci(*_processes(rng, 5, 20, 1.0, between=0.0))
    biased = stats.process_ratio_ci(*_processes(rng, 5, 20, 1.0, between=0.05))
    assert quiet.between_share < 0.5 < biased.between_share <= 1


def test_one_process_falls_back_to_the_exact_interval_and_says_why_it_has_none():
    few = stats.process_ratio_ci([1.0] * 5, [1.1] * 5)
    assert few.method == "order-statistic" and few.low is None and few.half_width is None
    assert "at least 6" in few.why and few.verdict(0.05) == "inconclusive"
    rng = np.random.default_rng(0)
    b = rng.lognormal(0, 0.02, 30)
    v = b * 1.2
    enough = stats.process_ratio_ci(b, v)
    assert enough.ratio == pytest.approx(1.2) and enough.verdict(0.05) == "different"
    with pytest.raises(ValueError, match="round_process"):
        stats.process_ratio_ci(b, v, [0, 1])


def test_random_effects_pool_allows_points_their_own_truth():
    rng = np.random.default_rng(5)
    same = [stats.process_ratio_ci(*_processes(rng, 4, 10, 1.0, 0.0)) for _ in range(4)]
    apart = [stats.process_ratio_ci(*_processes(rng, 4, 10, t, 0.0)) for t in (0.9, 1.0, 1.1, 1.2)]
    pool_same, pool_apart = stats.random_effects_pool(same), stats.random_effects_pool(apart)
    assert pool_same.method == pool_apart.method == "random-effects"
    assert pool_same.low <= 1.0 <= pool_same.high
    # points that truly differ widen the pooled interval (a fixed-effect pool would not)
    assert pool_apart.half_width > 3 * pool_same.half_width and pool_apart.between_share > 0.9
    assert stats.random_effects_pool(same[:1]) == same[0]
    lacking = stats.random_effects_pool([same[0], stats.process_ratio_ci([1.0] * 3, [1.0] * 3)])
    assert lacking.low is None and "no interval" in lacking.why


@pytest.mark.parametrize(("held", "n"), [(0, 5), (5, 5), (3, 10), (190, 200), (9, 12)])
def test_clopper_pearson_is_the_exact_binomial_interval(held, n):
    from scipy.stats import beta

    low = 0.0 if held == 0 else beta.ppf(0.025, held, n - held + 1)
    high = 1.0 if held == n else beta.ppf(0.975, held + 1, n - held)
    assert stats.clopper_pearson(held, n) == pytest.approx((low, high), abs=1e-9)
