"""Calibration of the paired interval: how often a stated 95 % interval holds the true ratio.

Usage: python benchmarks/calibration.py [--comparisons 200] [--rounds 6,10,30] [--quick]

``bench_comparison.py`` counts ``different`` verdicts among A/A pairs; that is a false-positive
rate against a ±5 % threshold, not calibration. Calibration is *coverage*: the share of 95 %
intervals that contain the true ratio. This benchmark measures it, per setting, on
``--comparisons`` independent comparisons, each with its Clopper–Pearson 95 % interval.

The workload is one whose cost is set exactly and that is not a sleep: ``k`` products of two fixed
64×64 float64 matrices per call (numpy, one thread). Two pairs:

* **A/A**: k = 20 against k = 20 (true ratio 1, by construction, over where the two land in memory);
* **known difference**: k = 20 against k = 21. Its true ratio (the population median of the
  per-round ratios over where the variants land in memory) is not 21/20 exactly, because a call
  also pays a fixed overhead; it is estimated as the geometric mean of the per-pair median ratios of
  every pair the setting built (``comparisons × (1 + instances)`` pairs, printed with the table).

Every comparison builds its own two variants (new arrays, so new addresses): two instances of the same
kernel in one process differ by up to ~10 % here by where their arrays land (one pair measured 0.894 over
200 rounds, another 1.003), a bias that holds for the life of the instances and that no interval drawn
from rounds inside one process can see; fresh instances per comparison make it random, as it is between
the study's processes. Each comparison runs the study's design: rounds of one turn per variant in the Williams order of
:func:`jetprof.profiling.rounds.round_orders`, each turn ``--calls`` calls whose median is the
variant's figure for the round, timed on wall time (``perf_counter``) and on the thread's CPU
time (``thread_time``) at once. Settings: every ``--rounds`` value, quiet and with a competing busy
process on the machine (started and stopped here). Rounds are fixed per comparison; the study's own
rule of adding rounds until a pair is decided is not part of this figure.

Three interval methods: the study's bootstrap over rounds (:func:`jetprof.stats.ratio_ci`) and the
distribution-free order-statistic interval (:func:`jetprof.stats.exact_ratio_ci`, none below 6 rounds),
both on one pair's rounds; and the study's replicated one (:func:`jetprof.stats.process_ratio_ci`):
``--instances`` pairs per comparison, each built and timed over the setting's rounds in a freshly
forked process (``--fresh process``, as the study's ``profile.processes``; ``--fresh instance``: fresh
instances in this process), with a t interval on their per-pair median log-ratios. Target: coverage 93–97 %.
Prints a table; asserts nothing. ``--quick`` (40 comparisons, 6 and 10 rounds) takes about a minute.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import numpy as np
from scipy.stats import beta

from jetprof import stats
from jetprof.profiling.rounds import placement_gap, round_orders

SIZE = 64


def kernel(k: int) -> Callable[[], None]:
    """One call: ``k`` fixed matrix products (the cost is set by k, nothing sleeps)."""
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((SIZE, SIZE)), rng.standard_normal((SIZE, SIZE))
    out = np.empty((SIZE, SIZE))

    def call() -> None:
        for _ in range(k):
            np.matmul(a, b, out=out)

    return call


def turn(call: Callable[[], None], calls: int) -> tuple[float, float]:
    """Median wall and thread-CPU milliseconds of ``calls`` calls."""
    wall, cpu = [], []
    for _ in range(calls):
        w0, c0 = time.perf_counter(), time.thread_time()
        call()
        c1, w1 = time.thread_time(), time.perf_counter()
        wall.append((w1 - w0) * 1e3)
        cpu.append((c1 - c0) * 1e3)
    return statistics.median(wall), statistics.median(cpu)


def comparison(base: Callable[[], None], var: Callable[[], None], rounds: int,
               calls: int) -> dict[str, tuple[list[float], list[float]]]:
    """One comparison: per clock, the baseline's and the variant's per-round figures."""
    orders = round_orders(2)
    got: dict[str, tuple[list[float], list[float]]] = {"wall": ([], []), "cpu": ([], [])}
    variants = (base, var)
    for r in range(rounds):
        figures: dict[int, tuple[float, float]] = {}
        for i in orders[r % len(orders)]:
            figures[i] = turn(variants[i], calls)
        for j, clock in enumerate(("wall", "cpu")):
            got[clock][0].append(figures[0][j])
            got[clock][1].append(figures[1][j])
    return got


def clopper_pearson(held: int, n: int) -> tuple[float, float]:
    low = 0.0 if held == 0 else float(beta.ppf(0.025, held, n - held + 1))
    high = 1.0 if held == n else float(beta.ppf(0.975, held + 1, n - held))
    return low, high


KEPT: list[object] = []  # no new pair reuses an old pair's memory


def fresh_comparison(pair: str, rounds: int, calls: int,
                     rng: np.random.Generator | None = None) -> dict[str, tuple[list[float], list[float]]]:
    """A comparison on a newly built pair of variants (new arrays, so new addresses); with ``rng``,
    built in a random order, each after a random gap on the heap."""
    ks = [20, 20 if pair == "A/A" else 21]
    order = [0, 1] if rng is None else [int(i) for i in rng.permutation(2)]
    built: dict[int, Callable[[], None]] = {}
    for i in order:
        if rng is not None:
            KEPT.append(placement_gap(rng))
        built[i] = kernel(ks[i])
    base, var = built[0], built[1]
    KEPT.append((base, var))
    for _ in range(20):  # warm caches
        base()
        var()
    return comparison(base, var, rounds, calls)


CHILDREN = itertools.count()


def in_a_fresh_process(pair: str, rounds: int, calls: int,
                       randomise: bool = True) -> dict[str, tuple[list[float], list[float]]]:
    """:func:`fresh_comparison` in a forked child (as the study's timing-only processes are made).
    A forked child starts from its parent's heap, so without ``randomise`` every child places the
    two variants alike (the same bias in every process: no spread between processes to see it);
    with it, the child builds them in a random order with a random gap before each, as the study's
    processes do (:func:`jetprof.profiling.rounds.placement_gap`)."""
    seed = next(CHILDREN)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.close(read)
            rng = np.random.default_rng([seed, os.getpid()])
            with os.fdopen(write, "w") as out:
                json.dump(fresh_comparison(pair, rounds, calls, rng if randomise else None), out)
            code = 0
        finally:
            os._exit(code)
    os.close(write)
    with os.fdopen(read) as got:
        text = got.read()
    _, status = os.waitpid(pid, 0)
    if status != 0 or not text:
        raise RuntimeError(f"calibration child failed (status {status})")
    return {clock: (list(b), list(v)) for clock, (b, v) in json.loads(text).items()}


def between_instances_ci(reps: list[tuple[list[float], list[float]]]) -> tuple[float, float]:
    """The study's own interval over fresh processes (:func:`jetprof.stats.process_ratio_ci`): the
    replicates' rounds, each tagged with its replicate, so a t interval over the replicates'
    medians of log ratios, whose spread carries the placement bias, sets the width."""
    base = [x for b, _ in reps for x in b]
    var = [x for _, v in reps for x in v]
    process = [k for k, (b, _) in enumerate(reps) for _ in b]
    found = stats.process_ratio_ci(base, var, process)
    assert found.low is not None and found.high is not None
    return found.low, found.high


def setting(pair: str, rounds: int, n: int, calls: int, instances: int,
            fresh: str = "process") -> list[dict[str, object]]:
    """Coverage rows of one setting (pair × rounds), both clocks, three methods; the replicated
    method's pairs are each built in a fresh forked process (``fresh`` "process", the study's design)
    or as fresh instances in this one ("instance")."""
    runs = [fresh_comparison(pair, rounds, calls) for _ in range(n)]
    make = in_a_fresh_process if fresh == "process" else fresh_comparison
    replicated = [[make(pair, rounds, calls) for _ in range(instances)] for _ in range(n)] \
        if instances >= 2 else []
    rows = []
    for clock in ("wall", "cpu"):
        every_pair = [r[clock] for r in runs] + [rep[clock] for reps in replicated for rep in reps]
        logs = [np.median(np.log(np.asarray(v) / np.asarray(b))) for b, v in every_pair]
        truth = 1.0 if pair == "A/A" else float(np.exp(np.mean(logs)))
        replicas = f"{instances} {'processes' if fresh == 'process' else 'instances'}"
        for method in ("bootstrap", "order-statistic", f"t over {replicas}"):
            held, stated, widths = 0, 0, []
            if method.startswith("t over"):
                for reps in replicated:
                    low, high = between_instances_ci([rep[clock] for rep in reps])
                    stated += 1
                    held += low <= truth <= high
                    widths.append((high - low) / 2)
            for k, r in enumerate(runs if not method.startswith("t over") else []):
                b, v = r[clock]
                if method == "bootstrap":
                    _, low, high = stats.ratio_ci(b, v, seed=k)
                else:
                    _, lo_, hi_ = stats.exact_ratio_ci(b, v)
                    if lo_ is None or hi_ is None:
                        continue
                    low, high = lo_, hi_
                stated += 1
                held += low <= truth <= high
                widths.append((high - low) / 2)
            cov = held / stated if stated else float("nan")
            cp = clopper_pearson(held, stated) if stated else (float("nan"), float("nan"))
            rows.append({"pair": pair, "rounds": rounds, "clock": clock, "method": method, "truth": truth,
                         "stated": stated, "n": n, "coverage": cov, "cp": cp,
                         "half_width": statistics.median(widths) if widths else float("nan")})
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--comparisons", type=int, default=200)
    parser.add_argument("--rounds", default="6,10,30", help="comma-separated rounds per comparison")
    parser.add_argument("--calls", type=int, default=5, help="calls per turn (the turn's figure is their median)")
    parser.add_argument("--loads", default="quiet,loaded")
    parser.add_argument("--instances", type=int, default=5,
                        help="fresh instance pairs per replicated comparison (the 't over N pairs' method; 0: off)")
    parser.add_argument("--fresh", choices=("process", "instance"), default="process",
                        help="the replicated method's pairs: each in a fresh forked process (as the study's "
                             "profile.processes), or fresh instances in this process")
    parser.add_argument("--quick", action="store_true", help="40 comparisons at 6 and 10 rounds, quiet only")
    args = parser.parse_args()
    if args.quick:
        args.comparisons, args.rounds, args.loads = 40, "6,10", "quiet"
    rounds = [int(r) for r in args.rounds.split(",")]
    print(f"{'load':7} {'pair':6} {'rounds':>6} {'clock':5} {'method':20} {'stated':>9} "
          f"{'coverage [CP 95 %]':>24} {'half-width':>10}  truth")
    started = time.perf_counter()
    for load in args.loads.split(","):
        hog = None
        if load == "loaded":  # a competing busy process on the other core
            hog = subprocess.Popen([sys.executable, "-c", "while True: pass"])
        try:
            for r in rounds:
                for pair in ("A/A", "known"):
                    for row in setting(pair, r, args.comparisons, args.calls, args.instances, args.fresh):
                        cp = row["cp"]
                        assert isinstance(cp, tuple)
                        print(f"{load:7} {row['pair']!s:6} {r:>6} {row['clock']!s:5} {row['method']!s:20} "
                              f"{row['stated']!s:>4}/{row['n']!s:<4} {row['coverage']:>8.1%} "
                              f"[{cp[0]:.1%}, {cp[1]:.1%}] {row['half_width']:>9.2%}  {row['truth']:.4f}",
                              flush=True)
        finally:
            if hog is not None:
                hog.kill()
                hog.wait()
    print(f"# {time.perf_counter() - started:.0f} s; coverage target 93-97 %; the truth of 'known' is the geometric "
          "mean of every built pair's median ratio")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
