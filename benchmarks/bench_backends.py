"""The deployment ladder on this machine: each backend/precision against eager fp32, cost
next to accuracy. Prints figures, asserts nothing.

Usage: python benchmarks/bench_backends.py [--batch-sizes 1,32] [--quality-jets 500]
                                           [--checkpoint FILE] [--dataset DIR] [--backends PAIRS]
                                           [--out DIR] [--skip-ladder] [--investigate]

1. **The ladder.** One ``jetprof profile`` call (1 thread, fresh process per group)
   measures at each batch size one comparison group: eager fp32 (and its A/A control),
   eager bf16, eager int8, ONNX Runtime fp32 and int8 (fed the trimmed batch), OpenVINO
   fp32 (if installed), and the sub-batched rungs (the batch sorted by particle count and
   run as sub-batches, each trimmed to its own longest jet, all inside the timed call):
   eager_bucketed fp32, bf16 and int8, onnxruntime_bucketed fp32 and int8, and ONNX Runtime fp32 with
   its graph optimisation off (onnxruntime_noopt: what the optimiser buys). Weights:
   ``--checkpoint`` (default ``results/train/ParT_full/net_best_epoch_state.pt``, from ``jetprof
   weaver``) if it exists, else random weights (then AUC is not meaningful: said so).
   Jets: ``DATASET/val`` for the timed batch and ``DATASET/test`` for the quality score
   (``--dataset``, default ``results/dataset``) if they exist, else synthetic jets of 48
   particles and no score. Printed per batch size, from
   ``jetprof.report.compare.comparisons`` on the group files: the paired speed-up of
   each variant over eager fp32 (eager-fp32 ÷ variant, 95 % CI) and its verdict, and
   from the records its ΔAUC (variant − eager fp32, macro one-vs-rest, test jets),
   top-1 agreement and max |Δ softmax|; then whether the targets are met (best variant
   at batch 1 ≥ 2×, at batch 32 ≥ 1.3× faster, each within an AUC loss of 0.001).
2. **Why ONNX Runtime can be slower than eager at batch 32** (``--investigate``), on
   the real batch of the largest batch size: eager as is (its pair embedding runs on
   the real particle pairs only, ``PairEmbed._forward_sparse``) and with the dense pair
   embedding the export uses (``sparse_eval`` off); ONNX Runtime fp32 (trimmed) at each
   graph optimisation level; ONNX Runtime (fp32 and int8) on the batch sorted by
   multiplicity and cut into 4 equal sub-batches, each trimmed to its own longest jet
   (the ladder's onnxruntime_bucketed chooses its cut by a cost model); and where the time goes
   (ONNX Runtime's profiler by module path; eager's pair embedding and attention
   modules timed with hooks, its attention kernel with torch.profiler).
   CPU-time medians of interleaved calls, 1 thread.

About 10 minutes on the project's 2-core machine (more under load).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from jetprof.registry import ladder_pairs

REPO = Path(__file__).resolve().parents[1]
CHECKPOINT = REPO / "results" / "train" / "ParT_full" / "net_best_epoch_state.pt"
DATASET = REPO / "results" / "dataset"
LADDER = ladder_pairs()  # each backend's rungs, from its registry entry
TARGETS = {1: 2.0, 32: 1.3}
AUC_LOSS = 0.001


def _have(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def ladder(args: argparse.Namespace, out: Path) -> None:
    from jetprof.report.compare import comparisons, load_groups

    checkpoint, val, test = args.checkpoint, args.dataset / "val", args.dataset / "test"
    weights = "trained" if checkpoint.is_file() else "random"
    real = any(val.glob("*.root")) and any(test.glob("*.root"))
    pairs = [p for p in args.backends.split(",") if not p.startswith("openvino") or _have("openvino")]
    cmd = [sys.executable, "-m", "jetprof.cli", "profile", "--device", "cpu", "--threads", "1",
           "--weights", weights, "--backends", ",".join(pairs), "--batch-sizes", args.batch_sizes,
           "--no-profiler-pass", "--max-group-s", str(args.max_group_s), "--out", str(out)]
    if weights == "trained":
        cmd += ["--checkpoint", f"trained={checkpoint}"]
    if real:
        cmd += ["--particles", "real", "--data", str(val / "*.root"), "--quality-data", str(test / "*.root"),
                "--quality-jets", str(args.quality_jets)]
    else:
        cmd += ["--particles", "48"]
    print("weights:", f"trained ({checkpoint})" if weights == "trained" else
          f"random (no checkpoint {checkpoint}: AUC not meaningful)")
    print("jets:", f"real (timed: {val}, scored: {args.quality_jets} of {test})"
          if real else f"synthetic, 48 particles (no {args.dataset}: no quality score)")
    print("$", " ".join(cmd[1:]))
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    print(f"jetprof profile: {time.perf_counter() - t0:.0f} s, exit {proc.returncode}")
    if proc.returncode:
        print(proc.stderr[-3000:])
        return
    table = comparisons(load_groups([out / "paired"]), args.threshold)
    base = f"ParT_full/{weights}/eager-fp32"
    rows = table[(table["baseline"] == base) & (table["axis"] != "control")]
    control = table[table["axis"] == "control"]
    records = {}
    for path in (out / "profile").rglob("bs*.json"):
        rec = json.loads(path.read_text())
        records[(rec["backend"] + "-" + rec["precision"], rec["batch_size"])] = rec
    best: dict[int, tuple[float, str, float]] = {}
    for bs in sorted({int(b) for b in table["batch_size"]}):
        ref = records.get(("eager-fp32", bs), {})
        print(f"\nbatch {bs}: eager fp32 {ref.get('latency_ms_p50', float('nan')):.2f} ms "
              f"(real particles: mean {ref.get('particles_mean') or 0:.1f}, padded to {ref.get('particles_padded')})")
        for c in control[control["batch_size"] == bs].itertuples():
            print(f"  A/A control: ratio {c.ratio:.3f} [{c.ci95_low:.3f}, {c.ci95_high:.3f}] {c.verdict}")
        print(f"  {'variant':<18} {'speed-up':>8} {'95% CI':>17} {'verdict':<13} {'ms':>8} {'ΔAUC':>8} "
              f"{'top-1':>6} {'max|Δp|':>8}  status")
        for r in rows[rows["batch_size"] == bs].itertuples():
            pair = r.variant.split("/")[-1]
            rec = records.get((pair, bs), {})
            q = rec.get("quality") or {}
            dauc = (q["auc_macro"] - q["auc_macro_reference"]) if q.get("auc_macro") is not None else None
            speed = 1 / r.ratio if r.ratio == r.ratio else float("nan")
            lo, hi = (1 / r.ci95_high, 1 / r.ci95_low) if r.ratio == r.ratio else (float("nan"),) * 2
            status = rec.get("status", "?") + (f": {rec['error'][:60]}" if rec.get("error") else "")
            print(f"  {pair:<18} {speed:>7.2f}x [{lo:>6.2f}, {hi:>6.2f}] {r.verdict:<13} "
                  f"{r.variant_ms:>8.2f} {dauc if dauc is None else f'{dauc:+.4f}':>8} "
                  f"{q.get('top1_agreement', float('nan')):>6.3f} "
                  f"{q.get('max_abs_diff', float('nan')):>8.2g}  {status}")
            within = dauc is not None and dauc >= -AUC_LOSS
            usable = rec.get("status") == "ok" and (within or not real or weights == "random")
            if usable and speed > best.get(bs, (0, "", 0))[0]:
                best[bs] = (speed, pair, lo)
        rq = ref.get("quality") or {}
        if rq.get("auc_macro") is not None:
            print(f"  eager fp32 macro AUC on {rq['jets']} test jets: {rq['auc_macro']:.4f}")
        elif rq.get("auc_note"):
            print(f"  AUC: {rq['auc_note']}")
    print()
    for bs, target in TARGETS.items():
        if bs in best:
            speed, pair, lo = best[bs]
            print(f"target batch {bs}: best {pair} {speed:.2f}x, CI low {lo:.2f}x (target ≥ {target}x"
                  f"{', within ΔAUC ≥ -0.001' if real and weights == 'trained' else ', AUC not checked'}): "
                  f"{'met' if speed >= target else 'NOT met'}, "
                  f"{'with' if lo >= target else 'NOT with'} the CI's lower bound")


def investigate(args: argparse.Namespace, folder: Path) -> None:
    """ONNX Runtime against eager at the largest batch size, on real jets (see module docstring)."""
    os.environ.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    import numpy as np
    import onnxruntime as ort
    import torch

    from jetprof.model import inputs
    from jetprof.model.build import build_model, load_weights
    from jetprof.model.export import export_onnx
    from jetprof.profiling.backends import OrtRunner
    from jetprof.profiling.quantize import onnx_int8

    torch.set_num_threads(1)
    bs = max(int(b) for b in args.batch_sizes.split(","))
    torch.manual_seed(0)
    eager, inf = build_model(), build_model(for_inference=True)
    if args.checkpoint.is_file():
        load_weights(eager, args.checkpoint)
        load_weights(inf, args.checkpoint)
    else:
        inf.model.load_state_dict(eager.model.state_dict())
    model = eager.model.eval().requires_grad_(False)
    names = eager.input_names
    if any((args.dataset / "val").glob("*.root")):
        batch = inputs.real_batch(inputs.expand_data_glob([str(args.dataset / "val" / "*.root")]),
                                  eager.data_config, bs)
    else:
        rng = np.random.default_rng(0)
        raw = inputs.synthetic_raw_jets(bs, rng.integers(15, 110, bs), sorted(eager.data_config.test_load_branches), 0)
        import awkward as ak

        batch = inputs._batch_of(ak.Array(raw), eager.data_config, {"kind": "synthetic, mixed multiplicity"})
    n = batch.n_particles
    print(f"\n== ONNX Runtime vs eager at batch {bs}: {batch.source.get('kind')} jets, "
          f"particles mean {n.mean():.1f}, max {n.max()} (the trimmed batch's length)")
    onnx_path = str(folder / "m.onnx")
    export_onnx(inf.model.eval(), inf.model_info, [torch.from_numpy(batch.arrays[k][:2]) for k in names], onnx_path)
    xs = [torch.from_numpy(batch.arrays[k]) for k in names]
    trimmed = inputs.trim_to_longest(batch.arrays, n)
    pair_embed = model.mod.pair_embed
    sparse = pair_embed.sparse_eval

    def eager_call(dense: bool):
        def call():
            pair_embed.sparse_eval = (sparse[0], False) if dense else sparse
            with torch.inference_mode():
                model(*xs)
        return call

    def session(level: str):
        so = ort.SessionOptions()
        so.intra_op_num_threads, so.inter_op_num_threads = 1, 1
        so.graph_optimization_level = getattr(ort.GraphOptimizationLevel, level)
        return ort.InferenceSession(onnx_path, so, providers=["CPUExecutionProvider"])

    sessions = {lvl: session(lvl) for lvl in ("ORT_ENABLE_BASIC", "ORT_ENABLE_EXTENDED", "ORT_ENABLE_ALL")}
    feed_names = [i.name for i in sessions["ORT_ENABLE_ALL"].get_inputs()]
    feed = {k: trimmed[k] for k in feed_names}
    order = np.argsort(n)
    buckets = []
    for rows in np.array_split(order, 4):
        sub = inputs.trim_to_longest({k: v[rows] for k, v in batch.arrays.items()}, n[rows])
        buckets.append({k: sub[k] for k in feed_names})
    full = sessions["ORT_ENABLE_ALL"]
    int8_path, _, _ = onnx_int8(onnx_path, str(folder))
    so = ort.SessionOptions()
    so.intra_op_num_threads, so.inter_op_num_threads = 1, 1
    int8 = ort.InferenceSession(int8_path, so, providers=["CPUExecutionProvider"])
    calls = {
        "eager fp32 (sparse pair embedding: real pairs only)": eager_call(False),
        "eager fp32, dense pair embedding (as exported)": eager_call(True),
        **{f"onnxruntime fp32 trimmed, {lvl}": (lambda s=s: s.run(None, feed)) for lvl, s in sessions.items()},
        "onnxruntime fp32, sorted into 4 sub-batches": lambda: [full.run(None, b) for b in buckets],
        "onnxruntime int8 trimmed": lambda: int8.run(None, feed),
        "onnxruntime int8, sorted into 4 sub-batches": lambda: [int8.run(None, b) for b in buckets],
    }
    with torch.inference_mode():
        for _ in range(6):
            model(*xs)  # past the SequenceTrimmer's warm-up
    times: dict[str, list[float]] = {k: [] for k in calls}
    for f in calls.values():
        f()
    for _ in range(args.investigate_rounds):
        for name, f in calls.items():
            c0 = time.process_time()
            f()
            times[name].append((time.process_time() - c0) * 1e3)
    pair_embed.sparse_eval = sparse
    ref = float(np.median(times[next(iter(calls))]))
    for name, t in times.items():
        med = float(np.median(t))
        print(f"  {name:<55} {med:8.1f} ms CPU  ({med / ref:.2f}x eager)")
    # where the time goes: ONNX Runtime's nodes by module path, eager's attention modules timed
    runner = OrtRunner(onnx_path, torch.device("cpu"), 1, trimmed)
    _, trace = runner.profile(3, str(folder))
    nodes = [e for e in json.loads(Path(trace).read_text())
             if e.get("cat") == "Node" and str(e.get("name", "")).endswith("_kernel_time")]
    parts = {"pair embedding (/pair_embed/)": 0.0, "attention modules (/attn/: projections, products, softmax)": 0.0,
             "fused nodes without a module path (GELUs, ...)": 0.0, "the rest": 0.0}
    for e in nodes:
        name = e["name"]
        key = ("pair embedding (/pair_embed/)" if "/pair_embed/" in name else
               "attention modules (/attn/: projections, products, softmax)" if "/attn/" in name else
               "fused nodes without a module path (GELUs, ...)" if not name.startswith("/") else "the rest")
        parts[key] += float(e["dur"]) / 1e3 / 4  # 3 calls + 1 warm-up
    total = sum(parts.values())
    print(f"  onnxruntime per node (its profiler, {total:.0f} ms per call):")
    for label, ms in parts.items():
        print(f"    {label:<62} {ms:7.1f} ms ({100 * ms / total:4.1f} %)")
    spent = {"attn": 0.0, "pair_embed": 0.0}
    hooks = []
    for name, mod in model.named_modules():
        kind = "attn" if name.endswith(".attn") else "pair_embed" if name.endswith("pair_embed") else None
        if kind:
            hooks.append(mod.register_forward_pre_hook(
                lambda *_a, k=kind: spent.__setitem__("_" + k, time.process_time())))
            hooks.append(mod.register_forward_hook(
                lambda *_a, k=kind: spent.__setitem__(k, spent[k] + time.process_time() - spent["_" + k])))
    c0 = time.process_time()
    eager_call(False)()
    whole = (time.process_time() - c0) * 1e3
    for h in hooks:
        h.remove()
    print(f"  eager (one call, {whole:.0f} ms CPU): pair embedding {spent['pair_embed'] * 1e3:.1f} ms, "
          f"attention modules {spent['attn'] * 1e3:.1f} ms")
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        eager_call(False)()
    ev = {e.key: e.self_cpu_time_total / 1e3 for e in prof.key_averages()}
    sdpa = sum(v for k, v in ev.items() if "scaled_dot_product" in k or "flash_attention" in k)
    print(f"  eager's CPU attention kernel (aten SDPA, flash): {sdpa:.1f} ms per call (torch.profiler)")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch-sizes", default="1,32")
    p.add_argument("--quality-jets", type=int, default=500)
    p.add_argument("--checkpoint", type=Path, default=CHECKPOINT, help="trained weights (default: %(default)s)")
    p.add_argument("--dataset", type=Path, default=DATASET, help="folder with val/ and test/ (default: %(default)s)")
    p.add_argument("--backends", default=",".join(LADDER), help="backend-precision pairs (default: the ladder)")
    p.add_argument("--max-group-s", type=float, default=60.0)
    p.add_argument("--threshold", type=float, default=0.05)
    p.add_argument("--out", help="keep the records here (default: a temporary folder)")
    p.add_argument("--skip-ladder", action="store_true")
    p.add_argument("--investigate", action="store_true", help="also: why ONNX Runtime can lose at batch 32")
    p.add_argument("--investigate-rounds", type=int, default=7)
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench_backends-") as tmp:
        out = Path(args.out) if args.out else Path(tmp) / "out"
        if not args.skip_ladder:
            ladder(args, out)
        if args.investigate:
            investigate(args, Path(tmp))
    return 0


if __name__ == "__main__":
    sys.exit(main())
