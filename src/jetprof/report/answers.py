"""The study's answer to the seed's question: does the weight state change the cost?

Read from the paired comparisons (``comparisons.csv``, :mod:`jetprof.report.compare`),
never recomputed: the answer's verdict is

* ``different`` if any weight comparison's CI lies outside 1 ± threshold;
* ``same`` if every weight comparison's CI lies inside it and the A/A control, a
  second instance of the same variant measured as if it were another, is ``same``
  too (a control that is not ``same`` means the machine was too noisy to tell);
* ``inconclusive`` otherwise.

Peak memory and FLOPs are compared exactly. The subnormal counts of each weight
state (values in the checkpoint, values in one forward's activations) say whether
the one known way weight values change CPU cost is present.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from jetprof import stats

QUESTION = "Does the weight state change forward-pass latency or memory?"


def as_json_rows(table: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows for JSON: ``ci95`` as [low, high], NaN as null."""
    out = []
    for row in table.to_dict("records"):
        clean = {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()}
        clean["ci95"] = [clean.pop("ci95_low"), clean.pop("ci95_high")]
        out.append(clean)
    return out


def _verdict(rows: pd.DataFrame, controls: pd.DataFrame) -> tuple[str, list[str]]:
    reasons = []
    if rows.empty:
        return "inconclusive", ["no point was measured with more than one weight state"]
    verdicts = rows["verdict"].tolist()
    if "different" in verdicts:
        n = verdicts.count("different")
        return "different", [f"{n} of {len(verdicts)} weight comparison(s) differ beyond the threshold"]
    undecided = [v for v in verdicts if v != "same"]
    bad_controls = controls[controls["verdict"] != "same"]
    if undecided:
        reasons.append(f"{len(undecided)} of {len(verdicts)} weight comparison(s) not decided "
                       f"({', '.join(sorted(set(undecided)))})")
    if not bad_controls.empty:
        reasons.append(f"the A/A control is not 'same' at {len(bad_controls)} of {len(controls)} point(s): "
                       "the machine was too noisy to tell")
    if reasons:
        return "inconclusive", reasons
    return "same", [f"all {len(verdicts)} weight comparison(s) lie within the threshold"
                    + (f", and the A/A control at all {len(controls)} point(s)" if len(controls) else "")]


def weights_answer(table: pd.DataFrame, subnormal: dict[str, dict[str, Any]] | None = None,
                   flush_denormal: bool | None = None, threshold: float | None = None) -> dict[str, Any]:
    """The answer as a JSON-able dict (``weights_answer.json``).

    Args:
        table: the comparisons (``jetprof.report.compare.comparisons``).
        subnormal: per weight state (``model/weights``), its subnormal counts.
        flush_denormal: whether the measurements ran with subnormals flushed to zero.
        threshold: the practical threshold (default: the table's).
    """
    weights = table[table["axis"] == "weights"] if not table.empty else table
    controls = table[table["axis"] == "control"] if not table.empty else table
    if threshold is None:
        threshold = float(table["threshold"].iloc[0]) if not table.empty else math.nan
    verdict, reasons = _verdict(weights, controls)
    mem = weights["memory_ratio"].dropna() if not weights.empty else pd.Series(dtype=float)
    flops = weights["flops_ratio"].dropna() if not weights.empty else pd.Series(dtype=float)
    return {
        "question": QUESTION,
        "verdict": verdict,
        "reasons": reasons,
        "threshold": threshold,
        "method": stats.METHOD,
        "comparisons": as_json_rows(weights),
        "control": as_json_rows(controls),
        "memory_identical": bool(len(mem) and (mem == 1.0).all()),
        "flops_identical": bool(len(flops) and (flops == 1.0).all()),
        "subnormal": subnormal or {},
        "flush_denormal": flush_denormal,
    }


def _pct(x: float) -> str:
    return f"{100 * (x - 1):+.1f} %"


def answer_markdown(answer: dict[str, Any]) -> str:
    """The answer as the report's page: every figure is read from ``answer``."""
    t = answer["threshold"]
    lines = [f"# {answer['question']}", ""]
    headline = {"same": "No", "different": "Yes", "inconclusive": "Not decided"}[answer["verdict"]]
    lines += [f"**{headline}** (verdict `{answer['verdict']}`, threshold ±{100 * t:.0f} %): "
              + "; ".join(answer["reasons"]) + ".", ""]
    rows = answer["comparisons"]
    if rows:
        lines += [f"Each pair was measured in one process on the same jets, interleaved over rounds; "
                  f"the ratio is {answer['method']}.", "",
                  "| device | backend | particles | batch | variant ÷ baseline | ratio | 95 % CI | rounds | verdict "
                  "| memory ratio |",
                  "|---|---|---|---|---|---|---|---|---|---|"]
        for r in rows + answer["control"]:
            low, high = r["ci95"]
            ci = f"[{low:.3f}, {high:.3f}]" if low is not None else "–"
            ratio = f"{r['ratio']:.3f}" if r["ratio"] is not None else "–"
            mem = f"{r['memory_ratio']:.4f}" if r.get("memory_ratio") is not None else "not measured"
            label = (f"{r['variant'].split('/')[1]} ÷ {r['baseline'].split('/')[1]}" if not r["control"]
                     else "A/A control (second instance)")
            lines.append(f"| {r['device']} | {r['backend']}-{r['precision']} | {r['particles']} | {r['batch_size']} "
                         f"| {label} | {ratio} | {ci} | {r['rounds']} | {r['verdict']} | {mem} |")
        lines.append("")
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
    flush = answer.get("flush_denormal")
    lines += ["", "Why: weight states of one architecture run the same operators on tensors of the same shapes, "
              "so FLOPs and activation sizes do not depend on the weights' values. Values can still matter "
              "through subnormal numbers: a checkpoint full of them (heavy weight decay, pruning towards zero, "
              "a badly dequantised file) can slow CPU arithmetic; their counts are above. "
              + ("These measurements ran with subnormals flushed to zero (`profile.flush_denormal: true`)."
                 if flush else "These measurements ran as users run (`profile.flush_denormal: false`); "
                 "`profile.flush_denormal: true` (torch.set_flush_denormal) removes the effect."), ""]
    return "\n".join(lines)
