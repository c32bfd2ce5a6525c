"""Figures of the paired comparisons, drawn from ``comparisons.csv`` and nothing else.

Each row of the table is one comparison: a ratio (variant ÷ baseline) with its 95 %
interval and the verdict that ``jetprof compare`` gave it. The figures draw these
values; none computes a ratio or a verdict of its own.

* ``weights_comparison``: the weight states against random weights, and the A/A
  control, point by point, with the practical threshold shaded;
* ``comparisons``: every other axis (backends, precisions, models) on a log scale;
* ``speedup_vs_batch``: the backend, precision and deployment comparisons as the
  speedup baseline ÷ variant (the inverse of the table's ratio and interval) against
  batch size, one line per device, inputs, baseline and variant: where a rung starts
  to pay and where it stops. Lines take the variant backend's style and colour and its
  precision's marker (:mod:`jetprof.registry`); an open marker is a verdict other than
  ``different``.
"""

from __future__ import annotations

import math
import os

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from jetprof.report.style import BACKEND_COLOURS, BACKEND_STYLES, PRECISION_MARKERS, STYLE, Plot, log_batch_axis

VERDICT_COLOURS = {"same": "#3f90da", "different": "#bd1f01", "inconclusive": "#e76300"}
COLUMNS = ["axis", "label", "ratio", "ci95_low", "ci95_high", "verdict", "control"]


def load_comparisons(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read ``comparisons.csv`` (written by ``jetprof compare``)."""
    from jetprof.report.summarize import read_table

    return read_table(path, "comparisons table", ("axis", "baseline", "variant", "ratio", "ci95_low", "ci95_high",
                                                   "verdict", "threshold", "device", "batch_size", "particles"))


def _label(row: pd.Series) -> str:
    """``cpu · eager-fp32 · real jets · bs 8: trained ÷ random``."""
    base, var = str(row["baseline"]), str(row["variant"])
    if row["axis"] == "control":
        what = "A/A control"
    elif row["axis"] == "weights":
        what = f"{var.split('/')[1]} ÷ {base.split('/')[1]}"
    elif row["axis"] == "model":
        what = f"{var.split('/')[0]} ÷ {base.split('/')[0]}"
    else:  # backend, precision, deployment: the backend-precision pairs
        what = f"{var.split('/')[-1]} ÷ {base.split('/')[-1]}"
    particles = "real jets" if str(row["particles"]) == "real" else f"{row['particles']} particles"
    head = base.split("/")[-1].split("#")[0] if row["axis"] in ("weights", "control") else base.split("/")[1]
    return f"{row['device']} · {head} · {particles} · bs {int(row['batch_size'])}: {what}"


def _forest(table: pd.DataFrame, title: str, log: bool) -> Plot:
    """One row per comparison: the ratio with its interval, coloured by verdict."""
    with plt.style.context(STYLE):
        rows = table.reset_index(drop=True)
        height = max(4.0, 0.45 * len(rows) + 2.6)
        fig, ax = plt.subplots(figsize=(15, height), layout="constrained")
        drawn = []
        if rows.empty:
            ax.set_axis_off()
            ax.text(0.5, 0.5, "no comparison of this kind was measured", ha="center", va="center",
                    transform=ax.transAxes, fontsize=16, color="0.35")
            return Plot(fig, pd.DataFrame(columns=COLUMNS))
        threshold = float(rows["threshold"].iloc[0])
        ax.axvspan(1 - threshold, 1 + threshold, color="0.85", zorder=0,
                   label=f"practical threshold ±{100 * threshold:g} %")
        ax.axvline(1.0, color="0.3", linewidth=1, zorder=1)
        for i, row in rows.iterrows():
            y = len(rows) - 1 - i
            verdict = str(row["verdict"])
            colour = VERDICT_COLOURS.get(verdict, "0.5")
            ratio, low, high = float(row["ratio"]), float(row["ci95_low"]), float(row["ci95_high"])
            if math.isfinite(ratio):
                ax.errorbar([ratio], [y], xerr=[[ratio - low], [high - ratio]], fmt="D" if row["axis"] == "control"
                            else "o", color=colour, markersize=8, capsize=5, elinewidth=2, zorder=3)
            drawn.append({"axis": row["axis"], "label": _label(row), "ratio": ratio, "ci95_low": low,
                          "ci95_high": high, "verdict": verdict, "control": row["axis"] == "control"})
        ax.set_yticks(range(len(rows)))
        ax.set_yticklabels([d["label"] for d in drawn][::-1], fontsize=12)
        ax.set_ylim(-0.7, len(rows) - 0.3)
        if log:
            from matplotlib.ticker import FixedLocator, NullLocator

            ax.set_xscale("log")
        finite = rows[["ci95_low", "ci95_high"]].to_numpy(dtype=float)
        finite = finite[np.isfinite(finite)]
        lo = min([1 - 1.6 * threshold, *(finite.tolist())]) if finite.size else 1 - 2 * threshold
        hi = max([1 + 1.6 * threshold, *(finite.tolist())]) if finite.size else 1 + 2 * threshold
        pad = (hi / lo) ** 0.08 if log else 0.08 * (hi - lo)
        ax.set_xlim(lo / pad if log else lo - pad, hi * pad if log else hi + pad)
        if log:
            left, right = ax.get_xlim()
            nice = [m * 10.0**e for e in range(-3, 4) for m in (1, 1.5, 2, 2.5, 3, 4, 5, 6, 7, 8)]
            ticks = [x for x in nice if left <= x <= right]
            ax.xaxis.set_major_locator(FixedLocator(ticks))
            ax.xaxis.set_minor_locator(NullLocator())
            ax.set_xticklabels([f"{x:g}" for x in ticks])
        ax.set_xlabel("latency ratio, variant ÷ baseline (median of paired rounds, 95 % CI)")
        for verdict, colour in VERDICT_COLOURS.items():
            ax.plot([], [], "o", color=colour, label=verdict)
        ax.legend(loc="lower left", bbox_to_anchor=(0.0, 1.01), fontsize=11, ncol=4, frameon=False)
        fig.suptitle(title, fontsize=16, x=0.01, ha="left")
        ax.grid(True, axis="x", which="both", alpha=0.3)
        return Plot(fig, pd.DataFrame(drawn, columns=COLUMNS))


def weights_comparison(table: pd.DataFrame) -> Plot:
    """Weight states against random weights, and the A/A control, per point."""
    rows = table[table["axis"].isin(["weights", "control"])]
    return _forest(rows, "Does the weight state change latency? (paired, same jets)", log=False)


def comparisons(table: pd.DataFrame) -> Plot:
    """Backends, precisions and models against their baselines, per point (log scale)."""
    rows = table[table["axis"].isin(["backend", "precision", "deployment", "model"])]
    return _forest(rows, "Backends, precisions and models, paired at equal jets", log=True)


def deployment(doc: dict) -> Plot:
    """Speed-up over eager fp32 (paired, 95 % CI) against the macro-AUC change, per
    variant scored on the test jets; one panel per batch size, the accuracy budget
    shaded, variants within it in blue, the others grey. Drawn from
    ``deployment.json`` (``jetprof compare --deployment-json``)."""
    rows = pd.DataFrame(doc.get("variants") or [])
    with plt.style.context(STYLE):
        if not rows.empty:
            rows = rows[rows["delta_auc"].notna()]
        sizes = sorted(rows["batch_size"].unique()) if not rows.empty else []
        fig, axes = plt.subplots(1, max(1, len(sizes)), figsize=(6.5 * max(1, len(sizes)), 6), squeeze=False,
                                 layout="constrained")
        drawn = []
        if rows.empty:
            axes[0][0].set_axis_off()
            axes[0][0].text(0.5, 0.5, "no variant was scored against eager fp32", ha="center", va="center",
                            transform=axes[0][0].transAxes, fontsize=16, color="0.35")
            return Plot(fig, pd.DataFrame(columns=["batch_size", "variant", "speedup", "delta_auc"]))
        budget = float(doc.get("auc_loss", 0.001))
        for ax, bs in zip(axes[0], sizes, strict=False):
            sel = rows[(rows["batch_size"] == bs) & rows["delta_auc"].notna()]
            ax.axvspan(-budget, max(budget, 1e-9), color="0.88", zorder=0, label=f"AUC budget ({budget:g})")
            ax.axhline(1.0, color="0.3", linewidth=1)
            for r in sel.itertuples():
                colour = VERDICT_COLOURS["same"] if r.within else "0.55"
                error = [[r.speedup - r.speedup_low], [r.speedup_high - r.speedup]]
                ax.errorbar([r.delta_auc], [r.speedup], yerr=error, fmt="o", color=colour, capsize=4, markersize=8)
                several = "model" in rows and rows["model"].nunique() > 1
                label = f"{r.model} {r.variant}" if several else r.variant
                ax.annotate(label, (r.delta_auc, r.speedup), textcoords="offset points", xytext=(6, 4),
                            fontsize=11 if not several else 9)
                drawn.append({"batch_size": int(bs), "variant": r.variant, "speedup": r.speedup,
                              "delta_auc": r.delta_auc})
            if sel.empty:
                ax.text(0.5, 0.5, "no trained weights scored", ha="center", va="center",
                        transform=ax.transAxes, fontsize=13, color="0.35")
            if len(sel):
                spread = max(3 * budget, float(sel["delta_auc"].abs().max()) * 1.3)
                ax.set_xlim(-spread, spread)
                top = max(1.1, float(sel["speedup_high"].max()) * 1.1)
                ax.set_ylim(min(0.9, float(sel["speedup_low"].min()) * 0.9), top)
            ax.text(0.99, 1.0, "eager fp32", transform=ax.get_yaxis_transform(), ha="right", va="bottom",
                    fontsize=10, color="0.3")
            ax.set_xlabel("Δ macro AUC vs eager fp32")
            ax.set_ylabel("speed-up over eager fp32 (paired)")
            ax.set_title(f"batch {bs}", fontsize=15, loc="left")
            ax.grid(True, which="both", alpha=0.3)
            ax.legend(loc="lower left", fontsize=10)
        return Plot(fig, pd.DataFrame(drawn, columns=["batch_size", "variant", "speedup", "delta_auc"]))


#: the comparisons a deployment makes (weights, models and the A/A control are other figures')
SPEEDUP_AXES = ("backend", "precision", "deployment")
SPEEDUP_COLUMNS = ["device", "particles", "baseline", "variant", "x", "y", "y_low", "y_high", "verdict"]


def _backend_precision(label: str) -> tuple[str, str]:
    """``ParT_full/trained/onnxruntime-int8`` -> ``("onnxruntime", "int8")``."""
    backend, _, precision = label.split("/")[-1].split("#")[0].rpartition("-")
    return backend, precision


def speedup_points(table: pd.DataFrame) -> pd.DataFrame:
    """The speedups drawn: one row per comparison of :data:`SPEEDUP_AXES` (``x`` the batch size,
    ``y`` = 1 / ratio, ``y_low``/``y_high`` = 1 / the ratio's interval)."""
    rows = table[table["axis"].isin(SPEEDUP_AXES)]
    out = []
    for _, r in rows.iterrows():
        ratio, low, high = float(r["ratio"]), float(r["ci95_low"]), float(r["ci95_high"])
        if not (math.isfinite(ratio) and ratio > 0):
            continue
        out.append({"device": str(r["device"]), "particles": str(r["particles"]), "baseline": str(r["baseline"]),
                    "variant": str(r["variant"]), "x": int(r["batch_size"]), "y": 1.0 / ratio,
                    "y_low": 1.0 / high if high > 0 else math.nan, "y_high": 1.0 / low if low > 0 else math.inf,
                    "verdict": str(r["verdict"])})
    data = pd.DataFrame(out, columns=SPEEDUP_COLUMNS)
    return data.sort_values(["device", "particles", "baseline", "variant", "x"], ignore_index=True)


def speedup_vs_batch(table: pd.DataFrame) -> Plot:
    """Baseline ÷ variant latency (paired, 95 % CI) against batch size, per variant."""
    data = speedup_points(table)
    with plt.style.context(STYLE):
        fig, ax = plt.subplots(figsize=(11, 7.5), layout="constrained")
        if data.empty:
            ax.set_axis_off()
            ax.text(0.5, 0.5, "no backend, precision or deployment comparison was measured", ha="center",
                    va="center", transform=ax.transAxes, fontsize=15, color="0.35")
            return Plot(fig, data)
        ax.axhline(1.0, color="0.3", linewidth=1)
        for (device, particles, baseline, variant), line in data.groupby(
                ["device", "particles", "baseline", "variant"], sort=False):
            backend, precision = _backend_precision(variant)
            colour = BACKEND_COLOURS.get(backend, "0.4")
            jets = "real jets" if particles == "real" else f"{particles} particles"
            label = f"{device} · {jets} · {variant.split('/')[-1]} over {baseline.split('/')[-1]}"
            ax.fill_between(line["x"], line["y_low"], line["y_high"].clip(upper=1e3), color=colour, alpha=0.15,
                            linewidth=0)
            ax.plot(line["x"], line["y"], linestyle=BACKEND_STYLES.get(backend, "-."), color=colour, label=label)
            for _, p in line.iterrows():
                error = [[p["y"] - p["y_low"]], [min(p["y_high"], 1e3) - p["y"]]]
                ax.errorbar([p["x"]], [p["y"]], yerr=error, marker=PRECISION_MARKERS.get(precision, "D"),
                            markersize=8, capsize=4, color=colour, linestyle="none",
                            markerfacecolor=colour if p["verdict"] == "different" else "white")
        log_batch_axis(ax, data)
        ax.set_yscale("log")
        from matplotlib.ticker import FuncFormatter

        for axis in (ax.yaxis.set_major_formatter, ax.yaxis.set_minor_formatter):
            axis(FuncFormatter(lambda v, _pos: f"{v:.3g}×"))
        ax.set_ylabel("speedup over baseline (paired, 95 % CI)")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=10, loc="best")
        fig.suptitle("Where does each rung pay off? (paired, same jets)", fontsize=16, x=0.01, ha="left")
        return Plot(fig, data)
