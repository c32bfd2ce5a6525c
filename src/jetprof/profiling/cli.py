"""``jetprof profile``: one isolated child process per batch size, one record each.

Examples::

    jetprof profile --device cpu --weights random --backend eager --precision fp32 \\
        --batch-sizes 1,8,32 --particles 128 --threads 1 --out results/profile/ParT_full/random/cpu/eager-fp32/p128
    jetprof profile --peak --device cpu --out results/profile/peak/cpu.json

Bad input (missing device or checkpoint, fp16 on CPU, ...) fails before any
work with one line. A point that runs out of memory or whose child crashes
gets a record with ``status`` ``oom``/``error`` and the sweep goes on.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from jetprof.errors import JetprofError
from jetprof.model import DEFAULT_DATA_CONFIG, DEFAULT_NETWORK_CONFIG
from jetprof.profiling.point import BACKENDS, PRECISIONS, WEIGHTS, Point

TRIMMER_WARMUP = 5  # weaver's SequenceTrimmer leaves its first 5 calls untrimmed


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", required=True, help="cpu, cuda, cuda:N or mps")
    parser.add_argument("--out", required=True, help="output folder (bs{N}.json per batch size); with --peak: a JSON file")
    parser.add_argument("--peak", action="store_true", help="measure the device's matmul FLOP/s ceiling instead")
    parser.add_argument("--batch-sizes", default="1,8,32", help="comma-separated, e.g. 1,8,32")
    parser.add_argument("--weights", choices=WEIGHTS, default="random")
    parser.add_argument("--checkpoint", help="state dict for --weights trained|pretrained")
    parser.add_argument("--backend", choices=BACKENDS, default="eager")
    parser.add_argument("--precision", choices=PRECISIONS, default="fp32")
    parser.add_argument("--particles", default="real", help="'real' (jets from --data) or N (synthetic jets of N particles)")
    parser.add_argument("--data", action="append", default=[], help="ROOT file glob for --particles real (repeatable)")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads (intra-op); interop is 1")
    parser.add_argument("--warmup", type=int, default=6, help=f"warm-up calls (> {TRIMMER_WARMUP}, ParT's trimmer warm-up)")
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


def build_points(args: argparse.Namespace) -> list[Point]:
    """Check every option up front (no work yet) and make one Point per batch size."""
    from jetprof.profiling.inputs import expand_data_glob

    sizes = parse_batch_sizes(args.batch_sizes)
    if args.warmup <= TRIMMER_WARMUP:
        raise JetprofError(f"--warmup {args.warmup}: must be at least {TRIMMER_WARMUP + 1} "
                           f"(ParT's SequenceTrimmer does not trim its first {TRIMMER_WARMUP} calls)")
    if args.repeats < 1:
        raise JetprofError(f"--repeats {args.repeats}: must be at least 1")
    if args.threads < 1:
        raise JetprofError(f"--threads {args.threads}: must be at least 1")
    if args.weights in ("trained", "pretrained") and not args.checkpoint:
        raise JetprofError(f"--weights {args.weights} needs --checkpoint PATH")
    if args.weights == "random" and args.checkpoint:
        raise JetprofError("--weights random takes no --checkpoint (use --weights trained|pretrained)")
    if args.particles == "real":
        particles: int | str = "real"
        if not args.data:
            raise JetprofError("--particles real needs --data GLOB (ROOT files, e.g. 'results/dataset/val/*.root')")
        data = expand_data_glob(args.data)
    else:
        try:
            particles = int(args.particles)
        except ValueError:
            raise JetprofError(f"--particles {args.particles!r}: 'real' or an integer") from None
        if not 1 <= particles <= 128:
            raise JetprofError(f"--particles {particles}: must be between 1 and 128")
        data = []
    device = check_device(args.device)
    if args.precision == "fp16" and device == "cpu":
        raise JetprofError("--precision fp16: autocast fp16 runs on cuda only (use bf16 on cpu)")
    if args.backend == "onnxruntime" and args.precision != "fp32":
        raise JetprofError(f"--backend onnxruntime --precision {args.precision}: the ONNX export is fp32 only")
    for opt in ("network_config", "data_config"):
        if not Path(getattr(args, opt)).is_file():
            raise JetprofError(f"{getattr(args, opt)}: --{opt.replace('_', '-')} not found")
    if args.checkpoint:
        _check_checkpoint(args)
    return [
        Point(device=device, batch_size=bs, weights=args.weights, backend=args.backend,
              precision=args.precision, particles=particles, out_dir=str(args.out),
              checkpoint=args.checkpoint, data=data, threads=args.threads, warmup=args.warmup,
              repeats=args.repeats, min_time_s=args.min_time_s, profiler_pass=not args.no_profiler_pass,
              profiler_calls=args.profiler_calls, model_name=args.model_name,
              network_config=str(Path(args.network_config).resolve()),
              data_config=str(Path(args.data_config).resolve()), seed=args.seed,
              config_hash=args.config_hash)
        for bs in sizes
    ]


def _check_checkpoint(args: argparse.Namespace) -> None:
    from jetprof.model import build_model, check_state_fits, read_state_dict

    state = read_state_dict(args.checkpoint)
    built = build_model(args.network_config, args.data_config)
    check_state_fits(built.model, state, args.checkpoint)


def child_command(point_file: str) -> list[str]:
    return [sys.executable, "-m", "jetprof.profiling.child", point_file]


def run_point(point: Point, timeout_s: float | None = None) -> dict:
    """Run one point in a fresh child process; write an error record if it died."""
    from jetprof.profiling.child import pin_threads  # noqa: F401 - same variables set below

    out = Path(point.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    stem = f"bs{point.batch_size}"
    for old in (f"{stem}.json", f"{stem}.ops.csv", f"{stem}.trace.json.gz"):
        (out / old).unlink(missing_ok=True)
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
        env[var] = str(point.threads)
    src = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = src + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    started = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    t0 = time.perf_counter()
    with tempfile.NamedTemporaryFile("w", suffix=".point.json", delete=False) as f:
        f.write(point.to_json())
    try:
        proc = subprocess.run(child_command(f.name), env=env, capture_output=True, text=True,
                              timeout=timeout_s)
        rc, stderr = proc.returncode, proc.stderr
    except subprocess.TimeoutExpired as exc:
        rc, stderr = None, (exc.stderr or b"").decode(errors="replace") if isinstance(exc.stderr, bytes) else (exc.stderr or "")
    finally:
        os.unlink(f.name)
    record_path = point.record_path
    if rc == 0 and record_path.is_file():
        return json.loads(record_path.read_text())
    if rc is None:
        why = f"child timed out after {timeout_s} s"
    elif rc < 0:
        why = f"child process killed by {signal.Signals(-rc).name} (crash, or killed for memory)"
    else:
        why = f"child process exited with status {rc}"
    tail = " | ".join(line for line in stderr.strip().splitlines()[-3:] if line.strip())
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
    failed = 0
    for point in points:
        rec = run_point(point, args.timeout_s)
        failed += rec["status"] != "ok"
        print(f"jetprof profile: {point.device} {point.backend}-{point.precision} "
              f"p{point.particles} {_summary(rec)}", file=sys.stderr)
    if failed:
        print(f"jetprof profile: {failed} of {len(points)} point(s) not ok (recorded)", file=sys.stderr)
    return 0


def run_peak(args: argparse.Namespace) -> int:
    from jetprof.profiling.peak import measure_peak
    from jetprof.profiling.record import atomic_write_text

    if args.threads < 1:
        raise JetprofError(f"--threads {args.threads}: must be at least 1")
    device = check_device(args.device)
    rec = measure_peak(device, args.threads, args.config_hash)
    atomic_write_text(args.out, json.dumps(rec, indent=1) + "\n")
    print(f"jetprof profile --peak: {device} fp32 {rec['matmul_flops_per_s'] / 1e9:.1f} GFLOP/s "
          f"(n={rec['matrix_size']})", file=sys.stderr)
    return 0
