"""Cross-check of the harnesses: a full node's 1 process x 1 thread against the profile's throughput.

Usage: python benchmarks/bench_node.py [--results results] [--model-name ParT_full]
       [--network-config workflow/weaver/ParT.py] [--data-config workflow/weaver/JetClass_full.yaml]
       [--weights trained] [--backend eager-fp32] [--batch-size 32] [--pairs 3] [--duration-s 3]

Both measure one process with one torch thread on the same jets (the node's process 0 takes the
first B jets taken in turn from the validation files, as the profile's real batch does), the
same weights (``--weights trained``: RESULTS/train/MODEL/net_best_epoch_state.pt) and rung, in
fresh processes, alternated ABBA ``--pairs`` times so that both see the same machine:

- ``jetprof profile``: one group, the variant alone, no control, no profiler pass; its
  throughput is batch / the median of its per-round latencies;
- ``jetprof node --plan 1x1``: jets done over its timed window / the window (a mean rate, every
  call counted, the slow ones too).

Prints each pair's two figures, their ratio node / profile, and the median ratio. Where it is
more than 15 % from 1, it says what differs between the two (median against mean rate, a call
the profile re-timed because the process waited for the CPU, the node's own load). Nothing is
asserted: a benchmark prints figures.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path


def _run(cmd: list[str]) -> None:
    done = subprocess.run([sys.executable, "-m", "jetprof.cli", *cmd], capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"bench_node: {' '.join(cmd[:1])} failed: {done.stderr.strip().splitlines()[-1:]}")


def profile_once(args: argparse.Namespace, data: str, ckpt: str | None, out: Path) -> dict:
    backend, _, precision = args.backend.partition("-")
    cmd = ["profile", "--device", "cpu", "--model-name", args.model_name, "--network-config", args.network_config,
           "--data-config", args.data_config, "--weights", args.weights, "--backends", args.backend,
           "--batch-sizes", str(args.batch_size), "--particles", "real", "--data", data, "--no-control",
           "--no-profiler-pass", "--threads", "1", "--rounds", str(args.rounds), "--max-rounds", str(args.rounds),
           "--out", str(out)]
    if ckpt:
        cmd += ["--checkpoint", f"{args.weights}={ckpt}"]
    _run(cmd)
    path = (out / "profile" / args.model_name / args.weights / "cpu" / f"{backend}-{precision}" / "preal"
            / f"bs{args.batch_size}.json")
    return json.loads(path.read_text())


def node_once(args: argparse.Namespace, data: str, ckpt: str | None, out: Path) -> dict:
    cmd = ["node", "--model", args.model_name, "--weights", args.weights, "--network-config", args.network_config,
           "--data-config", args.data_config, "--backend", args.backend, "--plan", "1x1",
           "--batch-size", str(args.batch_size), "--duration-s", str(args.duration_s), "--data", data,
           "--out", str(out)]
    if ckpt:
        cmd += ["--checkpoint", ckpt]
    _run(cmd)
    return json.loads((out / "node" / args.model_name / "cpu" / args.backend / "1x1.json").read_text())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--results", default="results")
    ap.add_argument("--model-name", default="ParT_full")
    ap.add_argument("--network-config", default="workflow/weaver/ParT.py")
    ap.add_argument("--data-config", default="workflow/weaver/JetClass_full.yaml")
    ap.add_argument("--weights", default="trained", choices=("random", "trained"))
    ap.add_argument("--backend", default="eager-fp32")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--pairs", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=20, help="the profile's timed rounds")
    ap.add_argument("--duration-s", type=float, default=3.0, help="the node's timed seconds")
    args = ap.parse_args()
    data = str(Path(args.results) / "dataset" / "val" / "*.root")
    ckpt = str(Path(args.results) / "train" / args.model_name / "net_best_epoch_state.pt")
    if args.weights == "random":
        ckpt = ""
    elif not Path(ckpt).is_file():
        sys.exit(f"bench_node: {ckpt}: no such checkpoint (run the study first, or --weights random)")
    ratios, rows = [], []
    with tempfile.TemporaryDirectory(prefix="jetprof-bench-node-") as tmp:
        for i in range(args.pairs):
            order = ("profile", "node") if i % 2 == 0 else ("node", "profile")  # ABBA
            got: dict[str, dict] = {}
            for what in order:
                out = Path(tmp) / f"{what}-{i}"
                got[what] = (profile_once if what == "profile" else node_once)(args, data, ckpt or None, out)
            prof, node = got["profile"], got["node"]
            if prof["status"] != "ok":
                sys.exit(f"bench_node: the profile point failed: {prof['error']}")
            p_tp = float(prof["throughput_jets_per_s"])
            n_tp = float(node["jets_per_s"])
            ratios.append(n_tp / p_tp)
            mean_rate = args.batch_size * 1e3 / float(prof["latency_ms_mean"])
            rows.append((i, p_tp, mean_rate, n_tp, n_tp / p_tp, node["per_process"][0]["latency_ms_p50"],
                         float(prof["latency_ms_p50"]), int(prof.get("preempted_calls") or 0),
                         prof.get("wall_over_cpu")))
    print(f"{args.model_name} {args.weights} {args.backend}, batch {args.batch_size}, 1 process x 1 thread")
    print("pair  profile jets/s (median)  profile (mean rate)  node 1x1 jets/s  node/profile  "
          "node p50 ms  profile p50 ms  preempted  wall/cpu")
    for i, p_tp, mean_rate, n_tp, ratio, n_p50, p_p50, pre, woc in rows:
        print(f"{i:>4}  {p_tp:>23.1f}  {mean_rate:>19.1f}  {n_tp:>15.1f}  {ratio:>12.3f}  {n_p50:>11.2f}  "
              f"{p_p50:>14.2f}  {pre:>9}  {woc if woc is None else round(woc, 3)}")
    median = statistics.median(ratios)
    print(f"median node / profile: {median:.3f}")
    if abs(median - 1) > 0.15:
        p50_ratio = statistics.median(r[6] / r[5] for r in rows)
        mean_gap = statistics.median(r[2] / r[1] for r in rows)
        print(f"differs by more than 15 %: per-call median latency profile / node {p50_ratio:.3f} (the same calls "
              f"timed alike would give 1), the profile's mean rate / its median rate {mean_gap:.3f} (slow calls "
              "the median leaves out but the node's jets-over-window counts); a ratio far from 1 with "
              "equal medians points at the node's timed window (other load on the machine), with unequal "
              "medians at a different state of the process (threads, warm-up, the jets)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
