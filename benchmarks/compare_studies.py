"""Two finished studies side by side: did a change of code change the study's answers?

Usage: python benchmarks/compare_studies.py BEFORE/results AFTER/results [--control BEFORE2/results]

Each study's comparisons are paired inside that study (same process, same jets,
interleaved rounds); the two studies themselves ran minutes apart, so their ratios are
compared as two estimates of one true ratio: the difference of the log ratios with a
95 % interval from both studies' intervals (each taken as ±1.96 σ on the log scale).
A row "moved" when that interval excludes 0 and the shift exceeds the threshold;
otherwise it is the same answer up to noise.

A study's intervals come from its rounds and cannot see what holds for a whole process
(memory layout, the order of building, the machine's load that hour), so two fresh
studies of the same code differ by more than their intervals say. ``--control`` names a
second study of the BEFORE code: the spread of its shifts from BEFORE, beyond what the
intervals explain, is the between-study variance (pooled over the rows, a random-effects
estimate), and it widens every BEFORE -> AFTER interval. Printed too: each verdict before and
after, the weights answer, the deployment pick per point, the figures each study
drew, and the figures of a point that do not depend on time (parameters, FLOPs per
jet, peak memory), which must match exactly.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
from pathlib import Path

KEY = ("axis", "baseline", "variant", "particles", "batch_size")
EXACT = ("params", "flops_per_jet", "peak_memory_bytes")
POINT = ("model", "weights", "device", "backend", "precision", "particles", "batch_size")


def rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def log_sigma(row: dict[str, str]) -> float:
    return (math.log(float(row["ci95_high"])) - math.log(float(row["ci95_low"]))) / (2 * 1.96)


def by_key(results: Path) -> dict[tuple[str, ...], dict[str, str]]:
    return {tuple(r[k] for k in KEY): r for r in rows(results / "summary/comparisons.csv")}


def between_variance(before: Path, control: Path) -> float:
    """Variance of the log shift between two studies of the same code beyond what their
    intervals explain: mean(d² − σ_a² − σ_b²) over the rows both have, at least 0."""
    old, same = by_key(before), by_key(control)
    excess = [(math.log(float(same[k]["ratio"])) - math.log(float(old[k]["ratio"]))) ** 2
              - log_sigma(old[k]) ** 2 - log_sigma(same[k]) ** 2 for k in old.keys() & same.keys()]
    var = max(0.0, sum(excess) / len(excess))
    print(f"between two studies of the same code ({len(excess)} comparisons): "
          f"extra spread of the log shift {math.sqrt(var):.4f} (×{math.exp(math.sqrt(var)):.3f} per σ)")
    return var


def compare_ratios(before: Path, after: Path, extra_var: float = 0.0) -> int:
    old, new = by_key(before), by_key(after)
    moved = 0
    print(f"{'comparison':<70} {'before':>22} {'after':>22}  shift [95 % CI]      verdicts")
    for key in sorted(old.keys() | new.keys()):
        if key not in old or key not in new:
            print(f"{' '.join(key):<70} only {'after' if key in new else 'before'}")
            continue
        a, b = old[key], new[key]
        d = math.log(float(b["ratio"])) - math.log(float(a["ratio"]))
        half = 1.96 * math.sqrt(log_sigma(a) ** 2 + log_sigma(b) ** 2 + extra_var)
        threshold = math.log(1 + float(a["threshold"]))
        shifted = abs(d) > half and abs(d) > threshold
        moved += shifted
        fmt = "{:.3f} [{:.3f}, {:.3f}]"
        print(f"{' '.join(key):<70} {fmt.format(*(float(a[k]) for k in ('ratio', 'ci95_low', 'ci95_high'))):>22} "
              f"{fmt.format(*(float(b[k]) for k in ('ratio', 'ci95_low', 'ci95_high'))):>22}  "
              f"{math.exp(d):.3f} [{math.exp(d - half):.3f}, {math.exp(d + half):.3f}]  "
              f"{a['verdict']} -> {b['verdict']}{'  MOVED' if shifted else ''}")
    print(f"{len(old.keys() & new.keys())} comparisons in both; {moved} moved beyond noise and threshold")
    return moved


def compare_exact(before: Path, after: Path) -> int:
    old = {tuple(r[k] for k in POINT): r for r in rows(before / "summary/points.csv")}
    new = {tuple(r[k] for k in POINT): r for r in rows(after / "summary/points.csv")}
    differ = [(k, f, old[k][f], new[k][f]) for k in sorted(old.keys() & new.keys()) for f in EXACT
              if old[k][f] != new[k][f]]
    for k, f, a, b in differ:
        print(f"  {'/'.join(k)} {f}: {a} -> {b}")
    print(f"{len(old)} points before, {len(new)} after; {len(old.keys() & new.keys())} in both; "
          f"{len(differ)} differences in {', '.join(EXACT)}")
    return len(differ) + len(old.keys() ^ new.keys())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("before", type=Path, help="the first study's results/ folder")
    ap.add_argument("after", type=Path, help="the second study's results/ folder")
    ap.add_argument("--control", type=Path, help="another study of BEFORE's code: the between-study spread")
    args = ap.parse_args()
    extra = 0.0
    if args.control:
        print("== control: BEFORE against another study of the same code")
        compare_ratios(args.before, args.control)
        extra = between_variance(args.before, args.control)
    print("== paired comparisons" + (" (intervals widened by the between-study spread)" if args.control else ""))
    moved = compare_ratios(args.before, args.after, extra)
    print("== weights answer")
    answers = [json.loads((d / "summary/weights_answer.json").read_text()) for d in (args.before, args.after)]
    verdicts = [a.get("verdict") for a in answers]
    print(f"verdict before {verdicts[0]}, after {verdicts[1]}")
    print("== deployment picks")
    picks = [json.loads((d / "summary/deployment.json").read_text()) for d in (args.before, args.after)]
    chosen = [{(f["model"], f["device"], f["particles"], f["batch_size"]): f["variant"] for f in p["fastest"]}
              for p in picks]
    for point in sorted(chosen[0].keys() | chosen[1].keys(), key=str):
        print(f"{'/'.join(map(str, point))}: before {chosen[0].get(point)}, after {chosen[1].get(point)}")
    print("== points: figures that do not depend on time")
    differ = compare_exact(args.before, args.after)
    print("== figures drawn")
    figs = [sorted(p.name for p in (d / "figures").glob("*.png")) for d in (args.before, args.after)]
    print(f"before {len(figs[0])}, after {len(figs[1])}; only after: {sorted(set(figs[1]) - set(figs[0]))}; "
          f"only before: {sorted(set(figs[0]) - set(figs[1]))}")
    same = (moved == 0 and verdicts[0] == verdicts[1] and chosen[0] == chosen[1] and differ == 0
            and set(figs[0]) <= set(figs[1]))
    print("answers unchanged up to noise" if same else "answers CHANGED: see above")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
