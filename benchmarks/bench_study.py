"""Wall time of the default study from a fresh clone (data generation included).

Usage: python benchmarks/bench_study.py [--cores 4] [--configfile config/config.yaml] [--keep]

Clones the repository's committed HEAD into a temporary folder, runs
`snakemake --cores N` there, and prints the total wall time and the time of
each rule (from Snakemake's benchmark TSVs and job log), plus peak RSS of the
training job. The install is not timed (run `pip install -e .` first).
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
    args = ap.parse_args()

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
        return 1
    print(f"default study, fresh clone, snakemake --cores {args.cores}: {wall:.0f} s wall ({wall / 60:.1f} min)")
    bench = clone / "results" / "benchmarks"
    rows = []
    for tsv in sorted(bench.rglob("*.tsv")):
        with open(tsv) as f:
            rec = next(csv.DictReader(f, delimiter="\t"))
        rows.append((str(tsv.relative_to(bench)), float(rec["s"]), rec.get("max_rss", "")))
    total_gen = sum(s for name, s, _ in rows if name.startswith("generate_dataset/"))
    print(f"  generate_dataset (all files, summed job time): {total_gen:.0f} s")
    # the profile grid: its jobs hold the one measure_slot, so they run one after another
    grid = [s for name, s, _ in rows if name.startswith("profile/") and "/peak/" not in name]
    n_points = len(list((clone / "results" / "profile").glob("*/*/*/*/*/bs*.json")))
    print(f"  profile grid: {n_points} points in {len(grid)} jobs, {sum(grid):.0f} s summed job time "
          f"(target < 180 s)")
    for name, s, rss in rows:
        if not name.startswith("generate_dataset/"):
            print(f"  {name:<40} {s:8.1f} s   max RSS {rss} MB")
    if args.keep:
        print(f"clone kept at {clone}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
