"""The study's answer to the seed's question: does the weight state change the cost?

Read from the paired comparisons (``comparisons.csv``, :mod:`jetprof.report.compare`),
never recomputed: the answer's verdict is

* ``different`` if any weight comparison's CI, at one point or pooled over the
  points (random effects, :func:`jetprof.stats.random_effects_pool`), lies outside 1 ± threshold;
* ``same`` if the pooled ratio of every weight state lies inside it and so does the
  pooled A/A control, a second instance of the same variant measured as if it were
  another (a control that is not ``same`` means the machine was too noisy to tell);
* ``inconclusive`` otherwise.

A single point's interval is as wide as that point's noise allows (on a shared
2-core machine ±2 to ±5 % at the default rounds); the pooled ratio asks the same
question of all points at once, and any large effect at one point still decides
``different`` on its own.

Peak memory and FLOPs are compared exactly. The subnormal counts of each weight
state (values in the checkpoint, values in one forward's activations) say whether
the one known way weight values change CPU cost is present.
"""

from __future__ import annotations

import math

import pandas as pd

from jetprof import stats
from jetprof.records import JSON, WeightsAnswer

QUESTION = "Does the weight state change forward-pass latency or memory?"


def as_json_rows(table: pd.DataFrame) -> list[JSON]:
    """Rows for JSON: ``ci95`` as [low, high], NaN as null."""
    out = []
    for row in table.to_dict("records"):
        clean = {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()}
        clean["ci95"] = [clean.pop("ci95_low"), clean.pop("ci95_high")]
        out.append(clean)
    return out


def _ci(p: dict[str, object]) -> str:
    """``1.012 [0.990, 1.035]``, or the ratio and why it has no interval."""
    ci = p["ci95"]
    low, high = ci if isinstance(ci, list) else (None, None)
    if low is None or high is None:
        return f"{p['ratio']:.3f} (no interval: {p.get('why') or 'too few rounds'})"
    return f"{p['ratio']:.3f} [{low:.3f}, {high:.3f}]"


def _what(p: JSON) -> str:
    """``ParT_full: trained ÷ random``: a pooled entry's model and pair."""
    model = f"{p['model']}: " if p.get("model") else ""
    return f"{model}{p['variant']} ÷ {p['baseline']}"


def _points_same(p: dict[str, object], rows: pd.DataFrame) -> bool:
    """Whether every point of a pooled entry decided ``same`` on its own interval: as strong as a
    pooled ``same`` (each point's interval is a calibrated one), and what settles a pool of two or
    three points, whose random-effects interval (t with one or two degrees of freedom) is wide."""
    if rows.empty:
        return False
    weights = p["baseline"] if p["control"] else p["variant"]
    mine = rows[(rows["model"] == p["model"]) & (rows["weights"] == weights) & (rows["control"] == p["control"])]
    return bool(len(mine)) and bool((mine["verdict"] == "same").all())


def _verdict(rows: pd.DataFrame, pooled: list[JSON],
             control_rows: pd.DataFrame | None = None) -> tuple[str, list[str]]:
    if rows.empty:
        return "inconclusive", ["no point was measured with more than one weight state"]
    verdicts = rows["verdict"].tolist()
    states = [p for p in pooled if not p["control"]]
    controls = [p for p in pooled if p["control"]]
    different = [p for p in states if p["verdict"] == "different"]
    if "different" in verdicts or different:
        reasons = []
        if "different" in verdicts:
            reasons.append(f"{verdicts.count('different')} of {len(verdicts)} weight comparison(s) differ "
                           "beyond the threshold")
        reasons += [f"{_what(p)} pooled over {p['points']} points: {_ci(p)}" for p in different]
        return "different", reasons
    reasons = []
    undecided = [p for p in states if p["verdict"] != "same" and not _points_same(p, rows)]
    if not states:
        reasons.append("no weight comparison has paired rounds to pool")
    for p in undecided:
        reasons.append(f"{_what(p)} pooled over {p['points']} points is not decided: {_ci(p)}")
    for p in controls:
        if p["verdict"] != "same" and not _points_same(p, control_rows if control_rows is not None else rows):
            reasons.append(f"the A/A control ({_what(p)}) pooled over {p['points']} points is {p['verdict']}: "
                           f"{_ci(p)} (the machine was too noisy to tell)")
    if reasons:
        return "inconclusive", reasons
    text = "; ".join(f"{_what(p)} pooled over {p['points']} points: {_ci(p)}" for p in states + controls)
    point_same = verdicts.count("same")
    return "same", [f"{text}: each within the threshold pooled or at every one of its points; {point_same} of "
                    f"{len(verdicts)} weight points decided 'same' on their own, none 'different'"]


def weights_answer(table: pd.DataFrame, subnormal: dict[str, dict[str, int]] | None = None,
                   flush_denormal: bool | None = None, threshold: float | None = None,
                   pooled: list[JSON] | None = None,
                   cpu: JSON | None = None) -> JSON:
    """The answer as a JSON-able dict (``weights_answer.json``).

    Args:
        table: the comparisons (``jetprof.report.compare.comparisons``).
        subnormal: per weight state (``model/weights``), its subnormal counts.
        flush_denormal: whether the measurements ran with subnormals flushed to zero.
        threshold: the practical threshold (default: the table's).
        pooled: the pooled ratios (``jetprof.report.compare.pooled``).
        cpu: the CPUs measured on and their subnormal penalty (``jetprof.report.compare.cpu_context``).
    """
    weights = table[table["axis"] == "weights"] if not table.empty else table
    controls = table[table["axis"] == "control"] if not table.empty else table
    if threshold is None:
        threshold = float(table["threshold"].iloc[0]) if not table.empty else math.nan
    pooled = pooled or []
    verdict, reasons = _verdict(weights, pooled, controls)
    by_model = []
    models = list(dict.fromkeys(weights["model"])) if not weights.empty else []
    controls_pooled = [p for p in pooled if p["control"]]
    for model in models:
        mine = [p for p in pooled if not p["control"] and p.get("model") == model]
        v, why = _verdict(weights[weights["model"] == model], mine + controls_pooled, controls)
        by_model.append({"model": model, "verdict": v, "reasons": why})
    mem = weights["memory_ratio"].dropna() if not weights.empty else pd.Series(dtype=float)
    flops = weights["flops_ratio"].dropna() if not weights.empty else pd.Series(dtype=float)
    return WeightsAnswer(
        question=QUESTION, verdict=verdict, reasons=reasons, threshold=threshold, method=method_text(table),
        comparisons=as_json_rows(weights), control=as_json_rows(controls), pooled=pooled, by_model=by_model,
        memory_identical=bool(len(mem) and (mem == 1.0).all()),
        flops_identical=bool(len(flops) and (flops == 1.0).all()),
        subnormal=subnormal or {}, flush_denormal=flush_denormal,
        cpu={**(cpu or {"measured_on": [], "subnormal_penalty": None, "penalty_cpu": None}),
             "carries_over": carries_over(subnormal or {}, (cpu or {}).get("subnormal_penalty"))},
        aa_coverage=aa_coverage(controls),
    ).to_json()


def aa_coverage(controls: pd.DataFrame) -> dict[str, object]:
    """Of the A/A controls (true ratio 1), how many stated an interval and how many of those hold 1."""
    stated = controls.dropna(subset=["ci95_low", "ci95_high"]) if not controls.empty else controls
    held = int(((stated["ci95_low"] <= 1) & (stated["ci95_high"] >= 1)).sum()) if not stated.empty else 0
    return {"held": held, "stated": len(stated), "pairs": len(controls),
            "interval": list(stats.clopper_pearson(held, len(stated))) if len(stated) else None}


def method_text(table: pd.DataFrame) -> str:
    """The interval methods the comparisons used, in words (:data:`jetprof.stats.METHODS`)."""
    used = list(dict.fromkeys(table["method"].dropna())) if not table.empty and "method" in table else []
    return "; ".join(f"{key}: {stats.METHODS.get(key, key)}" for key in used) or stats.METHOD


def carries_over(subnormal: dict[str, dict[str, int]], penalty: JSON | None) -> str:
    """Whether the verdict carries over to another CPU, as far as subnormal values go, in one sentence."""
    held = sum(c.get("weights", 0) + c.get("activations", 0) for c in subnormal.values())
    if subnormal and held == 0:
        return ("yes: no checkpoint weight and no activation of one forward is subnormal, so how a CPU treats "
                "subnormal values cannot change this verdict (the FLOPs and memory are the same everywhere too)")
    if penalty is None:
        return "unknown: this CPU's subnormal penalty was not measured (results/profile/peak/cpu.json)"
    if not subnormal:
        return "unknown: the subnormal counts of the weight states were not measured"
    if penalty["verdict"] == "same":
        return (f"not necessarily: the weight states hold {held:,} subnormal values, and this CPU has no subnormal "
                "penalty; on a CPU that has one (some x86 cores take a slow path per subnormal operand) the "
                "states may differ: run the study there, or set profile.flush_denormal: true")
    return (f"no: the weight states hold {held:,} subnormal values and this CPU slows down on them; another CPU's "
            "penalty may be larger or smaller: run the study there")


def _cpu_lines(cpu: JSON) -> list[str]:
    """The page's paragraph on the CPU: its name, its subnormal penalty, whether the verdict transfers."""
    if not cpu.get("measured_on") and not cpu.get("subnormal_penalty"):
        return []
    lines = ["", "**Does this carry over to another CPU?**", ""]
    if cpu.get("measured_on"):
        lines.append(f"- The CPU points ran on {', '.join(cpu['measured_on'])}.")
    p = cpu.get("subnormal_penalty")
    if p:
        low, high = p["ci95"]
        lines.append(f"- Its subnormal penalty (paired, {p['rounds']} interleaved rounds, measured beside the "
                     f"matmul ceiling on {p['cpu']}): a {p['matrix_size']}×{p['matrix_size']} float32 matmul with "
                     f"subnormal weights took **{p['ratio']:.3f}×** [{low:.3f}, {high:.3f}] the time of the same "
                     f"product with normal weights (`{p['verdict']}` at ±{100 * p['threshold']:.0f} %)"
                     + (f"; with subnormals flushed to zero {p['flushed']['ratio']:.3f}× "
                        f"[{p['flushed']['ci95'][0]:.3f}, {p['flushed']['ci95'][1]:.3f}]" if p.get("flushed") else "")
                     + ".")
    lines.append(f"- Does the verdict carry over to another CPU (an Apple M3, an Intel node)? "
                 f"{cpu.get('carries_over', 'unknown')}.")
    return lines


def _coverage_lines(cov: dict[str, object] | None) -> list[str]:
    """The page's line on the study's own A/A coverage."""
    if not cov or not cov["stated"]:
        return []
    held, stated, pairs, interval = (cov["held"], cov["stated"], cov["pairs"], cov["interval"])
    assert isinstance(held, int) and isinstance(stated, int) and isinstance(pairs, int)
    assert isinstance(interval, list)
    low, high = interval
    return [f"- **A/A coverage**: {held} of the {stated} A/A controls' 95 % intervals hold 1 "
            f"({100 * held / stated:.0f} %, exact 95 % interval [{100 * low:.0f}, {100 * high:.0f}] %; "
            f"{pairs - stated} stated none): a second instance of a variant against itself, whose true ratio "
            "is 1. Calibrated 95 % intervals hold it 95 % of the time (`benchmarks/calibration.py` measures "
            "that on hundreds of comparisons).", ""]


def _pct(x: float) -> str:
    return f"{100 * (x - 1):+.1f} %"


def answer_markdown(answer: JSON) -> str:
    """The answer as the report's page: every figure is read from ``answer``."""
    t = answer["threshold"]
    lines = [f"# {answer['question']}", ""]
    headline = {"same": "No", "different": "Yes", "inconclusive": "Not decided"}[answer["verdict"]]
    lines += [f"**{headline}** (verdict `{answer['verdict']}`, threshold ±{100 * t:.0f} %): "
              + "; ".join(answer["reasons"]) + ".", ""]
    pooled = answer.get("pooled") or []
    if pooled:
        lines += ["Pooled over the points (random effects: each point may have its own true ratio; the pooled "
                  "ratio is their weighted geometric mean, its 95 % interval a Hartung-Knapp t interval over the "
                  "points):", ""]
        for p in pooled:
            model = f"{p['model']}: " if p.get("model") else ""
            what = f"{model}A/A control ({p['baseline']} weights)" if p["control"] else _what(p)
            half = f", ±{100 * p['half_width']:.1f} %" if p.get("half_width") is not None else ""
            lines.append(f"- {what}: **{_ci(p)}** over {p['points']} points{half}: `{p['verdict']}`")
        lines.append("")
    by_model = answer.get("by_model") or []
    if len(by_model) > 1:
        lines += ["Per model (each with its own trained and random weights, the A/A controls shared):", "",
                  "| model | verdict | why |", "|---|---|---|"]
        lines += [f"| {m['model']} | `{m['verdict']}` | {'; '.join(m['reasons'])} |" for m in by_model]
        lines.append("")
    rows = answer["comparisons"]
    if rows:
        lines += [f"Each pair was measured on the same jets, interleaved over rounds, in each of its group's fresh "
                  f"processes; {answer['method']}.", "",
                  "| model | device | backend | particles | batch | variant ÷ baseline | ratio | 95 % CI | rounds "
                  "| processes | between processes | verdict | memory ratio |",
                  "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for r in rows + answer["control"]:
            low, high = r["ci95"]
            ci = f"[{low:.3f}, {high:.3f}]" if low is not None else "–"
            ratio = f"{r['ratio']:.3f}" if r["ratio"] is not None else "–"
            mem = f"{r['memory_ratio']:.4f}" if r.get("memory_ratio") is not None else "not measured"
            label = (f"{r['variant'].split('/')[1]} ÷ {r['baseline'].split('/')[1]}" if not r["control"]
                     else "A/A control (second instance)")
            between = f"{100 * r['between_share']:.0f} %" if r.get("between_share") is not None else "–"
            lines.append(f"| {r['model']} | {r['device']} | {r['backend']}-{r['precision']} | {r['particles']} "
                         f"| {r['batch_size']} | {label} | {ratio} | {ci} | {r['rounds']} | {r.get('processes', 1)} "
                         f"| {between} | {r['verdict']} | {mem} |")
        lines.append("")
    lines += _coverage_lines(answer.get("aa_coverage"))
    if answer["memory_identical"]:
        lines.append("- Peak memory is identical to the byte at every compared point where it was measured.")
    if answer["flops_identical"]:
        lines.append("- FLOPs per jet are identical: the same operators on tensors of the same shapes.")
    sub = answer.get("subnormal") or {}
    if sub:
        lines += ["", "**Subnormal values** (float32 below 1.18e-38, which CPUs may process on a slow path):", ""]
        for state, c in sub.items():
            lines.append(f"- `{state}`: {c.get('weights', 0):,} of {c.get('weight_values', 0):,} checkpoint values; "
                         f"{c.get('activations', 0):,} of {c.get('activation_values', 0):,} activation values "
                         "in one forward")
    lines += _cpu_lines(answer.get("cpu") or {})
    flush = answer.get("flush_denormal")
    lines += ["", "Why: weight states of one architecture run the same operators on tensors of the same shapes, "
              "so FLOPs and activation sizes do not depend on the weights' values. Values can still matter "
              "through subnormal numbers: a checkpoint full of them (heavy weight decay, pruning towards zero, "
              "a badly dequantised file) can slow CPU arithmetic; their counts are above. "
              + ("These measurements ran with subnormals flushed to zero (`profile.flush_denormal: true`)."
                 if flush else "These measurements ran as users run (`profile.flush_denormal: false`); "
                 "`profile.flush_denormal: true` (torch.set_flush_denormal) removes the effect."), ""]
    return "\n".join(lines)
