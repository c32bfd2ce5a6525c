"""Did a change of code change what a forward pass costs? Two checkouts, alternated.

Usage: python benchmarks/ab_code.py OLD_CHECKOUT NEW_CHECKOUT [--pairs 5] [--particles 32,64]
                                     [--batch-size 8] [--backends eager-fp32,onnxruntime-fp32]
                                     [--checkpoint FILE]

Two studies run minutes apart differ by a few per cent at a point for reasons that hold
for a whole process (the machine's load, memory layout), so their ratios cannot say
whether a change of code moved a figure. Here the same ``jetprof profile`` call runs
from OLD's source, then NEW's, then OLD's again, ``--pairs`` times, each in its own
fresh process on the same machine minutes apart at most; each variant's p50 latency
from NEW ÷ the one from OLD in the same pair, and their geometric mean with a 95 %
bootstrap interval over the pairs. Run from inside OLD (its configs and checkpoint) or
give ``--checkpoint``; prints figures, asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path


def profile(checkout: Path, out: Path, args: argparse.Namespace) -> None:
    cmd = [sys.executable, "-m", "jetprof.cli", "profile", "--device", "cpu", "--out", str(out),
           "--model-name", "ParT_full", "--network-config", "workflow/weaver/ParT.py",
           "--data-config", "workflow/weaver/JetClass_full.yaml", "--backends", args.backends,
           "--particles", args.particles, "--batch-sizes", str(args.batch_size), "--threads", "1",
           "--no-flush-denormal"]
    if args.checkpoint:
        cmd += ["--weights", "trained", "--checkpoint", f"trained={args.checkpoint}"]
    env = {**os.environ, "PYTHONPATH": str(checkout / "src")}
    subprocess.run(cmd, cwd=checkout, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def p50s(out: Path) -> dict[str, float]:
    """``backend-precision/pPARTICLES``: p50 latency (ms) of every point record under ``out``."""
    found = {}
    for path in (out / "profile").rglob("*.json"):
        rec = json.loads(path.read_text())
        if rec.get("status") == "ok":
            found[f"{rec['backend']}-{rec['precision']}/p{rec['particles']}"] = rec["latency_ms_p50"]
    return found


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("old", type=Path, help="checkout of the code before the change")
    ap.add_argument("new", type=Path, help="checkout of the code after it")
    ap.add_argument("--pairs", type=int, default=5, help="OLD then NEW, this many times")
    ap.add_argument("--particles", default="32,64")
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--backends", default="eager-fp32,onnxruntime-fp32")
    ap.add_argument("--checkpoint", help="trained weights (default: random)")
    args = ap.parse_args()
    ratios: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.pairs):
            old, new = Path(tmp) / f"old{i}", Path(tmp) / f"new{i}"
            profile(args.old.resolve(), old, args)
            profile(args.new.resolve(), new, args)
            a, b = p50s(old), p50s(new)
            for key in sorted(a.keys() & b.keys()):
                ratios.setdefault(key, []).append(b[key] / a[key])
            shown = "  ".join(f"{k} {b[k] / a[k]:.3f}" for k in sorted(a.keys() & b.keys()))
            print(f"pair {i + 1} of {args.pairs}: {shown}")
    rng = random.Random(1)
    for key, values in ratios.items():
        logs = [math.log(v) for v in values]
        boots = sorted(statistics.fmean(rng.choices(logs, k=len(logs))) for _ in range(4000))
        lo, hi = math.exp(boots[100]), math.exp(boots[3899])
        print(f"{key:<28} NEW ÷ OLD p50 {math.exp(statistics.fmean(logs)):.3f} [{lo:.3f}, {hi:.3f}] "
              f"over {len(values)} pairs of processes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
