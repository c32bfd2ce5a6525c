"""How trustworthy are the study's paired comparisons here? Prints figures, asserts nothing.

Usage: python benchmarks/bench_comparison.py [--repeats 6] [--batch-sizes 1,8] [--particles 48]
                                             [--slowdown 0.10] [--design-rounds 12] [--skip-design]

1. **Stability at the default settings.** ``--repeats`` times, one ``jetprof profile``
   call measures, at each batch size, one group of: random weights, its A/A control
   replica, a second checkpoint of random-looking weights ("trained": same
   architecture, other values — a true null), a checkpoint whose weight matrices are
   scaled into the float32 subnormal range ("pretrained": the one known way weight
   values change CPU cost), and, with the benchmark hook ``benchmarks/slowdown.py``,
   the "trained" variant made slower by exactly ``--slowdown`` (a positive control of
   known size). Printed: the verdict counts of each comparison (the A/A false-positive
   rate; the detection rate of the known slowdown and its estimated ratio), the
   median 95 % CI half-width, rounds used and time per group.
2. **Why one process with interleaved calls** (skip with ``--skip-design``): the same
   A/A pair measured (a) interleaved in one process, as the study does, and (b) with a
   fresh forked process per variant per round (build, warm up, time the same calls),
   also interleaved; both over ``--design-rounds`` rounds. Printed: the A/A ratio and
   CI half-width of each design and its wall time.

Defaults take about 4 minutes on the project's 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np
from slowdown import env as slowdown_env  # benchmarks/slowdown.py, beside this script

from jetprof import stats
from jetprof.config import schema_defaults


def make_checkpoints(folder: Path) -> tuple[Path, Path]:
    """A second random state (seed 7) and the same with its matrices made subnormal."""
    import torch

    from jetprof.model.build import build_model

    torch.manual_seed(7)
    state = build_model().model.state_dict()
    other = folder / "other_random.pt"
    torch.save(state, other)
    tiny = {k: (v * 1e-38 if v.is_floating_point() and v.dim() >= 2 else v) for k, v in state.items()}
    subnormal = folder / "subnormal.pt"
    torch.save(tiny, subnormal)
    return other, subnormal


def stability(args: argparse.Namespace, folder: Path) -> None:
    from jetprof.report.compare import comparisons, load_groups

    other, subnormal = make_checkpoints(folder)
    d = schema_defaults("profile")
    threshold = schema_defaults("profile.compare")["threshold"]
    verdicts: dict[str, Counter] = {}
    ratios: dict[str, list[float]] = {}
    widths: dict[tuple[str, int], list[float]] = {}
    rounds: dict[int, list[int]] = {}
    seconds: list[float] = []
    for rep in range(args.repeats):
        out = folder / f"rep{rep}"
        cmd = [sys.executable, "-m", "jetprof.cli", "profile", "--device", "cpu", "--particles", str(args.particles),
               "--batch-sizes", args.batch_sizes, "--weights", "random,trained,pretrained",
               "--checkpoint", f"trained={other}", "--checkpoint", f"pretrained={subnormal}",
               "--no-profiler-pass", "--out", str(out)]
        env = {**os.environ, **slowdown_env("trained", args.slowdown)} if rep % 2 else dict(os.environ)
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True, text=True, env=env)
        seconds.append(time.perf_counter() - t0)
        table = comparisons(load_groups([out / "paired"]), threshold)
        for row in table.itertuples():
            weights = row.variant.split("/")[1]
            name = {"control": "A/A control", "trained": "other random weights (true null)",
                    "pretrained": "subnormal weights"}[weights if row.axis == "weights" else "control"]
            if row.axis == "weights" and weights == "trained" and rep % 2:
                name = f"known +{100 * args.slowdown:g} % slowdown"
            key = f"{name}, bs {row.batch_size}"
            verdicts.setdefault(key, Counter())[row.verdict] += 1
            ratios.setdefault(key, []).append(row.ratio)
            widths.setdefault((name, row.batch_size), []).append((row.ci95_high - row.ci95_low) / 2)
            rounds.setdefault(row.batch_size, []).append(row.rounds)
        print(f"repeat {rep + 1}/{args.repeats}: {seconds[-1]:.1f} s", file=sys.stderr)
    print(f"1. Stability: {args.repeats} calls of jetprof profile (default settings: rounds {d['rounds']}, "
          f"max {d['max_rounds']}, threshold ±{100 * threshold:g} %), {args.particles} particles, 1 thread;"
          f" the known slowdown in every other call")
    for key in sorted(verdicts):
        c = verdicts[key]
        n = sum(c.values())
        print(f"  {key:<48} same {c['same']:>2}/{n}  different {c['different']:>2}/{n}  "
              f"inconclusive {c['inconclusive']:>2}/{n}   ratio median {statistics.median(ratios[key]):.3f} "
              f"[{min(ratios[key]):.3f}-{max(ratios[key]):.3f}]")
    aa = [v for k, v in verdicts.items() if k.startswith("A/A")]
    fp = sum(c["different"] for c in aa)
    total = sum(sum(c.values()) for c in aa)
    print(f"  A/A false-positive rate: {fp}/{total} ('different'); 'same' {sum(c['same'] for c in aa)}/{total}")
    for (name, bs), w in sorted(widths.items()):
        if name == "A/A control":
            print(f"  CI95 half-width, bs {bs}: median ±{100 * statistics.median(w):.1f} % "
                  f"(max ±{100 * max(w):.1f} %), rounds used median {statistics.median(rounds[bs]):.0f}")
    print(f"  time per call ({len(args.batch_sizes.split(','))} groups of 5 variants, no profiler pass): "
          f"median {statistics.median(seconds):.1f} s")


# -- 2. the design: one process interleaved vs a fresh process per variant per round ----------

def _fresh_process_turn(particles: int, batch_size: int, calls: int) -> float:
    """Fork a child that builds the model, warms up and times ``calls`` forwards: their median."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.close(read)
            import torch

            from jetprof.model.build import build_model
            from jetprof.model.inputs import synthetic_batch
            from jetprof.profiling.backends import torch_forward

            torch.set_num_threads(1)
            torch.manual_seed(0)
            built = build_model()
            model = built.model.eval().requires_grad_(False)
            batch = synthetic_batch(built.data_config, batch_size, particles, seed=0)
            tensors = [torch.from_numpy(batch.arrays[n]) for n in built.input_names]
            forward = torch_forward(model, tensors, torch.device("cpu"), "fp32")
            for _ in range(6):
                forward()
            times = []
            for _ in range(calls):
                t0 = time.perf_counter()
                forward()
                times.append((time.perf_counter() - t0) * 1e3)
            os.write(write, json.dumps(float(np.median(times))).encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write)
    data = b""
    while chunk := os.read(read, 4096):
        data += chunk
    os.close(read)
    os.waitpid(pid, 0)
    return float(json.loads(data))


def design(args: argparse.Namespace, folder: Path) -> None:
    from jetprof.report.compare import comparisons, load_groups

    sizes = [int(x) for x in args.batch_sizes.split(",")]
    print(f"2. Design: the A/A pair (random weights twice), {args.particles} particles, "
          f"{args.design_rounds} rounds")
    for bs in sizes:
        out = folder / f"design-bs{bs}"
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "jetprof.cli", "profile", "--device", "cpu", "--particles",
                        str(args.particles), "--batch-sizes", str(bs), "--rounds", str(args.design_rounds),
                        "--max-rounds", str(args.design_rounds), "--no-profiler-pass", "--out", str(out)],
                       check=True, capture_output=True, text=True)
        inproc_s = time.perf_counter() - t0
        row = comparisons(load_groups([out / "paired"]), 0.05).iloc[0]
        calls = json.loads(next((out / "profile").rglob("bs*.json")).read_text())["paired"]["calls_per_round"]
        os.environ.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
        t0 = time.perf_counter()
        a, b = [], []
        for r in range(args.design_rounds):
            for side in ((a, b) if r % 2 == 0 else (b, a)):
                side.append(_fresh_process_turn(args.particles, bs, calls))
        fresh_s = time.perf_counter() - t0
        ratio, low, high = stats.ratio_ci(a, b)
        print(f"  bs {bs:<3} one process, interleaved:       A/A {row['ratio']:.3f} [{row['ci95_low']:.3f}, "
              f"{row['ci95_high']:.3f}] ±{50 * (row['ci95_high'] - row['ci95_low']):.1f} %  in {inproc_s:5.1f} s "
              f"(whole call: imports, memory, FLOPs included)")
        print(f"  bs {bs:<3} fresh process per turn (fork): A/A {ratio:.3f} [{low:.3f}, {high:.3f}] "
              f"±{50 * (high - low):.1f} %  in {fresh_s:5.1f} s")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=6)
    ap.add_argument("--batch-sizes", default="1,8")
    ap.add_argument("--particles", type=int, default=48)
    ap.add_argument("--slowdown", type=float, default=0.10)
    ap.add_argument("--design-rounds", type=int, default=12)
    ap.add_argument("--skip-design", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="jetprof-bench-comparison-") as tmp:
        stability(args, Path(tmp))
        if not args.skip_design:
            import torch  # noqa: F401 - imported once here, so the forked children start warm

            design(args, Path(tmp))
    return 0


if __name__ == "__main__":
    sys.exit(main())
