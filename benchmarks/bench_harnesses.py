"""Cross-checks between the harnesses on one rung: the profile (paired, in-process timing of
one fixed batch) against MLPerf LoadGen serving the same rung, weights and jets source.
Prints figures, asserts nothing.

Usage: python benchmarks/bench_harnesses.py [--rung onnxruntime-fp32] [--max-batch 32]
                                            [--min-duration-s 5] [--out DIR]

In one run, in this order: ``jetprof profile`` at batch 1 and at ``--max-batch`` (real
validation jets, trained weights from ``results/train/ParT_full/``), then ``jetprof serve``
SingleStream and Offline on the same rung (test jets, the batcher at ``--max-batch``).
Printed: SingleStream p50 against the profile's batch-1 median, and Offline jets/s against
the best batch's throughput (batch ÷ median), each as a ratio, with the reasons the two
measure different things where they differ by more than 15 %:

- SingleStream's latency is LoadGen's issue-to-completion time: the forward plus the hand-off
  to the SUT's inference thread and back (a queue, a thread wake-up, the response copy);
  the profile times the forward alone.
- The profile times one fixed batch (the same jets every call, trimmed to their longest
  jet); LoadGen serves every library jet in turn, in batches whose longest jet sets the
  trimmed length, so the particle multiplicity differs.
- Offline's rate includes batching in Python (gathering rows, the copy into a batch) and
  LoadGen's own bookkeeping; its last batches are partial.

Needs the default study's results (``snakemake --cores 2`` first). About 2 minutes.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

MODEL = "ParT_full"
NET, DATA = "workflow/weaver/ParT.py", "workflow/weaver/JetClass_full.yaml"


def jetprof(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "jetprof.cli", *args], check=True)


def ratio_line(what: str, serve: float, profile: float, why: list[str]) -> str:
    r = serve / profile
    line = f"{what}: LoadGen {serve:.4g} vs profile {profile:.4g}  (ratio {r:.3f})"
    if abs(r - 1) > 0.15:
        line += "\n    differs by more than 15 %: " + "; ".join(why)
    return line


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rung", default="onnxruntime-fp32")
    p.add_argument("--max-batch", type=int, default=32)
    p.add_argument("--min-duration-s", type=float, default=5.0)
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args()
    backend, _, precision = args.rung.rpartition("-")
    ckpt = f"results/train/{MODEL}/net_best_epoch_state.pt"
    onnx = f"results/export/{MODEL}.onnx"
    for need in (ckpt, onnx, "results/dataset/test"):
        if not Path(need).exists():
            raise SystemExit(f"bench_harnesses: {need} missing: run the default study first (snakemake --cores 2)")
    out = args.out or Path(tempfile.mkdtemp(prefix="jetprof-harnesses-"))
    jetprof("profile", "--device", "cpu", "--weights", "trained", "--checkpoint", f"trained={ckpt}",
            "--backends", args.rung, "--batch-sizes", f"1,{args.max_batch}", "--particles", "real",
            "--data", "results/dataset/val/*.root", "--no-control", "--no-profiler-pass", "--threads", "1",
            "--rounds", "10", "--out", str(out / "profile"))
    recs = {}
    for bs in (1, args.max_batch):
        path = out / "profile" / "profile" / MODEL / "trained" / "cpu" / args.rung / "preal" / f"bs{bs}.json"
        recs[bs] = json.loads(path.read_text())
    served = {}
    for scenario in ("SingleStream", "Offline"):
        where = out / "serving" / scenario
        extra = ["--onnx", onnx] if backend.startswith("onnxruntime") else []
        jetprof("serve", "--model", MODEL, "--network-config", NET, "--data-config", DATA, "--checkpoint", ckpt,
                "--backend", backend, "--precision", precision, "--scenario", scenario,
                "--data", "results/dataset/test/*.root", "--jets", "500", "--threads", "1",
                "--max-batch", str(args.max_batch), "--max-queue-delay-ms", "2", "--latency-bound-ms", "50",
                "--min-duration-s", str(args.min_duration_s), "--min-query-count", "64", "--server-steps", "1",
                "--out", str(where), *extra)
        served[scenario] = json.loads((where / "record.json").read_text())
    ss, off = served["SingleStream"], served["Offline"]
    b1 = recs[1]["latency_ms_p50"]
    best = max(bs / r["latency_ms_p50"] * 1e3 for bs, r in recs.items())
    print(f"\nrung {args.rung}, 1 thread, {MODEL} trained; profile records and serving records in {out}")
    print(ratio_line("SingleStream p50 (ms) vs profile batch-1 median", ss["p50_ms"], b1, [
        "LoadGen's latency adds the queue hand-off to the SUT's thread and back",
        f"the profile times one fixed batch of {recs[1]['particles_mean']:.0f} particles on average; "
        "LoadGen serves every test jet in turn"]))
    print(f"    SingleStream p90 {ss['p90_ms']:.3f} ms, {ss['result']}")
    rate = {bs: bs / r["latency_ms_p50"] * 1e3 for bs, r in recs.items()}
    best_bs = max(rate, key=rate.__getitem__)
    print(ratio_line(f"Offline jets/s vs the profile's throughput at the batcher's batch {args.max_batch}",
                     off["achieved_qps"], rate[args.max_batch], [
                         "Offline batches are gathered in Python from the whole library, each trimmed to its own "
                         f"longest jet; the profile's batch is one fixed set of jets "
                         f"({recs[args.max_batch]['particles_mean']:.0f} particles on average)"]))
    if best_bs != args.max_batch:
        print(f"    the profile's best batch is {best_bs} ({rate[best_bs]:.4g} jets/s), not {args.max_batch}: "
              "a batch runs at the length of its longest jet and ParT's attention grows with its square, "
              "so a larger batch of real jets can be slower per jet (serving.max_batch sets the batch served)")
    print(ratio_line(f"Offline jets/s vs the best batch's throughput (batch {best_bs})",
                     off["achieved_qps"], best, [
                         "Offline batches are gathered row by row in Python and their longest jet sets the trimmed "
                         "length; the profile's batch is one fixed set of jets",
                         f"mean batch served {off['mean_batch']:.1f} (partial batches at the end)"]))
    print(f"    Offline {off['result']}" + (f" ({off['reason']})" if off["reason"] else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
