"""Does forking the measuring process change what is measured, and what does it save?

Usage: python benchmarks/bench_profile_process.py [--rounds 6] [--particles 64] [--batch-sizes 1,8]

Runs the same call (random weights, synthetic jets, eager and ONNX Runtime in one
group, no control) with ``jetprof profile --process fork`` and ``--process spawn``,
the two modes alternating in ABBA order round by round so that both see the same
machine. Prints, per point, the paired ratio fork / spawn of the points' median
latency (median over rounds, 95 % bootstrap CI; 1.00 means the process model does not
change the figure) and of the whole call's wall time. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MODES = ("fork", "spawn")


def sweep(mode: str, args: argparse.Namespace, out: Path) -> float:
    cmd = [sys.executable, "-m", "jetprof.cli", "profile", "--device", "cpu",
           "--backends", "eager-fp32,onnxruntime-fp32", "--no-control",
           "--particles", str(args.particles), "--batch-sizes", args.batch_sizes, "--rounds", str(args.repeats),
           "--max-rounds", str(args.repeats), "--threads", "1", "--no-profiler-pass", "--process", mode,
           "--out", str(out)]
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, text=True)
    return time.perf_counter() - t0


def main() -> int:
    from jetprof import stats

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--particles", type=int, default=64)
    ap.add_argument("--batch-sizes", default="1,8")
    ap.add_argument("--repeats", type=int, default=10, help="timed rounds inside each call")
    args = ap.parse_args()
    sizes = [int(x) for x in args.batch_sizes.split(",")]
    p50: dict[tuple[str, str, int], list[float]] = {}
    wall: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="jetprof-bench-process-") as tmp:
        for r in range(args.rounds):
            for mode in (MODES if r % 4 in (0, 3) else MODES[::-1]):  # ABBA
                out = Path(tmp) / f"{mode}-{r}"
                wall.setdefault(mode, []).append(sweep(mode, args, out))
                for backend in ("eager", "onnxruntime"):
                    for bs in sizes:
                        rec = json.loads((out / "profile" / "ParT_full" / "random" / "cpu" / f"{backend}-fp32"
                                          / f"p{args.particles}" / f"bs{bs}.json").read_text())
                        assert rec["status"] == "ok" and rec["process"] == mode, rec.get("error")
                        p50.setdefault((mode, backend, bs), []).append(rec["latency_ms_p50"])
            print(f"round {r + 1}/{args.rounds} done", file=sys.stderr)
    print(f"fork vs spawn, {args.particles} particles, random weights, 1 thread, {args.repeats} rounds per call, "
          f"{args.rounds} calls of each mode in ABBA order; ratio fork/spawn, median over rounds [95 % CI]")
    for backend in ("eager", "onnxruntime"):
        for bs in sizes:
            f, s = p50[("fork", backend, bs)], p50[("spawn", backend, bs)]
            ratio, low, high = stats.ratio_ci(s, f)
            print(f"  {backend:<12} bs{bs:<4} p50 fork {statistics.median(f):8.2f} ms  "
                  f"spawn {statistics.median(s):8.2f} ms  ratio {ratio:.3f} [{low:.3f}, {high:.3f}]")
    ratio, low, high = stats.ratio_ci(wall["spawn"], wall["fork"])
    print(f"  whole call ({2 * len(sizes)} points): fork {statistics.median(wall['fork']):.1f} s, "
          f"spawn {statistics.median(wall['spawn']):.1f} s, ratio {ratio:.2f} [{low:.2f}, {high:.2f}]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
