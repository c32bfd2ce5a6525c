"""``jetprof profile``: one isolated child process per point, one record each.

A sweep is the product of ``--particles`` and ``--batch-sizes``. Examples::

    jetprof profile --device cpu --weights random --backend eager --precision fp32 \\
        --batch-sizes 1,8,32 --particles 128 --threads 1 --out results/profile/ParT_full/random/cpu/eager-fp32/p128
    jetprof profile --device cpu --weights random --particles 16,32,64,128 --batch-sizes 8 \\
        --out 'results/profile/ParT_full/random/cpu/eager-fp32/p{particles}'
    jetprof profile --peak --device cpu --out results/profile/peak/cpu.json

On CPU the sweep's parent pins the thread counts, imports torch and weaver's
model code once and forks a fresh child per point (``--process fork``), so a
point costs its measurement, not another 4 s of imports; CUDA and MPS points
are spawned as new interpreters (``--process spawn``), which never inherit a
device context. See :mod:`jetprof.profiling.child`.

Bad input (missing device or checkpoint, fp16 on CPU, a checkpoint that does
not fit the model, ...) fails with one line and writes nothing. A point that
runs out of memory or whose child crashes gets a record with ``status``
``oom``/``error`` and the sweep goes on.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from datetime import datetime, timezone
from pathlib import Path

from jetprof.errors import BadInputError, JetprofError
from jetprof.contract import DEFAULT_DATA_CONFIG, DEFAULT_NETWORK_CONFIG
from jetprof.profiling.child import EXIT_BAD_INPUT, THREAD_VARIABLES, pin_threads
from jetprof.profiling.point import BACKENDS, PRECISIONS, WEIGHTS, Point

PROCESSES = ("auto", "fork", "spawn")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", required=True, help="cpu, cuda, cuda:N or mps")
    parser.add_argument("--out", required=True,
                        help="output folder (bs{N}.json per batch size; {particles} is replaced by the "
                             "point's particles); with --peak: a JSON file")
    parser.add_argument("--peak", action="store_true", help="measure the device's matmul FLOP/s ceiling instead")
    parser.add_argument("--batch-sizes", default="1,8,32", help="comma-separated, e.g. 1,8,32")
    parser.add_argument("--weights", choices=WEIGHTS, default="random")
    parser.add_argument("--checkpoint", help="state dict for --weights trained|pretrained")
    parser.add_argument("--backend", choices=BACKENDS, default="eager")
    parser.add_argument("--precision", choices=PRECISIONS, default="fp32")
    parser.add_argument("--particles", default="real",
                        help="'real' (jets from --data), N (synthetic jets of N particles) or a comma list "
                             "(e.g. real,16,64; then --out must contain {particles})")
    parser.add_argument("--data", action="append", default=[], help="ROOT file glob for --particles real (repeatable)")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads (intra-op); interop is 1")
    parser.add_argument("--warmup", type=int, default=1,
                        help="untimed calls in the steady state before timing; they follow the model's own "
                             "warm-up calls (ParT's SequenceTrimmer leaves its first 5 untrimmed), which always run")
    parser.add_argument("--repeats", type=int, default=20, help="timed calls (at least)")
    parser.add_argument("--min-time-s", type=float, default=0.0, help="keep timing until this many seconds passed")
    parser.add_argument("--no-profiler-pass", action="store_true", help="skip the per-op table and trace")
    parser.add_argument("--profiler-calls", type=int, default=2, help="forwards in the profiler pass")
    parser.add_argument("--model-name", default="ParT_full")
    parser.add_argument("--network-config", default=str(DEFAULT_NETWORK_CONFIG))
    parser.add_argument("--data-config", default=str(DEFAULT_DATA_CONFIG))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--config-hash", default=None)
    parser.add_argument("--timeout-s", type=float, default=None, help="kill a point's child after this many seconds")
    parser.add_argument("--process", choices=PROCESSES, default="auto",
                        help="how each point's fresh process is made: fork from this warm parent (CPU), "
                             "spawn a new interpreter, or auto (fork on CPU, spawn on CUDA/MPS)")


def parse_batch_sizes(text: str) -> list[int]:
    """'1,8,32' → [1, 8, 32]; JetprofError for non-integers or sizes ≤ 0."""
    try:
        sizes = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise JetprofError(f"--batch-sizes {text!r}: not a comma-separated list of integers") from None
    if not sizes or any(s <= 0 for s in sizes):
        raise JetprofError(f"--batch-sizes {text!r}: batch sizes must be positive integers")
    return sizes


def check_device(device: str) -> str:
    """Normalise and check the device exists here (cuda → cuda:0)."""
    if device == "cpu":
        return device  # no torch import: the parent process stays light
    import torch

    if device == "mps":
        if not (hasattr(torch.backends, "mps") and torch.backends.mps.is_available()):
            raise JetprofError("--device mps: MPS is not available on this machine")
        return device
    if device == "cuda" or device.startswith("cuda:"):
        index = 0 if device == "cuda" else device.split(":", 1)[1]
        try:
            index = int(index)
        except ValueError:
            raise JetprofError(f"--device {device}: not a CUDA device name (cuda or cuda:N)") from None
        if not torch.cuda.is_available():
            raise JetprofError(f"--device {device}: no CUDA device on this machine (torch {torch.__version__})")
        if index >= torch.cuda.device_count():
            raise JetprofError(f"--device {device}: only {torch.cuda.device_count()} CUDA device(s) here")
        return f"cuda:{index}"
    raise JetprofError(f"--device {device}: unknown device (cpu, cuda, cuda:N or mps)")


def parse_particles(text: str) -> list[int | str]:
    """'real,16,64' → ['real', 16, 64]; JetprofError for anything else."""
    values: list[int | str] = []
    for item in (x.strip() for x in text.split(",")):
        if not item:
            continue
        if item == "real":
            values.append("real")
            continue
        try:
            n = int(item)
        except ValueError:
            raise JetprofError(f"--particles {item!r}: 'real' or an integer") from None
        if not 1 <= n <= 128:
            raise JetprofError(f"--particles {n}: must be between 1 and 128")
        values.append(n)
    if not values:
        raise JetprofError(f"--particles {text!r}: give 'real', N or a comma list of them")
    return list(dict.fromkeys(values))


def build_points(args: argparse.Namespace) -> list[Point]:
    """Check every option up front (no work yet) and make one Point per (particles, batch size)."""
    from jetprof.model.inputs import expand_data_glob

    sizes = list(dict.fromkeys(parse_batch_sizes(args.batch_sizes)))
    particles = parse_particles(args.particles)
    if args.warmup < 1:
        raise JetprofError(f"--warmup {args.warmup}: must be at least 1 (the model's own warm-up "
                           "calls, such as ParT's 5 untrimmed ones, run before these)")
    if args.repeats < 1:
        raise JetprofError(f"--repeats {args.repeats}: must be at least 1")
    if args.threads < 1:
        raise JetprofError(f"--threads {args.threads}: must be at least 1")
    if args.weights in ("trained", "pretrained") and not args.checkpoint:
        raise JetprofError(f"--weights {args.weights} needs --checkpoint PATH")
    if args.weights == "random" and args.checkpoint:
        raise JetprofError("--weights random takes no --checkpoint (use --weights trained|pretrained)")
    if args.checkpoint and not Path(args.checkpoint).is_file():
        raise JetprofError(f"{args.checkpoint}: checkpoint not found")
    data: list[str] = []
    if "real" in particles:
        if not args.data:
            raise JetprofError("--particles real needs --data GLOB (ROOT files, e.g. 'results/dataset/val/*.root')")
        data = expand_data_glob(args.data)
    out = str(args.out)
    if len(particles) > 1 and "{particles}" not in out:
        raise JetprofError(f"--out {out}: several --particles values need a {{particles}} placeholder "
                           "in --out (e.g. .../p{particles})")
    device = check_device(args.device)
    if args.precision == "fp16" and device == "cpu":
        raise JetprofError("--precision fp16: autocast fp16 runs on cuda only (use bf16 on cpu)")
    if args.backend == "onnxruntime" and args.precision != "fp32":
        raise JetprofError(f"--backend onnxruntime --precision {args.precision}: the ONNX export is fp32 only")
    for opt in ("network_config", "data_config"):
        if not Path(getattr(args, opt)).is_file():
            raise JetprofError(f"{getattr(args, opt)}: --{opt.replace('_', '-')} not found")
    return [
        Point(device=device, batch_size=bs, weights=args.weights, backend=args.backend,
              precision=args.precision, particles=n, out_dir=out.replace("{particles}", str(n)),
              checkpoint=args.checkpoint, data=data if n == "real" else [], threads=args.threads,
              warmup=args.warmup, repeats=args.repeats, min_time_s=args.min_time_s,
              profiler_pass=not args.no_profiler_pass, profiler_calls=args.profiler_calls,
              model_name=args.model_name, network_config=str(Path(args.network_config).resolve()),
              data_config=str(Path(args.data_config).resolve()), seed=args.seed,
              config_hash=args.config_hash)
        for n, bs in itertools.product(particles, sizes)
    ]


def process_mode(requested: str, device: str) -> str:
    """``fork`` or ``spawn`` for this sweep (see the module docstring)."""
    can_fork = device == "cpu" and hasattr(os, "fork")
    if requested == "spawn" or (requested == "auto" and not can_fork):
        return "spawn"
    if not can_fork:
        raise JetprofError(f"--process fork: only CPU points are forked (--device {device} is spawned)")
    if "torch" in sys.modules:
        # threads can no longer be pinned before torch, and the caller may have run torch ops
        if requested == "fork":
            raise JetprofError("--process fork: torch is already imported in this process; use spawn")
        return "spawn"
    return "fork"


def warm_parent(points: list[Point]) -> None:
    """Import, once, what every forked child needs; no torch operation runs here.

    Called after the thread variables are set. Also compiles weaver's numba input
    padding on one tiny synthetic jet (numpy and numba only), so that no child
    compiles it again.
    """
    import torch  # noqa: F401
    import torch.profiler  # noqa: F401
    import torch.utils.flop_counter  # noqa: F401

    from jetprof.model.build import import_network_config, load_data_config
    from jetprof.model import flops, inputs  # noqa: F401
    from jetprof.profiling import backends, env, measure, memory, record  # noqa: F401

    first = points[0]
    data_config = load_data_config(first.data_config)
    import_network_config(first.network_config)
    inputs.synthetic_batch(data_config, 1, 1, seed=0)
    if any(p.backend == "onnxruntime" for p in points):
        import onnxruntime  # noqa: F401
    if any(p.particles == "real" for p in points):
        import uproot  # noqa: F401


def child_command(point_file: str) -> list[str]:
    return [sys.executable, "-m", "jetprof.profiling.child", point_file]


def _spawn(point: Point, timeout_s: float | None) -> tuple[int | None, str]:
    """Run ``point`` in a new interpreter: (exit status or None on timeout, stderr)."""
    env = {**os.environ, **dict.fromkeys(THREAD_VARIABLES, str(point.threads))}
    src = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = src + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    with tempfile.NamedTemporaryFile("w", suffix=".point.json", delete=False) as f:
        f.write(point.to_json())
    try:
        proc = subprocess.run(child_command(f.name), env=env, capture_output=True, text=True,
                              timeout=timeout_s)
        return proc.returncode, proc.stderr
    except subprocess.TimeoutExpired as exc:
        err = exc.stderr or ""
        return None, err.decode(errors="replace") if isinstance(err, bytes) else err
    finally:
        os.unlink(f.name)


def _fork(point: Point, timeout_s: float | None) -> tuple[int | None, str]:
    """Run ``point`` in a child forked from this (warm) process: (exit status or None, stderr)."""
    from jetprof.profiling.child import measure_here

    with tempfile.TemporaryFile("w+") as err:
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:  # the child: measure, then leave without running the parent's exit handlers
            code = 1
            try:
                os.dup2(err.fileno(), 2)
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, 1)
                signal.signal(signal.SIGINT, signal.SIG_DFL)
                code = measure_here(point)
            except BaseException:  # noqa: BLE001 - reported through stderr and the exit status
                traceback.print_exc()
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        status: int | None = None
        try:
            while True:
                done, raw = os.waitpid(pid, os.WNOHANG)
                if done:
                    status = os.waitstatus_to_exitcode(raw)
                    break
                if deadline is not None and time.monotonic() > deadline:
                    os.kill(pid, signal.SIGKILL)
                    os.waitpid(pid, 0)
                    break
                time.sleep(0.01)
        except BaseException:
            try:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            except (ProcessLookupError, ChildProcessError):
                pass
            raise
        err.seek(0)
        return status, err.read()


def run_point(point: Point, timeout_s: float | None = None) -> dict:
    """Run one point in a fresh process (``point.process``); write an error record if it died.

    Raises:
        BadInputError: the child found that no point can be measured with this input
            (child.EXIT_BAD_INPUT); the sweep stops with its one line.
    """
    started = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    t0 = time.perf_counter()
    rc, stderr = (_fork if point.process == "fork" else _spawn)(point, timeout_s)
    record_path = point.record_path
    if rc == EXIT_BAD_INPUT:
        lines = [line for line in stderr.strip().splitlines() if line.strip()]
        raise BadInputError(lines[-1] if lines else "the measuring process refused the input")
    if rc == 0 and record_path.is_file():
        return json.loads(record_path.read_text())
    if rc is None:
        why = f"child timed out after {timeout_s} s"
    elif rc < 0:
        why = f"child process killed by {signal.Signals(-rc).name} (crash, or killed for memory)"
    else:
        why = f"child process exited with status {rc}"
    tail = " | ".join(line for line in stderr.strip().splitlines()[-3:] if line.strip())
    from jetprof.profiling.measure import clear_outputs

    clear_outputs(point)
    return write_failure_record(point, "error", why + (f"; stderr: {tail[:400]}" if tail else ""),
                                started, time.perf_counter() - t0)


def write_failure_record(point: Point, status: str, message: str, started: str, duration: float) -> dict:
    """A record for a point whose child could not write one itself."""
    from jetprof.profiling.env import environment
    from jetprof.profiling.record import blank_record, write_record

    rec = blank_record(point)
    rec.update(status=status, error=message, started_utc=started, duration_s=round(duration, 3))
    rec["env"] = environment(point.device, point.config_hash)
    rec["env"]["threads"] = point.threads
    rec["env"]["interop_threads"] = 1
    write_record(rec, point.record_path)
    return rec


def _summary(rec: dict) -> str:
    head = f"bs={rec['batch_size']}: {rec['status']}"
    if rec["status"] == "ok":
        return (f"{head}  p50 {rec['latency_ms_p50']:.3f} ms  {rec['throughput_jets_per_s']:.1f} jets/s  "
                f"padded {rec['particles_padded']}")
    return f"{head}  {rec['error']}"


def run(args: argparse.Namespace) -> int:
    if args.peak:
        return run_peak(args)
    points = build_points(args)
    mode = process_mode(args.process, points[0].device)
    if mode == "fork":
        pin_threads(args.threads)  # before torch is imported, for this process and its children
        warm_parent(points)
    cache_dir = tempfile.mkdtemp(prefix="jetprof-sweep-")
    failed = 0
    try:
        for point in points:
            point.process, point.cache_dir = mode, cache_dir
            rec = run_point(point, args.timeout_s)
            failed += rec["status"] != "ok"
            print(f"jetprof profile: {point.device} {point.backend}-{point.precision} "
                  f"p{point.particles} {_summary(rec)}", file=sys.stderr)
    finally:
        shutil.rmtree(cache_dir, ignore_errors=True)
    if failed:
        print(f"jetprof profile: {failed} of {len(points)} point(s) not ok (recorded)", file=sys.stderr)
    return 0


def run_peak(args: argparse.Namespace) -> int:
    from jetprof.profiling.peak import measure_peak
    from jetprof.io import atomic_write_text

    if args.threads < 1:
        raise JetprofError(f"--threads {args.threads}: must be at least 1")
    device = check_device(args.device)
    rec = measure_peak(device, args.threads, args.config_hash)
    atomic_write_text(args.out, json.dumps(rec, indent=1) + "\n")
    print(f"jetprof profile --peak: {device} fp32 {rec['matmul_flops_per_s'] / 1e9:.1f} GFLOP/s "
          f"(n={rec['matrix_size']})", file=sys.stderr)
    return 0
