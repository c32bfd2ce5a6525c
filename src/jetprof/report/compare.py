"""The study's paired comparisons: one row per compared pair and point.

Every comparison is between two variants of one group (``jetprof.contract.Group``):
measured in the same fresh processes, on the same jets, interleaved in time over rounds.
The pairs are those of :func:`jetprof.contract.compared_pairs` (weights against
random, backends against eager, precisions against fp32, models against the study's
model, and the A/A control: a second instance of the group's first variant).

Per pair the latency ratio (variant ÷ baseline, on the group's clock) gets a 95 %
confidence interval (:mod:`jetprof.intervals`: a Student-t interval over the group's fresh
processes, or the order-statistic interval of one process's rounds) and a verdict against the
practical threshold (:mod:`jetprof.stats`). Peak memory and FLOPs, which do not vary
from call to call, are compared exactly (``memory_ratio``, ``flops_ratio``).

Columns: ``axis``, ``baseline``, ``variant``, ``model``, ``weights`` (the variant's),
``device``, ``backend``, ``precision``, ``particles``, ``batch_size``, ``ratio``,
``ci95_low``, ``ci95_high``, ``rounds``, ``verdict``, ``threshold``, ``memory_ratio``,
``flops_ratio``, ``control``, ``baseline_ms``, ``variant_ms``, ``group``, ``method``, ``half_width``,
``processes``, ``between_share``, ``clock``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from jetprof import stats
from jetprof.contract import Pair, compared_pairs
from jetprof.errors import JetprofError
from jetprof.intervals import group_clock, group_intervals, pair_interval, paired_rounds, variant_of
from jetprof.records import JSON, ComparisonRow, GroupDocument, GroupVariant, validate_document

#: a group rounds file and its document as read (validated against group.schema.json; parsed JSON, so
#: records.JSON: GroupDocument.from_json types it where a function needs more than a few keys)
GroupFile = tuple[Path, JSON]

COLUMNS = ["axis", "baseline", "variant", "model", "weights", "device", "backend", "precision",
           "particles", "batch_size", "ratio", "ci95_low", "ci95_high", "rounds", "verdict",
           "threshold", "memory_ratio", "flops_ratio", "control", "baseline_ms", "variant_ms", "group",
           "method", "half_width", "processes", "between_share", "clock"]


def is_group(doc: object) -> bool:
    return isinstance(doc, dict) and doc.get("kind") == "jetprof paired group"


def load_groups(inputs: Iterable[str | os.PathLike[str]]) -> list[GroupFile]:
    """Read group (rounds) files: files, or folders searched recursively for ``*.json``."""
    out = []
    for item in inputs:
        path = Path(item)
        files = sorted(path.rglob("*.json")) if path.is_dir() else [path]
        for f in files:
            try:
                doc = json.loads(f.read_text())
            except (OSError, json.JSONDecodeError) as exc:
                raise JetprofError(f"{f}: not a readable rounds file ({exc})") from None
            if not is_group(doc):
                if path.is_dir():
                    continue
                raise JetprofError(f"{f}: not a jetprof paired group file")
            validate_document("group rounds file", doc, str(f))
            out.append((f, doc))
    return out


def _ratio(a: float | None, b: float | None) -> float:
    if a is None or b is None:  # not measured
        return math.nan
    try:
        x, y = float(a), float(b)
    except (TypeError, ValueError):
        return math.nan
    return x / y if y else math.nan


def group_comparisons(path: Path, doc: JSON, threshold: float,
                      main_model: str | None = None) -> list[JSON]:
    """The comparison rows of one group file (:class:`jetprof.records.ComparisonRow`, as dicts)."""
    if not threshold > 0:
        raise JetprofError(f"threshold {threshold}: must be > 0")
    group = GroupDocument.from_json(doc, str(path))
    entries = {variant_of(e): e for e in group.variants}
    return [_row(path, group, pair, entries[pair.baseline], entries[pair.variant], threshold).to_json()
            for pair in compared_pairs(list(entries), main_model)]


def _row(path: Path, group: GroupDocument, pair: Pair, base: GroupVariant, var: GroupVariant,
         threshold: float) -> ComparisonRow:
    """One compared pair of a group: the ratio of its per-round latencies, or why there is none."""
    found = pair_interval(path, group, pair, base, var)
    clock = group_clock(group)
    nan = math.nan
    if isinstance(found, stats.Interval):
        b_ms, v_ms = paired_rounds(base, clock), paired_rounds(var, clock)
        ratio, low, high = found.ratio, found.low, found.high
        verdict = found.verdict(threshold)
        b_med, v_med = float(pd.Series(b_ms).median()), float(pd.Series(v_ms).median())
        method, rounds, processes = found.method, found.rounds, found.processes
    else:
        ratio = low = high = b_med = v_med = nan
        verdict, method, rounds, processes = f"not measured ({found})", "order-statistic", 0, 0
    return ComparisonRow(
        axis=pair.axis, baseline=pair.baseline.label, variant=pair.variant.label, model=pair.variant.model,
        weights=pair.variant.weights, device=group.device, backend=pair.variant.backend,
        precision=pair.variant.precision, particles=str(group.particles), batch_size=group.batch_size,
        threshold=threshold, control=pair.control, group=str(path), ratio=ratio,
        ci95_low=nan if low is None else low, ci95_high=nan if high is None else high,
        rounds=rounds, verdict=verdict, baseline_ms=b_med, variant_ms=v_med,
        memory_ratio=_ratio(var.peak_memory_bytes, base.peak_memory_bytes),
        flops_ratio=_ratio(var.flops_per_jet, base.flops_per_jet),
        method=method, half_width=found.half_width if isinstance(found, stats.Interval) else None,
        processes=processes, between_share=found.between_share if isinstance(found, stats.Interval) else None,
        clock=clock,
    )


def pooled(groups: list[GroupFile], threshold: float,
           main_model: str | None = None) -> list[JSON]:
    """Per model and weight state (against random) and for the A/A control: the ratio pooled over
    every point where it was measured, allowing the points their own true ratios (random effects,
    :func:`jetprof.stats.random_effects_pool`), its interval and verdict."""
    collected: dict[tuple[str, str, str], list[tuple[tuple[str, ...], stats.Interval]]] = {}
    for path, doc in groups:
        group = GroupDocument.from_json(doc, str(path))
        point = (group.device, str(group.particles), f"{group.batch_size:09d}")
        for pair, found in group_intervals(path, group, main_model):
            if pair.axis not in ("weights", "control"):
                continue
            if isinstance(found, stats.Interval):
                key = (pair.axis, pair.variant.model, pair.variant.weights)
                collected.setdefault(key, []).append((point, found))
    out: list[JSON] = []
    for (axis, model, weights), found_at in sorted(collected.items()):
        # the points in one canonical order: the same answer whatever order the group files came in
        points = [interval for _, interval in sorted(found_at, key=lambda f: f[0])]
        pool = stats.random_effects_pool(points)
        out.append({"axis": axis, "model": model,
                    "variant": weights if axis == "weights" else f"{weights} (second instance)",
                    "baseline": "random" if axis == "weights" else weights, "points": len(points),
                    "ratio": pool.ratio, "ci95": [pool.low, pool.high], "verdict": pool.verdict(threshold),
                    "control": axis == "control", "method": "random-effects" if len(points) > 1 else pool.method,
                    "half_width": pool.half_width, "between_share": pool.between_share, "why": pool.why})
    return out


def comparisons(groups: list[GroupFile], threshold: float,
                main_model: str | None = None) -> pd.DataFrame:
    """Every group's comparisons as one table (``COLUMNS``), in a stable order."""
    rows = [r for path, doc in groups for r in group_comparisons(path, doc, threshold, main_model)]
    table = pd.DataFrame(rows, columns=COLUMNS)
    if table.empty:
        return table
    order = {a: i for i, a in enumerate(("control", "weights", "backend", "precision", "deployment", "model"))}
    table["_axis"] = table["axis"].map(order)
    table["_p"] = table["particles"].map(lambda p: (0, 0) if p == "real" else (1, int(p)))
    table = table.sort_values(["_axis", "device", "_p", "batch_size", "baseline", "variant"], kind="stable")
    return table.drop(columns=["_axis", "_p"]).reset_index(drop=True)


def subnormal_by_state(groups: list[GroupFile]) -> dict[str, dict[str, int]]:
    """Per ``model/weights`` (original variants): the largest subnormal counts measured."""
    out: dict[str, dict[str, int]] = {}
    for _, doc in groups:
        for v in doc["variants"]:
            counts = v.get("subnormal")
            if v.get("replica") or not counts:
                continue
            key = f"{v['model']}/{v['weights']}"
            seen = out.setdefault(key, dict(counts))
            for name, value in counts.items():
                seen[name] = max(seen.get(name, 0), value)
    return out


def cpu_context(groups: list[GroupFile], peaks: list[JSON]) -> JSON:
    """Which CPUs the CPU groups ran on, and the subnormal penalty measured beside the ceiling."""
    from jetprof.platforms import cpu_label

    measured_on = sorted({cpu_label(doc["env"].get("cpu"), doc["env"].get("cpu_model"))
                          for _, doc in groups if doc.get("device") == "cpu" and doc.get("env")})
    peak = next((p for p in peaks if p.get("device") == "cpu"), None)
    penalty = (peak or {}).get("subnormal_penalty")
    return {"measured_on": measured_on, "subnormal_penalty": penalty,
            "penalty_cpu": penalty.get("cpu") if penalty else None}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``jetprof compare``."""
    from jetprof.config import study_defaults

    parser.add_argument("groups", nargs="+", metavar="GROUPS",
                        help="rounds files results/paired/... (or folders of them)")
    parser.add_argument("--threshold", type=float,
                        default=study_defaults()["profile"]["compare"]["threshold"],
                        help="practical threshold of the verdicts (e.g. 0.05 for ±5 %%)")
    parser.add_argument("--main-model", help="the model other models are compared against")
    parser.add_argument("--out-csv", required=True, help="comparisons, one row per pair and point")
    parser.add_argument("--answer-json", help="the weights answer (JSON)")
    parser.add_argument("--answer-md", help="the weights answer (Markdown, for the report)")
    parser.add_argument("--points", help="the summary table (jetprof summarize): the points' quality, "
                                         "for the deployment ladder")
    parser.add_argument("--auc-loss", type=float, default=study_defaults()["profile"]["compare"]["auc_loss"],
                        help="the ladder's accuracy budget: the largest macro-AUC loss allowed")
    parser.add_argument("--peak", nargs="*", default=[], metavar="PEAK",
                        help="peak records (results/profile/peak/*.json): the CPU's subnormal penalty, "
                             "stated in the weights answer")
    parser.add_argument("--deployment-json", help="the deployment ladder (JSON; needs --points)")
    parser.add_argument("--deployment-md", help="the deployment ladder (Markdown; needs --points)")


def run(args: argparse.Namespace) -> int:
    """Entry point of ``jetprof compare``."""
    from jetprof.io import atomic_write_text
    from jetprof.report.answers import answer_markdown, weights_answer
    from jetprof.report.cli import load_peaks

    if not args.threshold > 0:
        raise JetprofError(f"--threshold {args.threshold}: must be > 0")
    groups = load_groups(args.groups)
    if not groups:
        raise JetprofError(f"no paired group files found in {', '.join(args.groups)}")
    table = comparisons(groups, args.threshold, args.main_model)
    atomic_write_text(args.out_csv, table.assign(ci95=[f"[{a:.6g}, {b:.6g}]" for a, b in
                                                       zip(table["ci95_low"], table["ci95_high"])])
                      .to_csv(index=False, lineterminator="\n"))
    flush = {bool(doc.get("flush_denormal")) for _, doc in groups}
    answer = weights_answer(table, subnormal_by_state(groups),
                            flush_denormal=flush.pop() if len(flush) == 1 else None, threshold=args.threshold,
                            pooled=pooled(groups, args.threshold, args.main_model),
                            cpu=cpu_context(groups, load_peaks(args.peak)))
    if args.answer_json:
        atomic_write_text(args.answer_json, json.dumps(answer, indent=1) + "\n")
    if args.answer_md:
        atomic_write_text(args.answer_md, answer_markdown(answer))
    if args.deployment_json or args.deployment_md:
        write_deployment(args, table)
    decided = table["verdict"].value_counts().to_dict() if not table.empty else {}
    print(f"jetprof compare: {len(table)} comparison(s) {decided}; weights: {answer['verdict']} -> {args.out_csv}")
    return 0


def write_deployment(args: argparse.Namespace, table: pd.DataFrame) -> None:
    """The deployment ladder from the comparisons and the points' quality."""
    from jetprof.io import atomic_write_text
    from jetprof.report.deployment import deployment_markdown, fastest, ladder

    if not args.points:
        raise JetprofError("--deployment-json/--deployment-md need --points (results/summary/points.csv)")
    if not args.auc_loss >= 0:
        raise JetprofError(f"--auc-loss {args.auc_loss}: must be >= 0")
    from jetprof.report.summarize import KEY_FIELDS, read_table

    points = read_table(args.points, "summary table", KEY_FIELDS)
    rungs = ladder(table, points, args.auc_loss)
    best = fastest(rungs)
    doc = {"auc_loss": args.auc_loss, "baseline": "eager-fp32", "fastest": best,
           "variants": [{k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items()}
                        for r in rungs.to_dict("records")]}
    if args.deployment_json:
        atomic_write_text(args.deployment_json, json.dumps(doc, indent=1) + "\n")
    if args.deployment_md:
        atomic_write_text(args.deployment_md, deployment_markdown(rungs, best, args.auc_loss))

