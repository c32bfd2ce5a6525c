"""Timing the variants of a group interleaved in rounds (inside the measuring process).

Each round gives every live variant one *turn*: a few forwards (enough that its turn
lasts about ``TURN_MS``; every weight state and replica of one model, backend and
precision makes the same number, so the weights comparisons and the A/A control
compare like with like), whose median is the variant's figure for the round. The
order of the turns follows a balanced (Williams) design, so no variant is favoured by
its position in a round or by the variant before it; rounds are added past
``spec.rounds`` until every comparison of the group is decided on this process's rounds, with
an interval no wider than ``spec.target_half_width``, up to ``spec.max_rounds`` or this process's
share of ``spec.max_group_s``. A group is timed in several fresh processes
(:mod:`jetprof.profiling.replicate`), each building its variants in its own order
(:func:`build_order`). On CPU with one thread, a call that
waited for the CPU (wall time well above its CPU time) is timed again.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Callable, Hashable, Sequence
from typing import TYPE_CHECKING, Protocol

import numpy as np

from jetprof import stats
from jetprof.contract import compared_pairs
from jetprof.profiling import hooks
from jetprof.profiling.spec import GroupSpec

if TYPE_CHECKING:
    import torch

    from jetprof.profiling.energy import Meter
    from jetprof.profiling.spec import VariantSpec
    from jetprof.records import PointRecord

class TimedSlot(Protocol):
    """What the rounds read and set of a variant: the shape of :class:`jetprof.profiling.measure.Slot`
    (measure imports this module, so it is named by its shape here, not imported)."""

    spec: VariantSpec
    rec: PointRecord
    warm_ms: float | None
    calls_per_round: int
    wall: list[float]
    cpu: list[float]
    energy: list[float]

    @property
    def ok(self) -> bool: ...

    def runner(self) -> Callable[[], object]:
        """The variant's forward (one call on the point's batch)."""
        ...


#: runs one step of a variant (``step(*args)``) so that a failure fails that variant, not the group
#: (measure's ``_guarded``): called as ``guarded(slot, step, *args)``
Guard = Callable[..., None]

ORDER = ("balanced (Williams design): each round calls every variant once; over a cycle of rounds "
         "each variant takes each position equally often and follows each other variant equally often")


def round_orders(n: int) -> list[list[int]]:
    """One cycle of round orders for ``n`` variants, balanced for position and carry-over.

    A Williams design: for even ``n`` the ``n`` rows of ``0, 1, n-1, 2, n-2, ...`` shifted
    by the row number; for odd ``n`` those rows and their mirrors (``2n`` rows). Each
    variant takes every position equally often and directly follows every other
    variant equally often, so neither "called first" nor "called after the ONNX
    Runtime variant" favours anyone. Rows are chained so that no variant runs twice
    in a row across a round boundary (possible from 3 variants up; 2 variants
    alternate AB, BA and each gets the repeat equally often).
    """
    if n <= 1:
        return [[0] * n]
    base = [0]
    lo, hi = 1, n - 1
    while len(base) < n:
        base.append(lo)
        lo += 1
        if len(base) < n:
            base.append(hi)
            hi -= 1
    rows = [[(x + r) % n for x in base] for r in range(n)]
    if n % 2:
        rows += [row[::-1] for row in rows]
    if n == 2:
        return rows
    chain = [rows.pop(0)]
    while rows:
        nxt = next((row for row in rows if row[0] != chain[-1][-1]), rows[0])
        rows.remove(nxt)
        chain.append(nxt)
    return chain


#: a variant's turn in a round lasts about this long at least: cheap forwards (batch 1)
#: run several calls per turn and the turn's figure is their median, which a
#: scheduler hiccup in one call does not move
TURN_MS = 30.0
MAX_CALLS_PER_TURN = 8


def _call_ms(slot: TimedSlot, device: torch.device) -> tuple[float, float]:
    """(wall ms, process CPU ms) of one synchronised forward (CUDA events on CUDA)."""
    import torch

    from jetprof.profiling.backends import synchronize

    forward = slot.runner()
    if device.type == "cuda":
        ev0, ev1 = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        c0 = time.process_time()
        ev0.record()
        out = forward()
        ev1.record()
        ev1.synchronize()
        wall, cpu = float(ev0.elapsed_time(ev1)), (time.process_time() - c0) * 1e3
    else:
        c0, w0 = time.process_time(), time.perf_counter()
        out = forward()
        synchronize(device)
        w1, c1 = time.perf_counter(), time.process_time()
        wall, cpu = (w1 - w0) * 1e3, (c1 - c0) * 1e3
    del out
    return wall, cpu


def _hooked_call_ms(spec: GroupSpec, slot: TimedSlot, device: torch.device) -> tuple[float, float]:
    """One forward as :func:`_call_ms` times it, or, with a hook set (``JETPROF_HOOKS``), timed
    around the forward and the hook point ``call_end`` after it (where a benchmark's hook
    may add a slowdown of known size to the call)."""
    if not hooks.active():
        return _call_ms(slot, device)
    c0, w0 = time.process_time(), time.perf_counter()
    _call_ms(slot, device)
    hooks.call("call_end", spec=spec, slot=slot, seconds=time.perf_counter() - w0)
    return (time.perf_counter() - w0) * 1e3, (time.process_time() - c0) * 1e3


#: on CPU with one thread, a call whose wall time exceeds its CPU time by this factor (plus
#: PREEMPT_SLACK_MS) waited for the CPU: it measured the scheduler, not the model, and is
#: timed again, at most PREEMPT_RETRIES times
PREEMPT_FACTOR = 1.10
PREEMPT_SLACK_MS = 0.2
PREEMPT_RETRIES = 3


def _time_turn(spec: GroupSpec, slot: TimedSlot, device: torch.device, meter: Meter | None = None) -> None:
    """The variant's turn in a round: ``slot.calls_per_round`` forwards; the medians go into
    the round (and, with an energy meter, the turn's joules per call)."""
    made = 0

    def once() -> tuple[float, float]:
        return _hooked_call_ms(spec, slot, device)

    calls = slot.calls_per_round
    check = device.type == "cpu" and spec.threads == 1
    times = []
    joules = meter.joules() if meter is not None else 0.0
    for _ in range(calls):
        wall, cpu = once()
        made += 1
        for _retry in range(PREEMPT_RETRIES if check else 0):
            if wall <= PREEMPT_FACTOR * cpu + PREEMPT_SLACK_MS:
                break
            slot.rec.preempted_calls = (slot.rec.preempted_calls or 0) + 1
            wall, cpu = once()
            made += 1
        times.append((wall, cpu))
    if meter is not None:
        slot.energy.append((meter.joules() - joules) / made)
    slot.wall.append(float(np.median([w for w, _ in times])))
    slot.cpu.append(float(np.median([c for _, c in times])))


def calls_per_turn(probe_ms: list[float]) -> int:
    """Calls per turn so that a turn of the fastest of ``probe_ms`` lasts about TURN_MS."""
    fastest = min(probe_ms) if probe_ms else TURN_MS
    return int(min(MAX_CALLS_PER_TURN, max(1, round(TURN_MS / max(fastest, 1e-3)))))


def calls_by_kind(kinds: Sequence[Hashable], probe_ms: list[float]) -> list[int]:
    """Calls per turn of each variant: those of one kind (model, backend, precision: weight
    states and replicas of it) share the count of the kind's fastest probe. One count for
    the whole group would make a 0.8 s ParticleNet forward repeat as often as a 4 ms PFN."""
    fastest: dict[Hashable, float] = {}
    for kind, ms in zip(kinds, probe_ms):
        fastest[kind] = min(ms, fastest.get(kind, ms))
    return [calls_per_turn([fastest[kind]]) for kind in kinds]


def build_order(spec: GroupSpec) -> list[int]:
    """The order this process builds its variants in (indices into ``spec.variants``): a
    permutation drawn from the group, its seed and the process's index, so each of a group's
    processes places its variants in memory in its own order, and a rerun in the same one."""
    key = zlib.crc32(f"{spec.device}|{spec.particles}|{spec.batch_size}".encode())
    rng = np.random.default_rng([spec.seed, spec.process_index, key])
    return [int(i) for i in rng.permutation(len(spec.variants))]


#: the gaps :func:`placement_gap` left, kept for the life of the process
GAPS: list[bytearray] = []
#: a gap is up to this many bytes: below glibc's mmap threshold (128 KiB), so it moves what is built
#: next on the heap, not in a mapping of its own
MAX_GAP = 96 * 1024


def placement_gap(rng: np.random.Generator) -> bytearray:
    """Leave a gap of random size on the heap (kept for the process's life): what is allocated next
    lands elsewhere. A forked process starts from its parent's heap, so without it every process would
    place its variants alike and a bias of that placement would hold for all of them, invisible to an
    interval over processes (``benchmarks/calibration.py``: A/A coverage 0 % over 200 comparisons
    without it)."""
    gap = bytearray(int(rng.integers(0, MAX_GAP // 64)) * 64 + 16)
    GAPS.append(gap)
    return gap


def _decided(spec: GroupSpec, live: Sequence[TimedSlot]) -> bool:
    """Whether every comparison among the live variants is decided (same/different) on this
    process's rounds, on the group's clock, with an interval no wider than the target each side
    (the distribution-free interval of :func:`jetprof.stats.exact_ratio_ci`: none below 6 rounds)."""
    by_variant = {s.spec.variant: s for s in live}
    for pair in compared_pairs([s.spec.variant for s in live]):
        b, v = by_variant[pair.baseline], by_variant[pair.variant]
        b_ms, v_ms = (b.cpu, v.cpu) if spec.clock == "cpu" else (b.wall, v.wall)
        _, low, high = stats.exact_ratio_ci(b_ms, v_ms)
        if low is None or high is None or stats.verdict(low, high, spec.threshold) == "inconclusive":
            return False
        if (high - low) / 2 > spec.target_half_width:
            return False
    return True


def _turn(spec: GroupSpec, slot: TimedSlot, device: torch.device, meter: Meter | None) -> None:
    """A variant's turn in a round, after the hook point ``turn`` (see jetprof.profiling.hooks)."""
    hooks.call("turn", spec=spec, slot=slot)
    _time_turn(spec, slot, device, meter)


def interleave(spec: GroupSpec, slots: Sequence[TimedSlot], guarded: Guard,
               meter: Meter | None = None) -> list[list[str]]:
    """Timed rounds over the live variants; the order of each round (labels)."""
    import torch

    device = torch.device(spec.device)
    live = [s for s in slots if s.ok]
    probe: list[float] = []
    for slot in live:  # how long a forward takes, for calls per turn: the last warm-up call's
        # wall time where it was in the steady state, else one untimed call (a whole round's worth
        # of forwards in each process at batch 32, where the warm-up had just timed the same)
        warm = slot.warm_ms
        probe.append(warm if warm is not None and slot.spec.backend != "compile" else _call_ms(slot, device)[0])
    kinds = [(s.spec.model, s.spec.backend, s.spec.precision) for s in live]
    for slot, calls in zip(live, calls_by_kind(kinds, probe)):
        slot.calls_per_round = calls
    order_log: list[list[str]] = []
    cycle = round_orders(len(live))
    check_every = len(cycle) if len(cycle) <= spec.rounds else 2
    start = time.perf_counter()
    while live:
        if len(cycle) != len(round_orders(len(live))) or len(cycle[0]) != len(live):
            cycle = round_orders(len(live))  # a variant left: rebalance the others
        order = [live[i] for i in cycle[len(order_log) % len(cycle)]]
        order_log.append([s.spec.label for s in order])
        for slot in order:
            guarded(slot, _turn, spec, slot, device, meter)
        if any(not s.ok for s in live):
            # a variant that failed mid-way leaves; the others keep their complete rounds
            live = [s for s in live if s.ok]
            complete = min((len(s.wall) for s in live), default=0)
            for s in live:
                s.wall, s.cpu = s.wall[:complete], s.cpu[:complete]
        n = len(order_log)
        if n >= spec.max_rounds:
            break
        if n >= spec.rounds and n % check_every == 0:  # this process's share of the group's budget
            if time.perf_counter() - start > spec.max_group_s / spec.processes or _decided(spec, live):
                break
    return order_log
