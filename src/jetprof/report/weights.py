"""Does the weight state change the forward pass? The weights figure and the text answer.

``weights_comparison`` draws random vs trained vs pretrained latency and memory at
equal inputs; ``weights_answer`` writes the short text (Markdown or reStructuredText)
that answers the question from the measurements (``jetprof plot weights_answer``).

Moved here unchanged from the former ``jetprof.report.plots`` (the shared helpers are
imported under their old private names); it is due to be rewritten on the paired
measurements.
"""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from jetprof.report.style import (
    PRECISION_MARKERS,
    WEIGHTS_ALPHA,
    WEIGHTS_HATCH,
    MiB,
    Plot,
    apply_filters,
    device_colour,
    footer_text,
    series_label,
)
from jetprof.report.style import experiment_label as _label
from jetprof.report.style import no_data as _no_data
from jetprof.report.style import num as _num
from jetprof.report.style import ordered as _ordered
from jetprof.report.style import series_of as _series
from jetprof.report.style import styled as _styled
from jetprof.report.summarize import WEIGHTS_ORDER


@_styled
def weights_comparison(table: pd.DataFrame, device: str | None = None,
                       backend: str | None = None, precision: str | None = None,
                       particles: str | None = None) -> Plot:
    """Random vs trained vs pretrained: latency and memory at equal inputs.

    Bars per batch size and weight state (p5–p95 error bars on latency), with a
    ratio panel to the first weight state below each.
    """
    rows = apply_filters(table, device=device, backend=backend, precision=precision)
    if particles is None and not rows.empty:
        values = rows["particles"].astype(str)
        particles = "real" if (values == "real").any() else values.value_counts().index[0]
    rows = apply_filters(rows, particles=particles)
    rows = rows[rows["status"] == "ok"]
    chosen: tuple[str, str, str] | None = None
    for series in _series(rows):
        group = rows[(rows["device"] == series[0]) & (rows["backend"] == series[1])
                     & (rows["precision"] == series[2])]
        if group["weights"].nunique() >= 2:
            chosen = series
            break
    fig, axes = plt.subplots(2, 2, figsize=(16, 8.5), sharex="col",
                             gridspec_kw={"height_ratios": [3, 1], "hspace": 0.05})
    if chosen is None:
        for ax in axes.flat:
            ax.set_axis_off()
        _no_data(fig, axes[0][0], "fewer than two weight states measured at the same point")
        return Plot(fig, pd.DataFrame())
    device, backend, precision = chosen
    rows = rows[(rows["device"] == device) & (rows["backend"] == backend)
                & (rows["precision"] == precision)]
    states = _ordered(rows["weights"], WEIGHTS_ORDER)
    batches = sorted({int(b) for b in rows["batch_size"]})
    colour = device_colour(device)
    width = 0.8 / len(states)
    drawn = []
    panels = (("latency", "latency_ms_p50", "latency_ms_p5", "latency_ms_p95", 1.0,
               "forward latency per batch [ms]"),
              ("memory", "peak_memory_bytes", None, None, 1 / MiB, "peak memory [MiB]"))
    for col, (quantity, central, low, high, scale, ylabel) in enumerate(panels):
        ax, rax = axes[0][col], axes[1][col]
        reference: dict[int, float] = {}
        for i, state in enumerate(states):
            sel = rows[rows["weights"] == state].copy()
            sel["batch_size"] = sel["batch_size"].astype(int)
            sel = sel.set_index("batch_size")
            xs, ys, lo, hi = [], [], [], []
            for j, batch in enumerate(batches):
                if batch not in sel.index:
                    continue
                row = sel.loc[batch]
                y = _num(row.get(central)) * scale
                if not np.isfinite(y):
                    continue
                ylo = _num(row.get(low)) * scale if low else y
                yhi = _num(row.get(high)) * scale if high else y
                xs.append(j + (i - (len(states) - 1) / 2) * width)
                ys.append(y)
                lo.append(ylo)
                hi.append(yhi)
                if i == 0:
                    reference[batch] = y
                ref = reference.get(batch, math.nan)
                drawn.append({"quantity": quantity, "weights": state, "batch_size": batch,
                              "y": y, "y_low": ylo, "y_high": yhi, "ratio": y / ref})
                rax.errorbar([xs[-1]], [y / ref],
                             yerr=[[(y - ylo) / ref], [(yhi - y) / ref]] if high else None,
                             fmt=PRECISION_MARKERS.get(precision, "o"), color=colour,
                             alpha=max(WEIGHTS_ALPHA.get(state, 1.0), 0.5), markersize=7)
            if not xs:
                continue
            yerr = [np.subtract(ys, lo), np.subtract(hi, ys)] if high else None
            ax.bar(xs, ys, width=width * 0.95, color=colour, alpha=WEIGHTS_ALPHA.get(state, 0.8),
                   hatch=WEIGHTS_HATCH.get(state, ""), edgecolor="black", linewidth=1,
                   yerr=yerr, capsize=4, error_kw={"elinewidth": 1.5}, label=state)
        ax.set_yscale("log")
        ax.set_ylabel(ylabel)
        _, top = ax.get_ylim()
        ax.set_ylim(top=top * 6)
        ax.legend(loc="upper left", fontsize=12, ncol=len(states),
                  title=f"{series_label(device, backend, precision)}, "
                        f"{'real jets' if particles == 'real' else f'{particles} particles'}",
                  title_fontsize=11)
        rax.axhline(1.0, color="0.3", linewidth=1)
        rax.set_ylabel(f"ratio to {states[0]}", fontsize=13)
        rax.set_xticks(range(len(batches)))
        rax.set_xticklabels([str(b) for b in batches])
        rax.set_xlabel("batch size [jets]")
        rax.set_xlim(-0.6, len(batches) - 0.4)
        ratios = [d["ratio"] for d in drawn if d["quantity"] == quantity and np.isfinite(d["ratio"])]
        spread = max([abs(r - 1) for r in ratios] + [0.05])
        rax.set_ylim(1 - 1.6 * spread, 1 + 1.6 * spread)
        ax.tick_params(axis="x", which="both", bottom=False, top=False)
        _label(ax, f"weight states, {quantity}")
    fig.subplots_adjust(left=0.07, right=0.98, top=0.93, bottom=0.12, wspace=0.22)
    fig.text(0.01, 0.008, footer_text(rows), ha="left", va="bottom", fontsize=9, color="0.35")
    return Plot(fig, pd.DataFrame(drawn, columns=["quantity", "weights", "batch_size", "y",
                                                  "y_low", "y_high", "ratio"]))


# ----------------------------------------------------------------------------
# the text answer to "does the weight state change latency or memory?"


def weights_ratios(table: pd.DataFrame) -> pd.DataFrame:
    """Per point measured under several weight states: ratios to the first state.

    Returns:
        One row per (device, backend, precision, particles, batch_size, weights)
        other than the reference: latency and memory ratios, and whether the
        p5–p95 latency ranges of the two overlap (i.e. within run-to-run noise).
    """
    ok = table[table["status"] == "ok"]
    out = []
    keys = ["model", "device", "backend", "precision", "particles", "batch_size"]
    for key, group in ok.groupby(keys, sort=True):
        states = _ordered(group["weights"], WEIGHTS_ORDER)
        if len(states) < 2:
            continue
        ref = group[group["weights"] == states[0]].iloc[0]
        for state in states[1:]:
            row = group[group["weights"] == state].iloc[0]
            lat_ratio = _num(row["latency_ms_p50"]) / _num(ref["latency_ms_p50"])
            mem_ratio = _num(row.get("peak_memory_bytes")) / _num(ref.get("peak_memory_bytes"))
            overlap = (_num(row["latency_ms_p5"]) <= _num(ref["latency_ms_p95"])
                       and _num(ref["latency_ms_p5"]) <= _num(row["latency_ms_p95"]))
            noise = max(
                (_num(r["latency_ms_p95"]) - _num(r["latency_ms_p5"])) / (2 * _num(r["latency_ms_p50"]))
                for r in (ref, row))
            out.append({**dict(zip(keys, key)), "reference": states[0], "weights": state,
                        "latency_ratio": lat_ratio, "latency_noise": noise,
                        "within_noise": bool(overlap),
                        "memory_ratio": mem_ratio,
                        "same_flops": _num(row.get("flops_per_jet")) == _num(ref.get("flops_per_jet")),
                        "same_params": _num(row.get("params")) == _num(ref.get("params"))})
    return pd.DataFrame(out)


def weights_answer(table: pd.DataFrame, fmt: str = "md") -> tuple[str, pd.DataFrame]:
    """A short text answering the weight-state question from the measurements.

    Args:
        table: the summary table.
        fmt: ``md`` (Markdown) or ``rst`` (reStructuredText).

    Returns:
        The text and the ratios it quotes.
    """
    ratios = weights_ratios(table)
    title = "Does the weight state change forward-pass latency or memory?"
    head = [title, "=" * len(title)] if fmt == "rst" else [f"# {title}"]
    lines = head + [""]
    if ratios.empty:
        states = _ordered(table["weights"], WEIGHTS_ORDER) if not table.empty else []
        lines.append(
            "Not answerable from these measurements: no point was measured ok with more "
            f"than one weight state (measured: {', '.join(states) or 'none'}). Add "
            "`random` and `trained` (and `pretrained`) to `profile.weights` in the config.")
        return "\n".join(lines) + "\n", ratios
    code = "``{}``" if fmt == "rst" else "`{}`"
    n = len(ratios)
    within = int(ratios["within_noise"].sum())
    lat = ratios["latency_ratio"].dropna()
    mem = ratios["memory_ratio"].dropna()
    states = sorted(set(ratios["reference"]) | set(ratios["weights"]),
                    key=lambda s: WEIGHTS_ORDER.index(s) if s in WEIGHTS_ORDER else 99)
    memory_differs = bool((abs(mem - 1.0) > 0.01).any())
    if within == n and not memory_differs:
        verdict = "No measurable difference."
    else:
        problems = []
        if within < n:
            problems.append(f"at {n - within} of {n} points the latency ranges (p5–p95) "
                            "do not overlap")
        if memory_differs:
            problems.append("peak memory differs by more than 1 % at "
                            f"{int((abs(mem - 1.0) > 0.01).sum())} point(s)")
        verdict = ("Differences beyond run-to-run noise: " + "; ".join(problems)
                   + ". See the flagged points below.")
    lines += [
        f"**{verdict}** Compared {' and '.join(states)} weights at {n} point(s) with "
        "identical inputs (same device, backend, precision, batch size and jets).",
        "",
        f"- Latency ratio (median, to {code.format(ratios['reference'].iloc[0])}): "
        f"{lat.min():.3f} to {lat.max():.3f} (mean {lat.mean():.3f}); "
        f"run-to-run noise (half the p5–p95 width) up to ±{100 * ratios['latency_noise'].max():.1f} %; "
        f"p5–p95 ranges overlap at {within} of {n} points.",
    ]
    if not mem.empty:
        identical = int((mem == 1.0).sum())
        lines.append(f"- Peak-memory ratio: {mem.min():.4f} to {mem.max():.4f}"
                     f" (identical bytes at {identical} of {len(mem)} points).")
    if ratios["same_flops"].all() and ratios["same_params"].all():
        lines.append("- FLOPs per jet and parameter counts are identical across weight states.")
    lines += [
        "",
        "Why: the weight states share one architecture, so every forward pass runs the same "
        "operators on tensors of the same shapes with dense kernels; the number of "
        "multiply-adds and the sizes of the activations do not depend on the values of the "
        "weights. The one data-dependent step in ParT, the sequence trimmer, depends on the "
        "input mask (the jets), not on the weights. Remaining caveats: subnormal floating-point "
        "values can slow some CPU kernels, and the timing noise of a shared machine.",
        "",
    ]
    flagged = ratios[~ratios["within_noise"]]
    lines.append("Compared points" + (" (flagged: beyond noise)" if not flagged.empty else "") + ":")
    lines.append("")
    for row in ratios.itertuples(index=False):
        mark = "" if row.within_noise else " **beyond noise**"
        mem_text = f", memory ×{row.memory_ratio:.4f}" if np.isfinite(row.memory_ratio) else ""
        lines.append(f"- {row.device} {row.backend} {row.precision}, batch {row.batch_size}, "
                     f"particles {row.particles}: {row.weights}/{row.reference} latency "
                     f"×{row.latency_ratio:.3f} (noise ±{100 * row.latency_noise:.1f} %){mem_text}"
                     f"{mark}")
    return "\n".join(lines) + "\n", ratios
