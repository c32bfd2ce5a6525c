"""A group timed in several fresh processes: the between-process part of a comparison's spread.

Two instances of one variant in one process can differ by several per cent for the life of the
process, by where they landed in memory and the order they were built in (Mytkowicz et al.,
ASPLOS 2009; ``benchmarks/calibration.py`` measured up to 10 % on a kernel whose cost is set
exactly). No interval drawn from one process's rounds can see such a bias, so a group is timed in
``processes`` fresh processes (more, up to ``max_processes``, while a comparison is undecided or
wider than ``target_half_width``, within ``max_group_s``), each building its variants in its own
randomised order (:func:`jetprof.profiling.rounds.build_order`):

* process 0 is the group's full measuring process (:func:`jetprof.profiling.measure.measure_group`):
  rounds, memory, FLOPs, quality, the profiler pass; it writes the records and the rounds file;
* processes 1, 2, ... time rounds only (:func:`time_only`) and write them to a scratch file, which
  the parent appends to the rounds file and the records (:func:`merge`), each round tagged with its
  process (``round_process``).

:func:`jetprof.stats.process_ratio_ci` then draws a Student-t interval over the processes. The
records' latency figures come from every process's rounds; the point's ``paired.half_width`` is the
half-width of its widest comparison at the end (:func:`finalise`).
"""

from __future__ import annotations

import dataclasses
import json
import math
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol, TypedDict, cast

from jetprof.intervals import group_clock, group_intervals
from jetprof.io import atomic_write_text
from jetprof.profiling.spec import GroupSpec
from jetprof.records import GroupDocument, load_group, load_record


class VariantRounds(TypedDict):
    """One variant's rounds in a timing-only process."""

    status: str
    wall: list[float]
    cpu: list[float]


class ProcessRounds(TypedDict):
    """What a timing-only process writes to ``spec.rounds_out``."""

    process: int
    rounds: list[list[str]]
    timing_s: float
    build_order: list[str]
    variants: dict[str, VariantRounds]


class Ended(Protocol):
    """How a measuring process ended (:class:`jetprof.profiling.runner.ChildResult`)."""

    status: int | None
    stderr: str


def time_only(spec: GroupSpec) -> None:
    """Inside process ``spec.process_index`` > 0: build, warm up and time the group's variants in
    rounds; write every variant's per-round figures to ``spec.rounds_out``."""
    from jetprof.profiling import hooks, measure
    from jetprof.profiling.record import blank_record
    from jetprof.profiling.rounds import build_order, interleave

    measure._pin_torch(spec)
    hooks.call("group_start", spec=spec)
    slots = [measure.Slot(v, blank_record(spec, v)) for v in spec.variants]
    workdir = tempfile.mkdtemp(prefix="jetprof-child-", dir=spec.cache_dir)
    try:
        measure.prepare(spec, slots, workdir)
        t0 = time.perf_counter()
        rounds = interleave(spec, slots, measure._guarded)
        timing_s = round(time.perf_counter() - t0, 3)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    doc = ProcessRounds(process=spec.process_index, rounds=rounds, timing_s=timing_s,
                        build_order=[spec.variants[i].label for i in build_order(spec)],
                        variants={s.spec.label: VariantRounds(status="ok" if s.ok else s.rec.status, wall=s.wall,
                                                              cpu=s.cpu) for s in slots})
    atomic_write_text(str(spec.rounds_out), json.dumps(doc) + "\n")


def merge(spec: GroupSpec, extra: ProcessRounds) -> str | None:
    """Append one timing-only process's rounds to the group's rounds file and records; or why not
    (a variant that is ok in the group failed there, or the rounds do not pair up: nothing appended)."""
    from jetprof.profiling.record import latency_figures, write_record

    group = load_group(json.loads(spec.group_path.read_text()), str(spec.group_path))
    ok = [v for v in group.variants if v.status == "ok"]
    got = extra["variants"]
    bad = [v.label for v in ok if v.label not in got or got[v.label]["status"] != "ok"]
    if bad:
        return f"{', '.join(bad)} failed there ({got[bad[0]]['status'] if bad[0] in got else 'missing'})"
    counts = {len(got[v.label]["wall"]) for v in ok}
    if len(counts) != 1 or 0 in counts:
        return f"its rounds do not pair up ({sorted(counts)} rounds per variant)"
    k = extra["process"]
    for v in ok:
        wall, cpu = [round(x, 6) for x in got[v.label]["wall"]], [round(x, 6) for x in got[v.label]["cpu"]]
        v.round_process = (v.round_process or [0] * len(v.round_latency_ms)) + [k] * len(wall)
        v.round_latency_ms = v.round_latency_ms + wall
        v.round_cpu_ms = (v.round_cpu_ms or []) + cpu
        if v.record:
            path = Path(spec.out) / v.record
            rec = load_record(json.loads(path.read_text()), str(path))
            latency_figures(spec, rec, v.round_latency_ms, v.round_cpu_ms)
            if rec.paired is not None:
                rec.paired.rounds = len(v.round_latency_ms)
                rec.paired.round_latency_ms = rec.latency_ms_samples
                rec.paired.round_process = v.round_process
            write_record(rec, path)
    group.rounds = group.rounds + extra["rounds"]
    group.build_orders = (group.build_orders or []) + [extra["build_order"]]
    group.timing_s = (group.timing_s or []) + [float(extra["timing_s"])]
    group.processes = len({p for v in ok for p in v.round_process or [0]}) or 1
    atomic_write_text(spec.group_path, json.dumps(group.to_json(), indent=1) + "\n")
    return None


def _group(spec: GroupSpec) -> GroupDocument:
    return load_group(json.loads(spec.group_path.read_text()), str(spec.group_path))


def openness(spec: GroupSpec) -> tuple[float, str]:
    """How far the group is from decided on its processes so far, and its widest open comparison:
    0 when every comparison is decided within ``target_half_width``; else that comparison's
    half-width over the target (infinite: no interval yet)."""
    worst, what = 0.0, ""
    for pair, found in group_intervals(spec.group_path, _group(spec)):
        if isinstance(found, str):
            continue  # not measured: more processes will not help
        half = found.half_width
        score = math.inf if half is None else half / spec.target_half_width
        if found.verdict(spec.threshold) == "inconclusive" or score > 1:
            if score > worst or not what:
                worst = max(score, 1.0)
                width = "no interval" if half is None else f"±{100 * half:.1f} %"
                what = f"{pair.variant.label} ÷ {pair.baseline.label} {found.verdict(spec.threshold)}, {width}"
    return worst, what


def finalise(spec: GroupSpec) -> None:
    """State in each record how many processes its rounds come from and the half-width of its widest
    comparison (the smallest difference the point could have detected), on the group's clock."""
    from jetprof.profiling.record import write_record

    group = _group(spec)
    widest: dict[str, float | None] = {}
    for pair, found in group_intervals(spec.group_path, group):
        half = found.half_width if not isinstance(found, str) else None
        for label in (pair.baseline.label, pair.variant.label):
            if isinstance(found, str):
                continue
            seen = widest.get(label, 0.0)
            widest[label] = None if half is None or seen is None else max(seen, half)
    clock = group_clock(group)
    for v in group.variants:
        if not v.record or v.status != "ok":
            continue
        path = Path(spec.out) / v.record
        rec = load_record(json.loads(path.read_text()), str(path))
        if rec.paired is not None:
            rec.paired.processes = group.processes or 1
            rec.paired.half_width = widest.get(v.label)
            rec.paired.clock = clock
            write_record(rec, path)


def add_process(spec: GroupSpec, run_child: Callable[[GroupSpec], Ended], name: str) -> bool:
    """Time the group in one more fresh process (``run_child`` makes one and waits for it, as for
    process 0) and append its rounds; False, with a line saying why, when it could not be used (it
    died, or a variant failed there): what was measured before stays."""
    k = _group(spec).processes or 1
    with tempfile.NamedTemporaryFile(suffix=".rounds.json", dir=spec.cache_dir, delete=False) as f:
        out = f.name
    try:
        result = run_child(dataclasses.replace(spec, process_index=k, rounds_out=out))
        text = Path(out).read_text() if result.status == 0 and Path(out).stat().st_size else ""
        why = merge(spec, cast(ProcessRounds, json.loads(text))) if text else f"its process {_ended(result)}"
    finally:
        Path(out).unlink(missing_ok=True)
    if why:
        print(f"jetprof profile: group {name}: process {k} not used: {why}; the comparisons use {k} process(es)",
              file=sys.stderr)
    finalise(spec)
    return not why


def replicate(spec: GroupSpec, run_child: Callable[[GroupSpec], Ended], name: str) -> bool:
    """After the group's full process: time it in fresh processes until ``processes`` have run
    (:func:`add_process`), then :func:`finalise`; whether the group can take more (:func:`share_out`)."""
    while (_group(spec).processes or 1) < spec.processes:
        if not any(v.status == "ok" for v in _group(spec).variants) or not add_process(spec, run_child, name):
            finalise(spec)
            return False
    finalise(spec)
    return any(v.status == "ok" for v in _group(spec).variants)


def share_out(groups: list[tuple[GroupSpec, str]], run_child: Callable[[GroupSpec], Ended]) -> None:
    """The job's timing budget (the sum of its groups' ``max_group_s``) shared out where a verdict is
    still open, not equally: after every group has had its ``processes``, one more process at a time
    goes to the group furthest from decided (:func:`openness`), up to its ``max_processes``, until
    every group is decided within its target or the budget is spent. Each addition is one line."""
    budget = sum(spec.max_group_s for spec, _ in groups)
    alive = [(spec, name) for spec, name in groups if spec.group_path.is_file()]
    while alive:
        spent = sum(sum(_group(spec).timing_s or []) for spec, _ in groups if spec.group_path.is_file())
        if spent >= budget:
            break
        scored = [(openness(spec), spec, name) for spec, name in alive
                  if (_group(spec).processes or 1) < spec.max_processes]
        scored = [s for s in scored if s[0][0] > 0]
        if not scored:
            break
        (_, what), spec, name = max(scored, key=lambda s: s[0][0])
        print(f"jetprof profile: group {name}: one more process ({what}; {spent:.0f} of {budget:.0f} s "
              "of timing spent)", file=sys.stderr)
        if not add_process(spec, run_child, name):
            alive = [(s, n) for s, n in alive if s is not spec]


def _ended(result: Ended) -> str:
    tail = " | ".join(line for line in str(result.stderr).strip().splitlines()[-2:] if line.strip())
    return f"ended with status {result.status}" + (f" ({tail[:300]})" if tail else "")
