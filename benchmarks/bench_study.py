"""Wall time of the default study from a fresh clone (data generation included).

Usage: python benchmarks/bench_study.py [--cores 4] [--configfile config/config.yaml] [--studies 1] [--keep]

Clones the repository's committed HEAD into a temporary folder, runs
`snakemake --cores N` there, and prints the total wall time and the time of
each rule (from Snakemake's benchmark TSVs and job log), plus peak RSS of the
training job, and the study's answer to the weights question: its verdict and
every paired ratio with its 95 % CI. With ``--studies 3``, three fresh clones one
after another, and whether their weights verdicts agree. The install is not timed
(run `pip install -e .` first).
"""

from __future__ import annotations

import argparse
import csv
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cores", type=int, default=4)
    ap.add_argument("--configfile", default="config/config.yaml")
    ap.add_argument("--keep", action="store_true", help="keep the clone and print its path")
    ap.add_argument("--studies", type=int, default=1, help="fresh-clone studies, one after another")
    args = ap.parse_args()

    verdicts = []
    for study in range(args.studies):
        if args.studies > 1:
            print(f"== study {study + 1} of {args.studies}")
        verdict = one_study(args)
        if verdict is None:
            return 1
        verdicts.append(verdict)
    if args.studies > 1:
        print(f"weights verdicts of {args.studies} fresh-clone studies: {', '.join(verdicts)} "
              f"({'the same' if len(set(verdicts)) == 1 else 'NOT the same'})")
    return 0


def one_study(args: argparse.Namespace) -> str | None:
    import json

    tmp = Path(tempfile.mkdtemp(prefix="jetprof-bench-"))
    clone = tmp / "jetprof"
    subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True)
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", "--cores", str(args.cores), "--configfile", args.configfile],
        cwd=clone,
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        print(proc.stderr[-5000:], file=sys.stderr)
        print(f"study FAILED after {wall:.0f} s (clone kept at {clone})")
        return None
    print(f"default study, fresh clone, snakemake --cores {args.cores}: {wall:.0f} s wall ({wall / 60:.1f} min)")
    bench = clone / "results" / "benchmarks"
    rows = []
    for tsv in sorted(bench.rglob("*.tsv")):
        with open(tsv) as f:
            rec = next(csv.DictReader(f, delimiter="\t"))
        rows.append((str(tsv.relative_to(bench)), float(rec["s"]), rec.get("max_rss", "")))
    total_gen = sum(s for name, s, _ in rows if name.startswith("generate_dataset/"))
    print(f"  generate_dataset (all files, summed job time): {total_gen:.0f} s")
    # the profile grid: its jobs hold the whole measure_slot, so they run one after another
    grid = [s for name, s, _ in rows if name.startswith("profile/") and "/peak/" not in name]
    n_points = len(list((clone / "results" / "profile").glob("*/*/*/*/*/bs*.json")))
    n_groups = len(list((clone / "results" / "paired").rglob("bs*.json")))
    print(f"  profile: {n_points} points in {n_groups} comparison groups, {len(grid)} jobs, "
          f"{sum(grid):.0f} s summed job time")
    for name, s, rss in rows:
        if not name.startswith("generate_dataset/"):
            print(f"  {name:<40} {s:8.1f} s   max RSS {rss} MB")
    answer = json.loads((clone / "results" / "summary" / "weights_answer.json").read_text())
    print(f"  weights answer: {answer['verdict']} (threshold ±{100 * answer['threshold']:g} %): "
          + "; ".join(answer["reasons"]))
    for p in answer.get("pooled", []):
        what = f"A/A control ({p['baseline']})" if p["control"] else f"{p['variant']}/{p['baseline']}"
        ci = f"[{p['ci95'][0]:.3f}, {p['ci95'][1]:.3f}]" if p["ci95"][0] is not None else "(no interval)"
        print(f"    pooled over {p['points']} points {p.get('model', ''):<16} {what:<22} {p['ratio']:.3f} "
              f"{ci}: {p['verdict']}")
    widths(clone)
    with open(clone / "results" / "summary" / "models.csv") as f:
        for m in csv.DictReader(f):
            acc = (f"accuracy {float(m['accuracy']):.3f} AUC {float(m['auc_macro']):.3f}" if m["accuracy"]
                   else "not trained")
            print(f"  {m['model']:<18} {m['device']}: {acc}; {float(m['latency_ms_p50_bs1']):.2f} ms at batch 1, "
                  f"{float(m['throughput_jets_per_s_max']):.0f} jets/s at batch {m['throughput_batch_size']}")
    if args.keep:
        print(f"clone kept at {clone}")
    else:
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
    return str(answer["verdict"])


def widths(clone: Path) -> None:
    """Every weights and A/A comparison's interval and half-width, against the targets (±2 %, ±1 % at
    batch 1), and the machine's floor: the spread of the A/A ratio between fresh processes."""
    import json
    import math
    import statistics

    with open(clone / "results" / "summary" / "comparisons.csv") as f:
        rows = [r for r in csv.DictReader(f) if r["axis"] in ("weights", "control")]
    reached = 0
    for r in rows:
        half = float(r["half_width"]) if r.get("half_width") else math.nan
        target = 0.01 if r["batch_size"] == "1" else 0.02
        ok = r["verdict"] in ("same", "different") and half <= target
        reached += ok
        ci = f"[{float(r['ci95_low']):.3f}, {float(r['ci95_high']):.3f}]" if r["ci95_low"] else "(no interval)"
        share = f"{100 * float(r['between_share']):.0f} % between" if r.get("between_share") else ""
        print(f"    {r['model']:<16} {r['backend']}-{r['precision']} {r['particles']:>4} bs{r['batch_size']:<3} "
              f"{'A/A control' if r['control'] == 'True' else r['weights'] + '/random':<16} {float(r['ratio']):.3f} "
              f"{ci} ±{100 * half:.1f} % (target ±{100 * target:.0f} %{', reached' if ok else ''}) "
              f"{r['rounds']} rounds in {r.get('processes', '1')} processes {share} {r.get('method', '')} "
              f"{r.get('clock', '')}: {r['verdict']}")
    print(f"  widths: {reached} of {len(rows)} weights and A/A points decided on their own within their target")
    spreads = []
    for path in (clone / "results" / "paired").rglob("bs*.json"):
        doc = json.loads(path.read_text())
        by = {v["label"]: v for v in doc["variants"]}
        clock = "round_cpu_ms" if doc.get("clock") == "cpu" else "round_latency_ms"
        for label, v in by.items():
            base = by.get(label.removesuffix("#2")) if label.endswith("#2") else None
            if base is None or v["status"] != "ok" or not v.get("round_process"):
                continue
            per = {}
            for k, b, x in zip(v["round_process"], base[clock], v[clock]):
                per.setdefault(k, []).append(math.log(x / b))
            if len(per) >= 2:
                spreads.append(statistics.stdev(statistics.median(logs) for logs in per.values()))
    if spreads:
        print(f"  the machine's floor: the A/A ratio's spread between fresh processes, sd of the per-process "
              f"estimates over {len(spreads)} control pairs: median {100 * statistics.median(spreads):.2f} %, "
              f"largest {100 * max(spreads):.2f} %")


if __name__ == "__main__":
    sys.exit(main())
