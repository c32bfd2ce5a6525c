"""Measure one point inside the child process and write its record (see child.py)."""

from __future__ import annotations

import csv
import gc
import gzip
import hashlib
import io
import json
import os
import resource
import shutil
import signal
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from jetprof.errors import BadInputError, JetprofError
from jetprof.profiling.point import Point
from jetprof.io import atomic_write_text
from jetprof.profiling.record import blank_record, write_record

OPS_COLUMNS = ["name", "calls", "self_cpu_ms", "cpu_total_ms", "self_device_ms", "device_total_ms"]
TOP_OPS = 15


def is_oom(exc: BaseException) -> bool:
    """Out-of-memory on any device: CUDA's OutOfMemoryError, CPU/MPS RuntimeError text, MemoryError."""
    import torch

    if isinstance(exc, (torch.OutOfMemoryError, MemoryError)):
        return True
    text = str(exc).lower()
    return isinstance(exc, RuntimeError) and any(
        s in text for s in ("out of memory", "can't allocate", "cannot allocate", "failed to allocate",
                            "alloc_cpu", "allocate memory")
    )


def _fault(point: Point) -> str | None:
    spec = os.environ.get("JETPROF_TEST_FAULT", "")
    for item in filter(None, spec.split(",")):
        kind, _, rest = item.partition("@")
        bs, _, arg = rest.partition("=")
        if bs and int(bs) == point.batch_size:
            return f"{kind}={arg}" if arg else kind
    return None


def _percentiles(samples: list[float]) -> dict[str, float]:
    a = np.asarray(samples, dtype=float)
    return {"p5": float(np.percentile(a, 5)), "p50": float(np.percentile(a, 50)),
            "p95": float(np.percentile(a, 95)), "mean": float(a.mean())}


def measure_point(point: Point) -> dict[str, Any]:
    """Measure ``point`` and write ``point.record_path``; never raises for a failed measurement."""
    import torch

    rec = blank_record(point)
    rec["started_utc"] = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    t0 = time.perf_counter()
    failure: tuple[str, str] | None = None
    try:
        _measure_into(rec, point)
        rec["status"], rec["error"] = "ok", None
    except BadInputError:
        raise  # no record: the sweep stops with this one line (see child.measure_here)
    except JetprofError as exc:
        failure = ("error", str(exc))
    except BaseException as exc:  # noqa: BLE001 - every failure becomes a record
        if isinstance(exc, KeyboardInterrupt):
            raise
        kind = "oom" if is_oom(exc) else "error"
        msg = (str(exc).strip().splitlines() or [""])[0][:500]
        failure = (kind, f"{type(exc).__name__}: {msg}")
    if failure is not None:
        # recover outside the except block: its traceback no longer pins tensors
        rec["status"], rec["error"] = failure
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    from jetprof.profiling.env import environment

    rec["env"] = environment(point.device, point.config_hash)
    rec["duration_s"] = round(time.perf_counter() - t0, 3)
    write_record(rec, point.record_path)
    return rec


def _measure_into(rec: dict[str, Any], point: Point) -> None:
    import torch

    from jetprof.model.build import build_model, load_weights
    from jetprof.model import inputs
    from jetprof.profiling import backends, memory
    from jetprof.model.flops import FLOPS_METHOD, count_flops_and_output

    torch.set_num_threads(point.threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass  # already set (interop pool started)
    device = torch.device(point.device)
    fault = _fault(point)
    if fault == "crash":
        os.kill(os.getpid(), signal.SIGKILL)
    if fault == "hang":
        time.sleep(3600)

    torch.manual_seed(point.seed)
    np.random.seed(point.seed)
    onnx = point.backend == "onnxruntime"
    try:
        built = build_model(point.network_config, point.data_config, for_inference=onnx)
        if point.checkpoint:
            rec["checkpoint"] = load_weights(built, point.checkpoint)
    except JetprofError as exc:  # every point would fail the same way: stop the sweep
        raise BadInputError(str(exc)) from None
    model = built.model.eval().requires_grad_(False)
    rec["params"] = built.num_params
    rec["process"] = point.process
    clear_outputs(point)  # the model is good: this point's old files go now

    if point.particles == "real":
        batch = inputs.real_batch(point.data, built.data_config, point.batch_size)
    else:
        batch = inputs.synthetic_batch(built.data_config, point.batch_size, int(point.particles), point.seed)
    rec["particles_mean"] = batch.particles_mean
    rec["inputs"] = {**batch.source, "particles_min": int(batch.n_particles.min()),
                     "particles_max": int(batch.n_particles.max()),
                     "shapes": {k: list(v.shape) for k, v in batch.arrays.items()}}
    names = built.input_names
    if fault and fault.startswith("memcap="):
        _cap_address_space(int(fault.split("=")[1]))
    length = int(batch.arrays[names[0]].shape[-1])

    workdir = tempfile.mkdtemp(prefix="jetprof-child-")
    try:
        if onnx:
            backends.check_ort_device(device)
            cpu_tensors = [torch.from_numpy(batch.arrays[n]) for n in names]
            onnx_path, exported = _onnx_file(point, model, built.model_info, cpu_tensors, workdir)
            rec["onnx"] = {"exported_by_this_point": exported}
            forward = backends.OrtRunner(onnx_path, device, point.threads, batch.arrays)
            flops_model, flops_inputs = model, cpu_tensors
        else:
            tensors = [torch.from_numpy(batch.arrays[n]).to(device) for n in names]
            model.to(device)
            run_model = torch.compile(model) if point.backend == "compile" else model
            forward = backends.torch_forward(run_model, tensors, device, point.precision)
            flops_model, flops_inputs = model, tensors

        # the sequence length the model saw: read at the trimmer's output
        seen: list[int] = []
        for mod in model.modules():
            if type(mod).__name__ == "SequenceTrimmer":
                mod.register_forward_hook(lambda _m, _i, out: seen.append(int(out[0].shape[-1])))

        # 1. warm-up: the model's own warm-up calls (ParT's SequenceTrimmer does not
        # trim its first 5), then point.warmup calls in the steady state
        model_warmup = model_warmup_calls(model)
        rec["model_warmup_calls"] = model_warmup
        rec["warmup_calls"] = model_warmup + point.warmup
        for _ in range(rec["warmup_calls"]):
            out = forward()
        backends.synchronize(device)
        warm_out = out if onnx else None  # kept to check ONNX Runtime against eager below
        del out
        rec["particles_padded"] = seen[-1] if seen else length

        # 2. timed repeats (no profiler running)
        wall, cpu = _time(forward, device, point, inject_oom=(fault == "oom"))
        stats = _percentiles(wall)
        rec.update({
            "latency_ms_samples": [round(x, 6) for x in wall], "cpu_ms_samples": [round(x, 6) for x in cpu],
            "latency_ms_p5": stats["p5"], "latency_ms_p50": stats["p50"], "latency_ms_p95": stats["p95"],
            "latency_ms_mean": stats["mean"], "repeats": len(wall),
            "cpu_ms_p50": float(np.median(cpu)),
            "throughput_jets_per_s": point.batch_size / (stats["p50"] / 1e3),
        })
        if device.type == "cpu" and np.median(cpu) > 0:
            rec["wall_over_cpu"] = float(np.median(wall) / np.median(cpu))
            rec["contention_suspect"] = bool(point.threads == 1 and rec["wall_over_cpu"] > 1.05)

        # 3. memory
        if device.type == "cuda" and not onnx:
            rec["peak_memory_bytes"], rec["peak_reserved_bytes"] = memory.cuda_peak_bytes(forward, device)
            rec["memory_method"] = "cuda_max_memory_allocated"
        elif device.type == "mps":
            rec["peak_memory_bytes"], rec["peak_reserved_bytes"] = memory.mps_bytes(forward)
            rec["memory_method"] = "mps_current_allocated"
        elif device.type == "cpu" and not onnx:
            rec["peak_memory_bytes"] = memory.cpu_peak_bytes(forward)
            rec["memory_method"] = "profiler_memory_events"
        else:
            rec["memory_method"] = "not_measured"
            rec["memory_note"] = "ONNX Runtime allocates outside torch: not measured"

        # 4. FLOPs (fp32 count on the eager model, same inputs, after warm-up)
        # large batches: count on FLOPS_JETS jets that include the longest one (same padded length)
        idx = _flops_subset(batch.n_particles)
        sub = [x.index_select(0, torch.as_tensor(idx, device=x.device)) for x in flops_inputs]
        n_seen = len(seen)
        total, sub_out = count_flops_and_output(flops_model, sub)
        if onnx:
            diff = float(np.max(np.abs(np.asarray(warm_out[0])[idx] - sub_out.float().cpu().numpy())))
            rec["onnx"]["max_abs_diff_vs_eager"] = diff
            tolerance = ONNX_TOLERANCE.get(device.type, 1e-4)
            if not diff <= tolerance:
                raise JetprofError(f"ONNX Runtime's output differs from eager by {diff:.3g} "
                                   f"(> {tolerance}): the exported model is not the measured one")
        del warm_out, sub_out
        flops_len = seen[-1] if len(seen) > n_seen else (rec["particles_padded"] if not onnx else length)
        rec["flops_per_jet"] = total / len(idx)
        rec["flops_counted_jets"] = len(idx)
        rec["flops_particles"] = int(flops_len)
        rec["flops_method"] = FLOPS_METHOD
        rec["achieved_flops_per_s"] = rec["flops_per_jet"] * rec["throughput_jets_per_s"]

        # 5. separate profiler pass
        if point.profiler_pass:
            _profiler_pass(rec, point, forward, device, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


FLOPS_JETS = 64
# ONNX Runtime vs eager (fp32, CPU) on the same jets: max |Δ| of the softmax outputs.
# CPU provider: ~1e-7 measured; CUDA provider: its matmuls may run in TF32 (10-bit
# mantissa), so a looser bound there
ONNX_TOLERANCE = {"cpu": 1e-4, "cuda": 1e-2}


def model_warmup_calls(model: Any) -> int:
    """Calls before the model reaches its steady state: the untrimmed warm-up calls
    still left to an enabled SequenceTrimmer (weaver's ``warmup_steps``, 5 for ParT),
    0 for models without one and for the exported (``for_inference``) graph."""
    left = 0
    for mod in model.modules():
        if type(mod).__name__ == "SequenceTrimmer" and getattr(mod, "enabled", False):
            done = int(mod._counter.item()) if hasattr(mod, "_counter") else 0
            left = max(left, int(getattr(mod, "warmup_steps", 0)) - done)
    return left


def clear_outputs(point: Point) -> None:
    """Remove this point's record, per-op table and trace from an earlier run."""
    stem = f"bs{point.batch_size}"
    for old in (f"{stem}.json", f"{stem}.ops.csv", f"{stem}.trace.json.gz"):
        (Path(point.out_dir) / old).unlink(missing_ok=True)


def _onnx_file(point: Point, model: Any, model_info: dict[str, Any], tensors: list[Any],
               workdir: str) -> tuple[str, bool]:
    """The ONNX export of ``model``: (path, exported by this call).

    Every point of one sweep builds the same weights (same seed or checkpoint), so
    the first ONNX Runtime point exports into the sweep's ``cache_dir`` and the
    others reuse that file (a point without one exports into its own ``workdir``). The graph has dynamic batch and particle axes; every
    point checks its outputs against eager on its own jets.
    """
    import torch

    from jetprof.profiling import backends

    # traced on two jets: an export traced on one jet hard-codes a batch of 1 in a reshape
    example = [t[:2] if t.shape[0] >= 2 else torch.cat([t, t]) for t in tensors]
    key = hashlib.sha256(json.dumps([point.weights, point.checkpoint, point.seed, point.network_config,
                                     point.data_config]).encode()).hexdigest()[:16]
    cached = Path(point.cache_dir or workdir) / f"{key}.onnx"
    if cached.is_file():
        return str(cached), False
    tmp = cached.with_name(f".{cached.name}.{os.getpid()}.tmp")
    try:
        backends.export_onnx(model, model_info, example, str(tmp))
        os.replace(tmp, cached)  # whole files only: a child killed mid-export leaves no cache entry
    finally:
        tmp.unlink(missing_ok=True)
    return str(cached), True


def _flops_subset(n_particles: np.ndarray) -> np.ndarray:
    """Indices of at most FLOPS_JETS jets, the longest among them (the trimmer keeps its length)."""
    n = len(n_particles)
    if n <= FLOPS_JETS:
        return np.arange(n)
    idx = np.arange(FLOPS_JETS)
    longest = int(np.argmax(n_particles))
    if longest >= FLOPS_JETS:
        idx[-1] = longest
    return idx


def _cap_address_space(extra_bytes: int) -> None:
    """Test hook: limit this process's address space to its current size + ``extra_bytes``."""
    hard = resource.getrlimit(resource.RLIMIT_AS)[1]
    vm = int(Path("/proc/self/statm").read_text().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    resource.setrlimit(resource.RLIMIT_AS, (vm + extra_bytes, hard))


def _time(forward: Any, device: Any, point: Point, inject_oom: bool) -> tuple[list[float], list[float]]:
    """Per-call wall ms (CUDA events on CUDA) and process CPU ms of the plain forward."""
    import torch

    from jetprof.profiling.backends import synchronize

    wall: list[float] = []
    cpu: list[float] = []
    start_all = time.perf_counter()
    cuda = device.type == "cuda"
    while len(wall) < point.repeats or (time.perf_counter() - start_all) < point.min_time_s:
        if inject_oom:
            raise torch.OutOfMemoryError("injected out-of-memory (JETPROF_TEST_FAULT test hook)")
        if cuda:
            ev0, ev1 = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            c0 = time.process_time()
            ev0.record()
            out = forward()
            ev1.record()
            ev1.synchronize()
            wall.append(float(ev0.elapsed_time(ev1)))
            cpu.append((time.process_time() - c0) * 1e3)
        else:
            c0, w0 = time.process_time(), time.perf_counter()
            out = forward()
            synchronize(device)
            w1, c1 = time.perf_counter(), time.process_time()
            wall.append((w1 - w0) * 1e3)
            cpu.append((c1 - c0) * 1e3)
        del out
    return wall, cpu


def _profiler_pass(rec: dict[str, Any], point: Point, forward: Any, device: Any, workdir: str) -> None:
    """Per-op table (CSV) and trace (gzip) from a short separate profiling pass."""
    import torch

    from jetprof.profiling.backends import OrtRunner, synchronize

    out_dir = Path(point.out_dir)
    stem = f"bs{point.batch_size}"
    calls = max(1, point.profiler_calls)
    if isinstance(forward, OrtRunner):
        rows, trace_src = forward.profile(calls, workdir)
    else:
        acts = [torch.profiler.ProfilerActivity.CPU]
        if device.type == "cuda":
            acts.append(torch.profiler.ProfilerActivity.CUDA)
        with torch.profiler.profile(activities=acts) as prof:
            for _ in range(calls):
                out = forward()
                synchronize(device)
                del out
        trace_src = os.path.join(workdir, "trace.json")
        prof.export_chrome_trace(trace_src)
        rows = []
        for ev in prof.key_averages():
            dev_self = float(getattr(ev, "self_device_time_total", 0.0) or 0.0)
            dev_total = float(getattr(ev, "device_time_total", 0.0) or 0.0)
            rows.append({
                "name": ev.key, "calls": ev.count / calls,
                "self_cpu_ms": ev.self_cpu_time_total / 1e3 / calls,
                "cpu_total_ms": ev.cpu_time_total / 1e3 / calls,
                "self_device_ms": dev_self / 1e3 / calls, "device_total_ms": dev_total / 1e3 / calls,
            })
    key = "self_device_ms" if device.type == "cuda" and not isinstance(forward, OrtRunner) else "self_cpu_ms"
    rows.sort(key=lambda r: r[key], reverse=True)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=OPS_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for r in rows:
        writer.writerow({k: (round(v, 6) if isinstance(v, float) else v) for k, v in r.items()})
    atomic_write_text(out_dir / f"{stem}.ops.csv", buf.getvalue())
    trace_dst = out_dir / f"{stem}.trace.json.gz"
    tmp = out_dir / f".{stem}.trace.json.gz.tmp"
    with open(trace_src, "rb") as src, gzip.open(tmp, "wb", compresslevel=6) as dst:
        shutil.copyfileobj(src, dst)
    os.replace(tmp, trace_dst)
    rec["ops_table"] = f"{stem}.ops.csv"
    rec["trace"] = trace_dst.name
    rec["top_ops"] = [{"name": r["name"], "self_ms": round(r[key], 6), "calls": r["calls"]}
                      for r in rows[:TOP_OPS]]
    rec["profiler"] = {"calls": calls, "sorted_by": key,
                       "tool": "onnxruntime" if isinstance(forward, OrtRunner) else "torch.profiler"}
