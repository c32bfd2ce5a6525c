"""Does forking the measuring process change what is measured, and what does it save?

Usage: python benchmarks/bench_profile_process.py [--rounds 5] [--particles 64] [--batch-sizes 1,8]

Runs the same sweep (random weights, synthetic jets, eager and ONNX Runtime)
with ``jetprof profile --process fork`` and ``--process spawn``, alternating
the order round by round so that both modes see the same machine. Prints, per
point, the median over rounds of each mode's latency p50 and their ratio
(fork / spawn; 1.00 means the process model does not change the figure), and
the wall time of each mode's whole sweep. Nothing is asserted: these machines
are shared, read the ratios beside their spread.
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


def sweep(mode: str, backend: str, args: argparse.Namespace, out: Path) -> float:
    cmd = [sys.executable, "-m", "jetprof.cli", "profile", "--device", "cpu", "--backend", backend,
           "--particles", str(args.particles), "--batch-sizes", args.batch_sizes, "--repeats", str(args.repeats),
           "--threads", "1", "--no-profiler-pass", "--process", mode, "--out", str(out)]
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, text=True)
    return time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--particles", type=int, default=64)
    ap.add_argument("--batch-sizes", default="1,8")
    ap.add_argument("--repeats", type=int, default=20)
    args = ap.parse_args()
    sizes = [int(x) for x in args.batch_sizes.split(",")]
    p50: dict[tuple[str, str, int], list[float]] = {}
    cpu: dict[tuple[str, str, int], list[float]] = {}
    wall: dict[tuple[str, str], list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="jetprof-bench-process-") as tmp:
        for r in range(args.rounds):
            for backend in ("eager", "onnxruntime"):
                for mode in (MODES if r % 2 == 0 else MODES[::-1]):
                    out = Path(tmp) / f"{mode}-{backend}-{r}"
                    wall.setdefault((mode, backend), []).append(sweep(mode, backend, args, out))
                    for bs in sizes:
                        rec = json.loads((out / f"bs{bs}.json").read_text())
                        assert rec["status"] == "ok" and rec["process"] == mode, rec.get("error")
                        p50.setdefault((mode, backend, bs), []).append(rec["latency_ms_p50"])
                        cpu.setdefault((mode, backend, bs), []).append(rec["cpu_ms_p50"])
            print(f"round {r + 1}/{args.rounds} done", file=sys.stderr)
    print(f"fork vs spawn, {args.particles} particles, random weights, 1 thread, {args.repeats} timed calls, "
          f"{args.rounds} rounds (medians over rounds; [min-max] of the per-round p50)")
    for backend in ("eager", "onnxruntime"):
        for bs in sizes:
            f, s = p50[("fork", backend, bs)], p50[("spawn", backend, bs)]
            fc, sc = cpu[("fork", backend, bs)], cpu[("spawn", backend, bs)]
            print(f"  {backend:<12} bs{bs:<4} p50 fork {statistics.median(f):8.2f} ms [{min(f):.2f}-{max(f):.2f}]  "
                  f"spawn {statistics.median(s):8.2f} ms [{min(s):.2f}-{max(s):.2f}]  "
                  f"ratio {statistics.median(f) / statistics.median(s):.3f}   "
                  f"CPU-time ratio {statistics.median(fc) / statistics.median(sc):.3f}")
    for backend in ("eager", "onnxruntime"):
        f, s = wall[("fork", backend)], wall[("spawn", backend)]
        print(f"  whole sweep ({len(sizes)} points, {backend}): fork {statistics.median(f):.1f} s, "
              f"spawn {statistics.median(s):.1f} s (ratio {statistics.median(f) / statistics.median(s):.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
