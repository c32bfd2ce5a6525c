"""The device's measured matrix-product ceiling (``jetprof profile --peak``).

Square ``n×n @ n×n`` products (2·n³ FLOP each), timed after warm-up with device
synchronisation; the best of several timed rounds is reported as the ceiling
that ParT's achieved FLOP/s are compared against. fp32 always (TF32 off, as
torch's default); bf16 and fp16 too on CUDA and MPS.

On CPU the record also carries the CPU's **subnormal penalty**: the same matrix product
with normal weights and with the weights scaled into float32's subnormal range (below
1.18e-38), timed interleaved in rounds (the order alternating from round to round), as a
paired ratio with its 95 % interval (``jetprof.stats``), and again with subnormals flushed
to zero where the CPU can. Whether a checkpoint's subnormal values cost anything is a
property of the CPU (some x86 cores take a microcode assist per subnormal operand, others
do not): the weights answer quotes this beside the CPU's name so that a reader on another
CPU knows whether its verdict carries over.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, TypedDict

from jetprof.records import JSON

if TYPE_CHECKING:
    import torch


class MatmulRate(TypedDict):
    """One precision's ceiling: the best round's FLOP/s and every round's."""

    matmul_flops_per_s: float
    matrix_size: int
    rounds_flops_per_s: list[float]
    calls_per_round: int


class PenaltyPair(TypedDict):
    """Subnormal over normal weights, paired over rounds: the ratio, its interval and verdict."""

    ratio: float
    ci95: list[float]
    verdict: str
    normal_s_median: float
    subnormal_s_median: float


class FlushedPenalty(PenaltyPair):
    """The pair again with subnormals flushed to zero."""

    rounds: int


class SubnormalPenalty(PenaltyPair):
    """The peak record's ``subnormal_penalty`` block (CPU only)."""

    operation: str
    matrix_size: int
    rounds: int
    subnormal_fraction: float
    threshold: float
    method: str
    cpu: str
    flushed: FlushedPenalty | None


class PeakRecord(TypedDict):
    """What ``jetprof profile --peak`` writes: the device's matmul ceiling per precision."""

    device: str
    dtype: str
    matmul_flops_per_s: float
    matrix_size: int
    by_dtype: dict[str, MatmulRate]
    threads: int
    tf32: bool | None
    subnormal_penalty: SubnormalPenalty | None
    env: JSON  # jetprof.profiling.env's dict, as the point record carries it
    started_utc: str


def matmul_flops_per_s(device: torch.device, dtype: torch.dtype, n: int, min_time_s: float = 0.5,
                       rounds: int = 5) -> MatmulRate:
    """Best-of-``rounds`` FLOP/s of an ``n``-sized matmul on ``device``."""
    import torch

    from jetprof.profiling.backends import synchronize

    g = torch.Generator(device="cpu").manual_seed(0)
    a = torch.randn(n, n, generator=g).to(device=device, dtype=dtype)
    b = torch.randn(n, n, generator=g).to(device=device, dtype=dtype)
    for _ in range(3):
        torch.mm(a, b)
    synchronize(device)
    t = time.perf_counter()
    torch.mm(a, b)
    synchronize(device)
    one = max(time.perf_counter() - t, 1e-6)
    per_round = max(1, int(min_time_s / rounds / one))
    rates: list[float] = []
    for _ in range(rounds):
        synchronize(device)
        t = time.perf_counter()
        for _ in range(per_round):
            torch.mm(a, b)
        synchronize(device)
        dt = time.perf_counter() - t
        rates.append(2.0 * n**3 * per_round / dt)
    return {"matmul_flops_per_s": max(rates), "matrix_size": n, "rounds_flops_per_s": rates,
            "calls_per_round": per_round}


#: float32's smallest normal value; below it (and above 0) a value is subnormal
FLOAT32_TINY = 1.1754943508222875e-38
#: the verdict threshold of the penalty (the study's default practical threshold)
PENALTY_THRESHOLD = 0.05


def _turn(fn: Callable[[], object], calls: int) -> float:
    t = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - t) / calls


def _paired_turns(normal: Callable[[], object], other: Callable[[], object], rounds: int, min_turn_s: float,
                  max_rounds: int | None = None) -> tuple[list[float], list[float]]:
    """Per-call seconds of ``normal`` and ``other`` in interleaved rounds (AB, BA, AB, ...).

    ``rounds`` rounds, then (with ``max_rounds``) blocks of 10 more while the ratio's interval
    leaves the verdict at ±``PENALTY_THRESHOLD`` open, up to ``max_rounds``.

    Each side's turn is about ``min_turn_s`` long: the calls per turn are counted per side.
    One count for both (the faster side's) made every subnormal turn ~225× longer than its
    normal twin on a CPU with a microcode assist, so that the penalty took two minutes of
    the default study instead of a few seconds, for no more precision: a turn's noise is
    set by its length, and the long side's turns were far longer than they needed to be.
    """
    from jetprof import stats

    for _ in range(3):
        normal()
        other()
    calls_a = max(1, int(min_turn_s / max(_turn(normal, 3), 1e-7)))
    calls_b = max(1, int(min_turn_s / max(_turn(other, 3), 1e-7)))
    a: list[float] = []
    b: list[float] = []

    def more(n: int) -> None:
        for _ in range(n):
            if len(a) % 2 == 0:
                a.append(_turn(normal, calls_a))
                b.append(_turn(other, calls_b))
            else:
                b.append(_turn(other, calls_b))
                a.append(_turn(normal, calls_a))

    more(rounds)
    while max_rounds is not None and len(a) < max_rounds:
        _, low, high = stats.ratio_ci(a, b)
        if stats.verdict(low, high, PENALTY_THRESHOLD) != "inconclusive":
            break
        more(min(10, max_rounds - len(a)))
    return a, b


def subnormal_penalty(n: int = 256, rounds: int = 30, min_turn_s: float = 0.02,
                      max_rounds: int = 120) -> SubnormalPenalty:
    """CPU time of ``x @ W`` with subnormal ``W`` over the same product with normal ``W``, paired.

    At least ``rounds`` interleaved rounds of ``min_turn_s`` turns, more (up to ``max_rounds``)
    while the verdict at ±5 % is open: a few seconds in all.

    ``W`` is standard normal; its subnormal twin is ``W × 1e-39`` (every value below
    float32's smallest normal, none flushed to zero). ``x`` is the same normal matrix on
    both sides. With ``torch.set_flush_denormal`` available (x86 with SSE3, aarch64), the
    pair is measured again with subnormals flushed to zero, as ``profile.flush_denormal``
    would run the study.
    """
    import torch

    from jetprof import stats
    from jetprof.platforms import cpu_label
    from jetprof.profiling.env import cpu_info

    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, n, generator=g)
    w = torch.randn(n, n, generator=g)
    w_sub = w * 1e-39
    fraction = float(((w_sub != 0) & (w_sub.abs() < FLOAT32_TINY)).double().mean())

    def normal() -> None:
        torch.mm(x, w)

    def subnormal() -> None:
        torch.mm(x, w_sub)

    def pair(a: list[float], b: list[float]) -> PenaltyPair:
        ratio, low, high = stats.ratio_ci(a, b)
        return {"ratio": ratio, "ci95": [low, high], "verdict": stats.verdict(low, high, PENALTY_THRESHOLD),
                "normal_s_median": float(sorted(a)[len(a) // 2]), "subnormal_s_median": float(sorted(b)[len(b) // 2])}

    a, b = _paired_turns(normal, subnormal, rounds, min_turn_s, max_rounds)
    out: SubnormalPenalty = {
        "operation": f"{n}x{n} @ {n}x{n} float32 matmul: normal weights vs the same weights x 1e-39",
        "matrix_size": n, "rounds": len(a), "subnormal_fraction": fraction, "threshold": PENALTY_THRESHOLD,
        "method": stats.METHOD, "cpu": cpu_label(cpu_info()), **pair(a, b), "flushed": None,
    }
    was = torch.set_flush_denormal(True)
    if was:
        try:
            a, b = _paired_turns(normal, subnormal, rounds, min_turn_s, max_rounds)
            out["flushed"] = {**pair(a, b), "rounds": len(a)}
        finally:
            torch.set_flush_denormal(False)
    return out


def measure_peak(device_name: str, threads: int, config_hash: str | None = None,
                 matrix_size: int | None = None) -> PeakRecord:
    """The peak record: fp32 (and bf16 on CUDA) matmul FLOP/s with the environment."""
    import torch

    from jetprof.profiling.env import environment

    torch.set_num_threads(threads)
    device = torch.device(device_name)
    started = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    gpu = device.type in ("cuda", "mps")
    n = matrix_size or (8192 if gpu else 1024)
    by_dtype = {"fp32": matmul_flops_per_s(device, torch.float32, n)}
    if device.type in ("cuda", "mps"):  # the precisions autocast runs there
        by_dtype["bf16"] = matmul_flops_per_s(device, torch.bfloat16, n)
        by_dtype["fp16"] = matmul_flops_per_s(device, torch.float16, n)
    return {
        "device": device_name, "dtype": "fp32",
        "matmul_flops_per_s": by_dtype["fp32"]["matmul_flops_per_s"], "matrix_size": n,
        "by_dtype": by_dtype, "threads": threads,
        "tf32": bool(torch.backends.cuda.matmul.allow_tf32) if device.type == "cuda" else None,
        "subnormal_penalty": subnormal_penalty() if device.type == "cpu" else None,
        "env": environment(device_name, config_hash), "started_utc": started,
    }
