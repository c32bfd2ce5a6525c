"""The deployment ladder: which variant is fastest here without costing accuracy?

Read from the paired comparisons against eager fp32 (``comparisons.csv``: axes
``backend``, ``precision`` and ``deployment`` whose baseline is ``eager-fp32``) and
from each point's ``quality`` (``points.csv``: its macro AUC and eager fp32's on the
same test jets, with the same weights). For every variant, per device and batch size:

- ``speedup`` = 1 ÷ the paired latency ratio, with its 95 % interval;
- ``delta_auc`` = the variant's macro AUC − eager fp32's (negative: a loss);
- ``within`` = the AUC loss is at most ``auc_loss`` (default 0.001). A variant scored
  on random weights has no meaningful AUC and is never chosen.

The fastest variant ``within`` the threshold is named per device and batch size
(``deployment.json``, ``deployment.md``), and ``jetprof plot deployment`` draws
speed-up against ΔAUC.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

BASELINE = "eager-fp32"


def ladder(comparisons: pd.DataFrame, points: pd.DataFrame, auc_loss: float) -> pd.DataFrame:
    """One row per variant compared with eager fp32, with its speed-up and ΔAUC."""
    rows = []
    if comparisons.empty:
        return pd.DataFrame(columns=["device", "batch_size", "particles", "weights", "model", "variant", "speedup",
                                     "speedup_low", "speedup_high", "verdict", "delta_auc", "auc_macro",
                                     "auc_reference", "within"])
    steps = comparisons[comparisons["axis"].isin(["backend", "precision", "deployment"])
                        & comparisons["baseline"].str.endswith(f"/{BASELINE}")
                        & ~comparisons["control"].astype(bool)]
    pts = points.copy()
    pts["particles"] = pts["particles"].astype(str)
    for row in steps.itertuples(index=False):
        model, weights, pair = row.variant.split("/")
        backend, precision = pair.rsplit("-", 1)
        match = pts[(pts["model"] == model) & (pts["weights"] == weights) & (pts["device"] == row.device)
                    & (pts["backend"] == backend) & (pts["precision"] == precision)
                    & (pts["particles"] == str(row.particles)) & (pts["batch_size"] == row.batch_size)]
        auc = ref = math.nan
        if len(match) and "quality_auc_macro" in match.columns:
            value, ref_value = match["quality_auc_macro"].iloc[0], match["quality_auc_macro_reference"].iloc[0]
            auc = float(value) if pd.notna(value) else math.nan
            ref = float(ref_value) if pd.notna(ref_value) else math.nan
        delta = auc - ref
        speedup = 1 / row.ratio if row.ratio and math.isfinite(row.ratio) else math.nan
        rows.append({
            "device": row.device, "batch_size": int(row.batch_size), "particles": str(row.particles),
            "weights": weights, "model": model, "variant": pair, "speedup": speedup,
            "speedup_low": 1 / row.ci95_high if row.ci95_high else math.nan,
            "speedup_high": 1 / row.ci95_low if row.ci95_low else math.nan,
            "verdict": row.verdict, "delta_auc": delta, "auc_macro": auc, "auc_reference": ref,
            "within": bool(math.isfinite(delta) and delta >= -auc_loss),
        })
    return pd.DataFrame(rows)


def fastest(table: pd.DataFrame) -> list[dict[str, Any]]:
    """Per device, inputs and batch size where variants were scored on the test jets: the
    fastest variant within the AUC threshold whose speed-up is established (its interval
    above 1), else a statement that none is."""
    out: list[dict[str, Any]] = []
    if table.empty:
        return out
    for (model, device, particles, bs), group in table.groupby(["model", "device", "particles", "batch_size"],
                                                                sort=True):
        if not group["delta_auc"].notna().any():
            continue  # not scored (random weights only, or synthetic jets): no accuracy to weigh
        usable = group[group["within"] & (group["speedup_low"] > 1)]
        if usable.empty:
            out.append({"model": model, "device": device, "particles": particles, "batch_size": int(bs),
                        "variant": BASELINE, "speedup": 1.0,
                        "note": "no variant is faster than eager fp32 within the AUC threshold"})
            continue
        best = usable.loc[usable["speedup"].idxmax()]
        out.append({"model": model, "device": device, "particles": particles, "batch_size": int(bs),
                    "variant": best["variant"],
                    "weights": best["weights"], "speedup": float(best["speedup"]),
                    "speedup_ci95": [float(best["speedup_low"]), float(best["speedup_high"])],
                    "delta_auc": float(best["delta_auc"])})
    return out


def deployment_markdown(table: pd.DataFrame, best: list[dict[str, Any]], auc_loss: float) -> str:
    lines = ["# The fastest variant within the accuracy budget", "",
             f"Each variant against eager PyTorch fp32 with the same weights, paired (same process, same "
             f"jets, interleaved rounds); accuracy on the study's test jets; budget: a macro-AUC loss of at "
             f"most {auc_loss:g}.", ""]
    for b in best:
        where = f"{b['model']}, {b['device']}, {_jets(b['particles'])}, batch {b['batch_size']}"
        if "note" in b:
            lines.append(f"- **{where}**: {b['note']}.")
        else:
            low, high = b["speedup_ci95"]
            lines.append(f"- **{where}: `{b['variant']}`**, "
                         f"{b['speedup']:.2f}× faster [{low:.2f}, {high:.2f}], ΔAUC {b['delta_auc']:+.4f}.")
    if not table.empty:
        lines += ["", "| model | device | inputs | batch | variant | weights | speed-up | 95 % CI | ΔAUC | within |",
                  "|---|---|---|---|---|---|---|---|---|---|"]
        ordered = table.sort_values(["model", "device", "particles", "batch_size", "speedup"],
                                    ascending=[True, True, True, True, False])
        for r in ordered.itertuples():
            why = "random weights" if r.weights == "random" else "not scored"
            delta = f"{r.delta_auc:+.4f}" if math.isfinite(r.delta_auc) else f"– ({why})"
            lines.append(f"| {r.model} | {r.device} | {_jets(r.particles)} | {r.batch_size} | {r.variant} "
                         f"| {r.weights} | {r.speedup:.2f}× "
                         f"| [{r.speedup_low:.2f}, {r.speedup_high:.2f}] | {delta} | {'yes' if r.within else 'no'} |")
    return "\n".join(lines) + "\n"


def _jets(particles: str) -> str:
    return "real jets" if str(particles) == "real" else f"{particles} particles"

