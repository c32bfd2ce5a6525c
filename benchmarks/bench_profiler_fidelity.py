"""Does jetprof's timing loop agree with torch.utils.benchmark, and what does torch.profiler cost?

For one point (ParT_full, random weights, CPU, 1 thread, synthetic jets) in one
process: the median of jetprof's un-profiled timing loop against the median of
``torch.utils.benchmark.Timer`` (``num_threads`` set explicitly to the same
count: it defaults to 1 silently) — target ratio within 10 % — and, at batch 1,
the median forward time inside a ``torch.profiler.profile`` block against the
plain one (the profiler's own overhead; why jetprof never times inside it).

    python benchmarks/bench_profiler_fidelity.py [--batch-size 8] [--particles 128] [--threads 1]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--particles", type=int, default=128)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--repeats", type=int, default=30)
    p.add_argument("--device", default="cpu")
    args = p.parse_args(argv)

    from jetprof.profiling.child import pin_threads

    pin_threads(args.threads)
    import torch
    import torch.utils.benchmark as tb

    from jetprof.model.build import build_model
    from jetprof.model.inputs import synthetic_batch
    from jetprof.profiling.backends import synchronize, torch_forward
    from jetprof.profiling.measure import _time
    from jetprof.profiling.point import Point

    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)
    torch.manual_seed(0)
    device = torch.device(args.device)
    built = build_model()
    model = built.model.eval().requires_grad_(False).to(device)

    def forward_for(bs: int):
        batch = synthetic_batch(built.data_config, bs, args.particles, seed=0)
        xs = [torch.from_numpy(batch.arrays[n]).to(device) for n in built.input_names]
        fwd = torch_forward(model, xs, device, "fp32")
        for _ in range(6):
            fwd()
        synchronize(device)
        return fwd

    point = Point(device=args.device, batch_size=args.batch_size, weights="random", backend="eager",
                  precision="fp32", particles=args.particles, out_dir=".", repeats=args.repeats,
                  threads=args.threads)
    fwd = forward_for(args.batch_size)
    wall, cpu = _time(fwd, device, point, inject_oom=False)
    ours = statistics.median(wall)

    def stmt() -> None:
        fwd()
        synchronize(device)

    timer = tb.Timer(stmt="stmt()", globals={"stmt": stmt}, num_threads=args.threads)
    m = timer.blocked_autorange(min_run_time=max(2.0, 5 * ours / 1e3))
    theirs = m.median * 1e3
    print(f"batch {args.batch_size}, {args.particles} particles, {args.threads} thread(s), {device}")
    print(f"  jetprof loop      median {ours:9.3f} ms  ({len(wall)} calls; CPU median {statistics.median(cpu):.3f} ms, "
          f"wall/CPU {ours / statistics.median(cpu):.3f})")
    print(f"  benchmark.Timer   median {theirs:9.3f} ms  ({len(m.times)} blocks of {m.number_per_run})")
    print(f"  ratio jetprof/Timer = {ours / theirs:.3f}  (target 0.90-1.10)")

    # profiler overhead at batch 1
    fwd1 = forward_for(1)
    plain, _ = _time(fwd1, device, Point(**{**point.as_dict(), "batch_size": 1}), inject_oom=False)
    acts = [torch.profiler.ProfilerActivity.CPU] + (
        [torch.profiler.ProfilerActivity.CUDA] if device.type == "cuda" else [])
    inside = []
    with torch.profiler.profile(activities=acts):
        for _ in range(args.repeats):
            t = time.perf_counter()
            fwd1()
            synchronize(device)
            inside.append((time.perf_counter() - t) * 1e3)
    a, b = statistics.median(plain), statistics.median(inside)
    print(f"batch 1: plain median {a:.3f} ms, inside torch.profiler {b:.3f} ms "
          f"-> profiler overhead {100 * (b / a - 1):+.1f} %")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "src"))
    sys.exit(main())
