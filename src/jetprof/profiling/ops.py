"""The per-op table and trace of a point: a short profiler pass beside the timed rounds.

torch.profiler for eager and compiled variants (on CPU the same run also gives the
memory peak, see :mod:`jetprof.profiling.memory`); ONNX Runtime's own profiler for the
exported graph. Written beside the record: ``bs{N}.ops.csv`` (every op, sorted by self
time) and ``bs{N}.trace.json.gz`` (Chrome/Perfetto trace).
"""

from __future__ import annotations

import csv
import gzip
import io
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from jetprof.io import atomic_write, atomic_write_text
from jetprof.profiling.spec import GroupSpec
from jetprof.records import PointRecord, ProfilerBlock

if TYPE_CHECKING:  # torch stays imported lazily, where the profiler runs
    import torch
    from torch.profiler import profile

    from jetprof.profiling.backends import OpRow

#: a variant of :mod:`jetprof.profiling.measure` (its ``Slot``): measure imports this module, so
#: importing ``Slot`` here, even for the type checker, would make an import cycle
Slot = Any

OPS_COLUMNS = ["name", "calls", "self_cpu_ms", "cpu_total_ms", "self_device_ms", "device_total_ms"]
TOP_OPS = 15


def torch_rows(prof: profile, calls: int) -> list[OpRow]:
    rows: list[OpRow] = []
    for ev in prof.key_averages():
        dev_self = float(getattr(ev, "self_device_time_total", 0.0) or 0.0)
        dev_total = float(getattr(ev, "device_time_total", 0.0) or 0.0)
        rows.append({
            "name": ev.key, "calls": ev.count / calls,
            "self_cpu_ms": ev.self_cpu_time_total / 1e3 / calls,
            "cpu_total_ms": ev.cpu_time_total / 1e3 / calls,
            "self_device_ms": dev_self / 1e3 / calls, "device_total_ms": dev_total / 1e3 / calls,
        })
    return rows


MPS_TOOL = "torch.profiler (CPU-side dispatch only: MPS kernels are not traced)"


def profiler_pass(rec: PointRecord, spec: GroupSpec, slot: Slot, device: torch.device, workdir: str) -> None:
    """Per-op table and trace from a short separate pass (ONNX Runtime: its own profiler)."""
    import torch

    from jetprof.profiling.backends import synchronize

    calls = max(1, spec.profiler_calls)
    if hasattr(slot.forward, "profile"):  # ONNX Runtime, OpenVINO: their own profilers
        rows, trace_src = slot.forward.profile(calls, workdir)
        write_ops(rec, spec, slot, device, rows, calls, lambda path: shutil.copy(trace_src, path),
                   workdir, slot.forward.tool)
        return
    acts = [torch.profiler.ProfilerActivity.CPU]
    if device.type == "cuda":
        acts.append(torch.profiler.ProfilerActivity.CUDA)
    with torch.profiler.profile(activities=acts) as prof:
        for _ in range(calls):
            out = slot.forward()
            synchronize(device)
            del out
    # torch.profiler has no MPS activity: on MPS the table is CPU-side dispatch, and GPU time
    # lands on whichever op waits for it (torch.mps.profiler's signposts are for Instruments only)
    tool = MPS_TOOL if device.type == "mps" else "torch.profiler"
    write_ops(rec, spec, slot, device, torch_rows(prof, calls), calls,
               lambda path: prof.export_chrome_trace(path), workdir, tool)


def write_ops(rec: PointRecord, spec: GroupSpec, slot: Slot, device: torch.device, rows: list[OpRow],
               calls: int, export_trace: Callable[[str], object], workdir: str, tool: str) -> None:
    """Write the per-op CSV and the gzipped trace beside the record; summarise in the record."""
    path = spec.record_path(slot.spec)
    out_dir, stem = path.parent, path.stem
    on_device = device.type == "cuda" and tool == "torch.profiler"
    key: Literal["self_device_ms", "self_cpu_ms"] = "self_device_ms" if on_device else "self_cpu_ms"
    rows.sort(key=lambda r: r[key], reverse=True)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=OPS_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for r in rows:
        writer.writerow({k: (round(v, 6) if isinstance(v, float) else v) for k, v in r.items()})
    atomic_write_text(out_dir / f"{stem}.ops.csv", buf.getvalue())
    trace_src = os.path.join(workdir, f"{stem}.{slot.spec.backend}.trace.json")
    export_trace(trace_src)
    trace_dst = out_dir / f"{stem}.trace.json.gz"

    def gzip_trace(tmp: str) -> None:
        with open(trace_src, "rb") as src, gzip.open(tmp, "wb", compresslevel=6) as dst:
            shutil.copyfileobj(src, dst)

    atomic_write(trace_dst, gzip_trace)  # whole or not at all, mode 0666 less the umask like the record
    rec.ops_table = f"{stem}.ops.csv"
    rec.trace = trace_dst.name
    rec.top_ops = [{"name": r["name"], "self_ms": round(r[key], 6), "calls": r["calls"]}
                      for r in rows[:TOP_OPS]]
    rec.profiler = ProfilerBlock(calls=calls, sorted_by=key, tool=tool)


def write_empty_profile(record: Path) -> None:
    """For a point that was not profiled (it failed): a header-only per-op table and an
    empty trace, so that every point of a profiled study has both files."""
    atomic_write_text(record.with_suffix(".ops.csv"), ",".join(OPS_COLUMNS) + "\n")
    trace = record.with_name(record.stem + ".trace.json.gz")

    def empty_trace(tmp: str) -> None:
        with gzip.open(tmp, "wt", compresslevel=6) as f:
            f.write('{"traceEvents": []}\n')

    atomic_write(trace, empty_trace)
