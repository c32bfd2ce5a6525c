"""``jetprof node``: a full node, N measuring processes x T threads each (issue 23, part 2).

How a reconstruction job runs a tagger: one inference thread per process (CMSSW's ONNX
Runtime wrapper sets intra-op threads to 1), many processes per node, each in a slot of
about 2 GB per core. For each plan ``PxT`` of ``--plan`` this command starts P fresh
measuring processes, each with T torch threads (intra-op; inter-op 1), that build the same
model and rung, take their own slice of the real jets (process i: jets i*B to (i+1)*B of the
jets taken in turn from the files, B the batch size), warm up, and wait at a barrier. Released
together, each calls its forward for ``--duration-s`` seconds (or ``--calls`` calls), noting
each call's start and end on the system's monotonic clock, which all processes share.

What the plan's record says (:class:`jetprof.node_record.NodeRecord`):

- the **common window**: from the last process's first timed call to the first process's
  last end, when every process was running; ``jets_per_s`` is the sum over processes of the
  jets done inside it (a call straddling an edge counts for the fraction inside) divided by
  its length, and ``jets_per_s_per_core`` that over P x T;
- each process's **peak RSS of the whole process** (``VmHWM`` of ``/proc/self/status``, where
  there is one, else ``getrusage``'s ``ru_maxrss``): the interpreter, torch, weaver, the model
  and every buffer, what a batch system's memory limit sees; ``fits_slot`` says whether the
  largest is within ``--memory-per-core-gb`` x T.

The processes are spawned, each a fresh interpreter as a batch job's would be, not forked from
a warm parent as the profile's CPU groups are: a forked child counts only the pages of the
parent's libraries it touches itself, so its peak RSS reads about 135 MiB lower for ParT
(462 against 597 MiB here) than the same process started on its own, which is what a slot's
memory limit sees. ``--process fork`` (Linux, CPU) is there for quick runs, its records saying
so (``process_mode``). A plan of more than the machine's cores is refused in one line before
any process starts. Plans run one after the other, never overlapping.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import queue
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from multiprocessing.context import ForkContext, SpawnContext
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from pathlib import Path

from jetprof.config import study_defaults
from jetprof.contract import ONNX_BACKENDS, split_pair
from jetprof.errors import JetprofError
from jetprof.io import atomic_write_text
from jetprof.node_record import (
    NODE_KIND,
    NodeProcess,
    NodeRecord,
    Plan,
    available_cores,
    node_path,
    parse_plan,
    plan_problem,
)
from jetprof.records import JSON, validate_document

_NODE = study_defaults()["node"]
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS")
#: seconds a plan's processes may take to build, warm up and reach the barrier
START_TIMEOUT_S = 600.0


@dataclass(frozen=True)
class NodeJob:
    """What every process of a plan is given (it travels to a spawned process as its argument)."""

    model: str
    weights: str
    network_config: str
    data_config: str
    checkpoint: str | None
    backend: str
    precision: str
    device: str
    batch_size: int
    duration_s: float
    calls: int
    warmup: int
    data: tuple[str, ...]
    seed: int = 0


@dataclass
class ChildReport:
    """What one measuring process sends back: its timed calls on the shared monotonic clock,
    its CPU time and whole-process peak RSS; ``error`` where it failed (the parent says so)."""

    index: int
    pid: int = 0
    starts: list[float] = field(default_factory=list)
    ends: list[float] = field(default_factory=list)
    latency_ms_p50: float = 0.0
    cpu_s: float = 0.0
    rss: int = 0
    rss_method: str = ""
    particles_mean: float = 0.0
    warmup_calls: int = 0
    env: JSON | None = None
    error: str | None = None
    trace: str = ""


# --------------------------------------------------------------------------- in the child


def rss_peak() -> tuple[int, str]:
    """(peak resident bytes of this whole process, how it was read)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024, "proc_status_vmhwm"
    except OSError:
        pass
    import resource

    raw = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return (raw if sys.platform == "darwin" else raw * 1024), "getrusage_ru_maxrss"


def _runner(job: NodeJob, index: int, processes: int, threads: int,
            workdir: str) -> tuple[Callable[[], object], float, int]:
    """(no-argument forward on this process's jets, their mean particle count, model warm-up calls)."""
    import numpy as np
    import torch

    from jetprof.model import inputs
    from jetprof.model.build import build_model, load_weights
    from jetprof.profiling import backends
    from jetprof.profiling.measure import model_warmup_calls
    from jetprof.profiling.record import blank_record
    from jetprof.profiling.spec import GroupSpec, VariantSpec
    from jetprof.registry import BACKENDS

    torch.manual_seed(job.seed)
    np.random.seed(job.seed)
    onnx = job.backend in ONNX_BACKENDS
    built = build_model(job.network_config, job.data_config, for_inference=onnx)
    if job.checkpoint:
        load_weights(built, job.checkpoint)
    model = built.model.eval().requires_grad_(False)
    files = inputs.expand_data_glob(list(job.data))
    whole = inputs.real_batch(files, built.data_config, job.batch_size * processes)
    part = slice(index * job.batch_size, (index + 1) * job.batch_size)
    arrays = {k: np.ascontiguousarray(v[part]) for k, v in whole.arrays.items()}
    n_particles = whole.n_particles[part]
    names = built.input_names
    device = torch.device(job.device)
    variant = VariantSpec(job.model, job.weights, job.backend, job.precision, job.network_config,
                          job.data_config, job.checkpoint)
    rec = blank_record(GroupSpec(job.device, "real", job.batch_size, [variant], threads=threads), variant)
    if not onnx:
        tensors = [torch.from_numpy(arrays[n]).to(device) for n in names]
        forward = backends.torch_runner(model, job.backend, job.precision, tensors, device, names, rec)
        return forward, float(n_particles.mean()), model_warmup_calls(model)
    from jetprof.model.export import export_onnx

    backends.check_exported_device(job.backend, device)
    floor = inputs.min_particles(model)
    trim = BACKENDS[job.backend].trims
    fed = inputs.trim_to_longest(arrays, n_particles, floor) if trim else arrays
    example = [torch.from_numpy(arrays[n][:2]) for n in names]
    path = os.path.join(workdir, f"{job.model}-{index}.onnx")
    export_onnx(model, built.model_info, example, path)
    exported = backends.exported_runner(job.backend, job.precision, path, device, threads, fed, trim,
                                        workdir, rec, floor)
    return exported, float(n_particles.mean()), 0


def _child(job: NodeJob, index: int, processes: int, threads: int, barrier: Barrier,
           results: Queue[ChildReport]) -> None:
    """One measuring process: pin threads, build, warm up, wait for the others, time, report."""
    os.environ.update(dict.fromkeys(THREAD_VARIABLES, str(threads)))
    import tempfile

    import numpy as np
    import torch

    torch.set_num_threads(threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass  # the inter-op pool already started
    try:
        with tempfile.TemporaryDirectory(prefix="jetprof-node-") as workdir:
            forward, particles_mean, own = _runner(job, index, processes, threads, workdir)
            for _ in range(own + job.warmup):
                forward()
            barrier.wait(timeout=START_TIMEOUT_S)
            starts, ends = [], []
            cpu0, t0 = time.process_time(), time.monotonic()
            while True:
                s = time.monotonic()
                forward()
                e = time.monotonic()
                starts.append(s)
                ends.append(e)
                if (job.calls and len(ends) >= job.calls) or (not job.calls and e - t0 >= job.duration_s):
                    break
            cpu = time.process_time() - cpu0
        rss, method = rss_peak()
        env = None
        if index == 0:  # where the processes ran, read in one of them (the parent runs no torch op)
            from jetprof.contract import ENV_CONFIG_HASH
            from jetprof.profiling.env import environment

            env = environment(job.device, os.environ.get(ENV_CONFIG_HASH))
        wall = np.diff(np.column_stack([starts, ends]), axis=1).ravel() * 1e3
        results.put(ChildReport(index, os.getpid(), starts, ends, float(np.median(wall)), cpu, rss, method,
                                particles_mean, own + job.warmup, env))
    except BaseException as exc:  # the parent reports it in one line
        barrier.abort()
        line = (str(exc).strip().splitlines() or [""])[0][:300]
        trace = "" if isinstance(exc, JetprofError) else traceback.format_exc()[-2000:]  # a bug's, for the log
        results.put(ChildReport(index, error=line if isinstance(exc, JetprofError) else f"{type(exc).__name__}: {line}",
                                trace=trace))


# --------------------------------------------------------------------------- in the parent


def window_jets(starts: list[float], ends: list[float], lo: float, hi: float, batch: int) -> float:
    """Jets done inside [lo, hi]: each call's batch times the fraction of it inside the window."""
    done = 0.0
    for s, e in zip(starts, ends):
        inside = min(e, hi) - max(s, lo)
        if inside > 0:
            done += batch * inside / (e - s) if e > s else batch
    return done


def node_record(job: NodeJob, plan: Plan, outs: list[ChildReport], mode: str, memory_per_core_gb: float,
                env: JSON, started: str, elapsed: float, cores: int, jets_source: str,
                distinct: int) -> NodeRecord:
    """The plan's record from its processes' reports."""
    lo = max(o.starts[0] for o in outs)
    hi = min(o.ends[-1] for o in outs)
    if hi <= lo:
        raise JetprofError(f"plan {plan.name}: the processes' timed calls did not overlap (a process finished "
                           "before another started): raise node.duration_s")
    window = hi - lo
    per = []
    for o in sorted(outs, key=lambda o: o.index):
        jets = window_jets(o.starts, o.ends, lo, hi, job.batch_size)
        per.append(NodeProcess(index=o.index, pid=o.pid, calls=len(o.ends), jets_in_window=round(jets, 3),
                               jets_per_s=jets / window, latency_ms_p50=o.latency_ms_p50, cpu_s=o.cpu_s,
                               wall_s=o.ends[-1] - o.starts[0], rss_peak_bytes=int(o.rss),
                               particles_mean=o.particles_mean, first_jet=o.index * job.batch_size))
    total = sum(p.jets_in_window for p in per) / window
    rss = max(p.rss_peak_bytes for p in per)
    slot = int(memory_per_core_gb * plan.threads * 1e9)
    return NodeRecord(
        model=job.model, weights=job.weights, device=job.device, backend=job.backend, precision=job.precision,
        batch_size=job.batch_size, processes=plan.processes, threads=plan.threads, cores=plan.cores,
        cores_available=cores, process_mode=mode, duration_s=float(job.duration_s), calls_target=job.calls,
        warmup_calls=outs[0].warmup_calls, window_s=window, jets_per_s=total,
        jets_per_s_per_core=total / plan.cores, rss_peak_bytes=rss, rss_method=outs[0].rss_method,
        memory_per_core_gb=float(memory_per_core_gb), slot_bytes=slot, fits_slot=rss <= slot,
        jets_source=jets_source, distinct_jets=distinct, per_process=per, env=env, started_utc=started,
        elapsed_s=round(elapsed, 3))


def run_plan(job: NodeJob, plan: Plan, mode: str) -> list[ChildReport]:
    """Start the plan's processes together, wait for them, and return their reports."""
    ctx = mp.get_context(mode)
    if not isinstance(ctx, (ForkContext, SpawnContext)):  # pragma: no cover - get_context's own
        raise JetprofError(f"--process {mode}: not a fork or spawn context here")
    barrier = ctx.Barrier(plan.processes)
    results: Queue[ChildReport] = ctx.Queue()
    saved = {k: os.environ.get(k) for k in THREAD_VARIABLES}
    os.environ.update(dict.fromkeys(THREAD_VARIABLES, str(plan.threads)))  # a spawned child's torch reads them
    try:
        procs = [ctx.Process(target=_child, args=(job, i, plan.processes, plan.threads, barrier, results),
                             daemon=True) for i in range(plan.processes)]
        for p in procs:
            p.start()
        outs: list[ChildReport] = []
        deadline = time.monotonic() + START_TIMEOUT_S + 10 * (job.duration_s + 60)
        while len(outs) < plan.processes:
            try:  # a report, else every second: has a process died without one (a crash, a kill)?
                outs.append(results.get(timeout=1.0))
            except queue.Empty:
                dead = [p.exitcode for p in procs if p.exitcode not in (None, 0)]
                if dead or time.monotonic() > deadline:
                    for p in procs:
                        p.kill()
                    why = f"exit status {dead[0]}" if dead else "timed out"
                    raise JetprofError(f"plan {plan.name}: a measuring process died ({why})") from None
        for p in procs:
            p.join(timeout=60)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    failed = [o for o in outs if o.error is not None]
    if failed:  # the first cause, not a process that only saw the barrier broken
        first = min(failed, key=lambda o: 1 if "BrokenBarrier" in str(o.error) else 0)
        if first.trace:
            print(first.trace, file=sys.stderr)
        raise JetprofError(f"plan {plan.name}: process {first.index}: {first.error}")
    return outs


def _mode(requested: str) -> str:
    """``spawn`` unless ``fork`` was asked for where forking a warm parent is safe (see the docstring)."""
    import platform

    if requested != "fork":
        return "spawn"
    if platform.system() != "Linux" or "torch" in sys.modules:
        raise JetprofError("--process fork: only on Linux, from a parent that has not imported torch; use spawn")
    return "fork"


def _warm_parent(job: NodeJob) -> None:
    """Import once what every forked process needs; no torch operation runs here."""
    import torch  # noqa: F401
    import uproot  # noqa: F401

    from jetprof.model import inputs
    from jetprof.model.build import import_network_config, load_data_config
    from jetprof.profiling import backends, measure, record  # noqa: F401

    import_network_config(job.network_config)
    inputs.synthetic_batch(load_data_config(job.data_config), 1, 1, seed=0)
    if job.backend in ONNX_BACKENDS:
        import onnxruntime  # noqa: F401

        from jetprof.model import export  # noqa: F401


def _jets_source(job: NodeJob, processes: int) -> tuple[str, int]:
    from jetprof.model.inputs import expand_data_glob

    files = expand_data_glob(list(job.data))
    if not files:
        raise JetprofError(f"--data {' '.join(job.data)}: no such files")
    return (f"{processes} x {job.batch_size} jets taken in turn from {len(files)} file(s) "
            f"({os.path.dirname(files[0])}), process i the i-th {job.batch_size}"), job.batch_size * processes


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help="model name in the records")
    parser.add_argument("--weights", default="random", choices=("random", "trained", "pretrained"),
                        help="the weight state the record names (its weights come from --checkpoint)")
    parser.add_argument("--network-config", required=True, help="weaver network config")
    parser.add_argument("--data-config", required=True, help="weaver data config")
    parser.add_argument("--checkpoint", help="state dict (none: random weights)")
    parser.add_argument("--backend", default=_NODE["backends"][0], help="backend-precision pair, e.g. eager-fp32")
    parser.add_argument("--device", default="cpu", choices=("cpu",), help="the node's processes run on CPU")
    parser.add_argument("--plan", action="append", required=True, help="PROCESSESxTHREADS (repeat for more)")
    parser.add_argument("--batch-size", type=int, default=_NODE["batch_size"], help="jets per call (node.batch_size)")
    parser.add_argument("--duration-s", type=float, default=float(_NODE["duration_s"]),
                        help="seconds each process is timed (node.duration_s)")
    parser.add_argument("--calls", type=int, default=_NODE["calls"], help="timed calls instead of a duration")
    parser.add_argument("--warmup", type=int, default=_NODE["warmup"],
                        help="untimed calls after the model's own warm-up (node.warmup)")
    parser.add_argument("--memory-per-core-gb", type=float, default=float(_NODE["memory_per_core_gb"]),
                        help="a slot's memory per core (node.memory_per_core_gb)")
    parser.add_argument("--data", nargs="+", required=True, help="ROOT files (globs) of real jets")
    parser.add_argument("--process", default="spawn", choices=("fork", "spawn"),
                        help="spawn (default): each process a fresh interpreter, its whole RSS counted; "
                             "fork: from this warm parent (quicker; library pages never touched are not counted)")
    parser.add_argument("--out", default="results", help="results folder (records under node/)")


def run(args: argparse.Namespace) -> int:
    plans = [parse_plan(p) for p in args.plan]
    cores = available_cores()
    for plan in plans:  # every plan checked before any process starts
        problem = plan_problem(plan, cores, "--plan")
        if problem:
            raise JetprofError(problem)
    if args.batch_size < 1 or args.duration_s <= 0 or args.calls < 0:
        raise JetprofError("--batch-size must be >= 1, --duration-s > 0, --calls >= 0")
    try:
        backend, precision = split_pair(args.backend)
    except ValueError as exc:
        raise JetprofError(f"--backend {args.backend}: {exc}") from None
    job = NodeJob(args.model, args.weights, args.network_config, args.data_config, args.checkpoint, backend,
                  precision, args.device, args.batch_size, args.duration_s, args.calls, args.warmup,
                  tuple(args.data))
    for path in (job.network_config, job.data_config, *([job.checkpoint] if job.checkpoint else [])):
        if not os.path.isfile(path):
            raise JetprofError(f"{path}: no such file")
    mode = _mode(args.process)
    if mode == "fork":
        _warm_parent(job)
    for plan in plans:
        started = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        t0 = time.perf_counter()
        source, distinct = _jets_source(job, plan.processes)
        outs = run_plan(job, plan, mode)
        env = next(o.env for o in outs if o.index == 0) or {}
        rec = node_record(job, plan, outs, mode, args.memory_per_core_gb, env, started,
                          time.perf_counter() - t0, cores, source, distinct)
        path = node_path(job.model, job.device, backend, precision, plan, root=args.out)
        doc = rec.to_json()
        validate_document(NODE_KIND, doc, path)
        atomic_write_text(path, json.dumps(doc, indent=1) + "\n")
        print(f"jetprof node: {job.model} {args.backend} {plan.name}: {rec.jets_per_s:.1f} jets/s, "
              f"{rec.jets_per_s_per_core:.1f} per core, peak RSS {rec.rss_peak_bytes / 2**20:.0f} MiB "
              f"({'fits' if rec.fits_slot else 'exceeds'} a {rec.slot_bytes / 1e9:g} GB slot) -> {path}")
    return 0

