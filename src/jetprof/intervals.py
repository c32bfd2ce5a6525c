"""A group's paired intervals, read from its rounds file: what ``jetprof compare`` states per pair
and what the measuring side's stopping rule asks of the processes measured so far.

A pair's rounds are taken on the group's clock (``clock`` of the rounds file: wall time, or the
measuring process's CPU time for single-threaded CPU groups) and turned into a ratio and an
interval by :func:`jetprof.stats.process_ratio_ci`: a Student-t interval over the group's fresh
processes where there are several, the distribution-free interval of one process's rounds where
there is one (files written before process replication).
"""

from __future__ import annotations

import zlib
from pathlib import Path

from jetprof import stats
from jetprof.contract import Pair, Variant, compared_pairs
from jetprof.records import GroupDocument, GroupVariant


def group_clock(group: GroupDocument) -> str:
    """The clock a group is compared on: the one it stopped on, where every variant has its rounds."""
    clock = group.clock or "wall"
    if clock == "cpu" and any(v.status == "ok" and not v.round_cpu_ms for v in group.variants):
        return "wall"
    return clock


def paired_rounds(entry: GroupVariant, clock: str) -> list[float]:
    """One variant's per-round figures on ``clock`` (``round_cpu_ms`` or ``round_latency_ms``)."""
    return list((entry.round_cpu_ms if clock == "cpu" else entry.round_latency_ms) or [])


def pair_interval(path: Path | str, group: GroupDocument, pair: Pair, base: GroupVariant,
                  var: GroupVariant) -> stats.Interval | str:
    """The pair's ratio and interval on the group's clock (:func:`jetprof.stats.process_ratio_ci`),
    or why there is none (a status that is not ok, rounds that do not pair up)."""
    clock = group_clock(group)
    b_ms, v_ms = paired_rounds(base, clock), paired_rounds(var, clock)
    if base.status != "ok" or var.status != "ok":
        return base.status if base.status != "ok" else var.status
    if not b_ms or len(b_ms) != len(v_ms):
        return f"{len(b_ms)} and {len(v_ms)} rounds do not pair up"
    process = base.round_process
    if process is not None and (len(process) != len(b_ms) or var.round_process != process):
        return "the two sides' rounds come from different processes"
    seed = zlib.crc32(f"{path}|{pair.baseline.label}|{pair.variant.label}".encode())
    return stats.process_ratio_ci(b_ms, v_ms, process, seed=seed)


def variant_of(entry: GroupVariant) -> Variant:
    """A rounds file's variant entry as the contract's variant."""
    return Variant(entry.model, entry.weights, entry.backend, entry.precision, entry.replica)


def group_intervals(path: Path | str, group: GroupDocument,
                    main_model: str | None = None) -> list[tuple[Pair, stats.Interval | str]]:
    """Every compared pair of a group (:func:`jetprof.contract.compared_pairs`) with its interval, or
    why it has none."""
    entries = {variant_of(e): e for e in group.variants}
    return [(pair, pair_interval(path, group, pair, entries[pair.baseline], entries[pair.variant]))
            for pair in compared_pairs(list(entries), main_model)]
