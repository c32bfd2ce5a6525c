"""Reference GPU measurements in one short run (< 6 min on an H100).

Sweeps ParT_full (random weights; + trained with --checkpoint) on one CUDA
device through the real ``jetprof profile`` machinery (one child process per
point): eager fp32 / autocast bf16 / autocast fp16 × batch 1…16384 in powers
of 4 at 128 particles (a configuration stops at its first out-of-memory point;
16384 jets at fp32 does not fit 80 GB, so the OOM path runs for real), a
multiplicity sweep at batch 256, ONNX Runtime on CUDA (recorded as an error
where the build has no CUDA provider), the matmul peak, and one profiler trace
(fp32, batch 64). Records are laid out as
``results/profile/{model}/{weights}/{device}/{backend}-{precision}/p{particles}/bs{N}.json``
under ``reference/`` and packed into ``$OUT/reference.tar.gz``; a points table
goes to stdout and ``$OUT/gpu_reference.log``.

    python benchmarks/gpu_reference.py --out "$OUT"                 # on the GPU machine
    python benchmarks/gpu_reference.py --device cpu --dry --out /tmp/ref   # rehearsal here
"""

from __future__ import annotations

import argparse
import json
import sys
import tarfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))


def _log(fh, text: str) -> None:
    print(text, flush=True)
    fh.write(text + "\n")
    fh.flush()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="jetprof GPU reference sweep")
    p.add_argument("--out", required=True)
    p.add_argument("--device", default="cuda")
    p.add_argument("--dry", action="store_true", help="tiny sizes (rehearsal on CPU)")
    p.add_argument("--checkpoint", default=None, help="also sweep trained weights (fp32)")
    p.add_argument("--budget-s", type=float, default=270.0, help="skip the remaining points after this")
    p.add_argument("--work", default="/tmp/jetprof_reference")
    args = p.parse_args(argv)

    from jetprof.profiling import cli as pcli
    from jetprof.profiling.runner import run_group

    t_start = time.perf_counter()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    work = Path(args.work) / "reference"
    work.mkdir(parents=True, exist_ok=True)
    log = open(out / "gpu_reference.log", "w")
    dev_dir = args.device.split(":")[0]

    if args.dry:
        sizes, mult_bs, mult_p, precisions, oom_bs = [1, 2], 2, [8], ["fp32", "bf16"], None
        common = ["--rounds", "3", "--max-rounds", "3", "--warmup", "1"]
    else:
        sizes, mult_bs, mult_p, precisions = [1, 4, 16, 64, 256, 1024, 4096, 16384], 256, [8, 16, 32, 64], \
            ["fp32", "bf16", "fp16"]
        oom_bs = None  # 16384 at the end of the size list is the real OOM probe
        common = ["--rounds", "20", "--max-rounds", "20", "--warmup", "5"]
    if args.device == "cpu":
        precisions = [x for x in precisions if x != "fp16"]

    # 1. matmul peak
    from jetprof.profiling.peak import measure_peak

    peak = measure_peak(pcli.check_device(args.device), 1, matrix_size=256 if args.dry else None)
    (work / "peak").mkdir(exist_ok=True)
    (work / "peak" / f"{dev_dir}.json").write_text(json.dumps(peak, indent=1) + "\n")
    _log(log, "peak " + ", ".join(f"{k} {v['matmul_flops_per_s'] / 1e12:.2f} TFLOP/s (n={v['matrix_size']})"
                                  for k, v in peak["by_dtype"].items()))
    _log(log, f"{'weights':8} {'backend-prec':18} {'part':>5} {'bs':>6} {'status':6} {'p50 ms':>10} "
              f"{'jets/s':>10} {'peak MiB':>9} {'GFLOP/s':>9}")

    parser = argparse.ArgumentParser()
    pcli.add_arguments(parser)

    def run(weights: str, backend: str, precision: str, particles: int, batch_sizes: list[int],
            profile_bs: int | None = None, stop_at_oom: bool = True) -> None:
        rel = f"ParT_full/{weights}/{dev_dir}/{backend}-{precision}/p{particles}"
        # one variant per group (no control): a sweep of sizes, not a comparison
        argv = ["--device", args.device, "--weights", weights, "--backends", f"{backend}-{precision}",
                "--particles", str(particles), "--batch-sizes", ",".join(map(str, batch_sizes)), "--no-control",
                "--out", str(work), "--no-profiler-pass", "--config-hash", "gpu_reference", *common]
        if weights != "random":
            argv += ["--checkpoint", args.checkpoint]
        specs = pcli.build_specs(parser.parse_args(argv))
        for spec in specs:
            if time.perf_counter() - t_start > args.budget_s:
                _log(log, f"SKIPPED (budget) {rel} bs{spec.batch_size}")
                continue
            spec.profiler_pass = spec.batch_size == profile_bs
            spec.process, spec.cache_dir = "spawn", str(work)
            rec = run_group(spec, timeout_s=120)[0].to_json()
            mem = rec["peak_memory_bytes"]
            _log(log, f"{weights:8} {backend + '-' + precision:18} {particles:>5} {spec.batch_size:>6} "
                      f"{rec['status']:6} {rec['latency_ms_p50'] or 0:10.3f} {rec['throughput_jets_per_s'] or 0:10.1f} "
                      f"{(mem or 0) / 2**20:9.1f} {(rec['achieved_flops_per_s'] or 0) / 1e9:9.1f}"
                      + (f"  {rec['error'][:120]}" if rec["error"] else ""))
            if rec["status"] == "oom" and stop_at_oom:
                break

    run("random", "eager", "fp32", 128, sizes, profile_bs=2 if args.dry else 64)
    for n in mult_p:
        run("random", "eager", "fp32", n, [mult_bs])
    for prec in precisions[1:]:
        run("random", "eager", prec, 128, sizes)
    if oom_bs:
        run("random", "eager", "fp32", 128, [oom_bs])
    run("random", "onnxruntime", "fp32", 128, [1, 64] if not args.dry else [1])
    if args.checkpoint:
        run("trained", "eager", "fp32", 128, sizes[:6])

    with tarfile.open(out / "reference.tar.gz", "w:gz") as tar:
        tar.add(work, arcname="reference")
    _log(log, f"done in {time.perf_counter() - t_start:.0f} s; records in {out / 'reference.tar.gz'}")
    log.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
