"""The per-op breakdown: which operators take the forward pass's time, per batch size.

Drawn from the records themselves (their ``ops_table`` CSV or ``top_ops``), not from
the summary table.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from jetprof.contract import ONNX_BACKENDS
from jetprof.records import PointRecord
from jetprof.report.style import (
    Plot,
    experiment_label,
    footer_text,
    main_grid,
    new_figure,
    no_data,
    num,
    selection_text,
    series_label,
    series_of,
    styled,
)


def _ops_of(record: PointRecord, path: Path) -> list[tuple[str, float]]:
    """(op name, self time in ms) of one record: its ops table if readable, else top_ops."""
    table_path = record.ops_table
    if table_path:
        csv_path = (path.parent / table_path) if not Path(table_path).is_absolute() else Path(table_path)
        if csv_path.is_file():
            try:
                ops = pd.read_csv(csv_path)
            except (pd.errors.ParserError, pd.errors.EmptyDataError):
                ops = pd.DataFrame()
            sorted_by = record.profiler.sorted_by if record.profiler else None
            time_cols = [c for c in ops.columns if c.startswith("self") and c.endswith("ms")]
            if sorted_by in ops.columns:
                time_cols = [sorted_by]
            if "name" in ops.columns and time_cols:
                return [(str(n), float(t)) for n, t in zip(ops["name"], ops[time_cols[0]])
                        if np.isfinite(num(t))]
    return [(str(op["name"]), float(op["self_ms"])) for op in record.top_ops
            if isinstance(op, dict) and "name" in op and np.isfinite(num(op.get("self_ms")))]


@styled
def op_breakdown(records: Sequence[tuple[Path, PointRecord]], *, weights: str,
                 particles: str, top: int = 8) -> Plot:
    """Share of profiled self time per op and batch size (top ops + "other").

    One panel per (device, backend, precision) profiled with torch.profiler
    (ONNX Runtime's and OpenVINO's own profilers name their nodes differently: left out). The
    time column is the record's ``profiler.sorted_by`` (self CPU time, or self
    device time on CUDA) of its ops table, else ``top_ops``.

    Args:
        records: (path, record) pairs of one model, as ``load_records`` reads them.
        weights: the weight state shown.
        particles: ``"real"`` or the particle count of the main grid shown.
        top: ops named in the legend; the rest are "other".
    """
    usable = [(p, r) for p, r in records if r.status == "ok" and r.backend not in ONNX_BACKENDS]
    table = pd.DataFrame([{"device": r.device, "backend": r.backend, "precision": r.precision,
                           "weights": r.weights, "particles": str(r.particles), "batch_size": r.batch_size,
                           "_i": i} for i, (_, r) in enumerate(usable)])
    if not table.empty:
        table = main_grid(table, weights, particles)
    ops_by_row = {int(i): _ops_of(usable[int(i)][1], usable[int(i)][0])
                  for i in (table["_i"] if not table.empty else [])}
    table = table[[bool(ops_by_row[int(i)]) for i in table["_i"]]] if not table.empty else table
    panels = series_of(table) if not table.empty else []
    panels = panels[:4]
    legend_width = 5.5
    fig, axes = new_figure(ncols=max(len(panels), 1),
                            figsize=(max(len(panels), 1) * 8.0 + legend_width, 7.2))
    if not panels:
        no_data(fig, axes[0][0], "no per-op profiles (top_ops / ops_table) in the records")
        return Plot(fig, pd.DataFrame())
    # shares per (panel, batch)
    shares: dict[tuple[tuple[str, str, str], int], dict[str, float]] = {}
    totals: dict[str, float] = {}
    for series in panels:
        sel = table[(table["device"] == series[0]) & (table["backend"] == series[1])
                    & (table["precision"] == series[2])]
        for _, row in sel.iterrows():
            ops = ops_by_row[int(row["_i"])]
            total = sum(t for _, t in ops)
            merged: dict[str, float] = {}
            for name, t in ops:
                merged[name] = merged.get(name, 0.0) + 100.0 * t / total
            shares[(series, int(row["batch_size"]))] = merged
            for name, share in merged.items():
                totals[name] = max(totals.get(name, 0.0), share)
    names = sorted(totals, key=lambda n: (-totals[n], n))[:top]
    colours = [plt.get_cmap("tab10")(i) for i in range(10)]
    op_colour = {name: colours[i % 10] for i, name in enumerate(names)}
    drawn = []
    for k, series in enumerate(panels):
        ax = axes[0][k]
        batches = sorted(b for (s, b) in shares if s == series)
        bottoms = np.zeros(len(batches))
        for name in [*names, "other"]:
            values = []
            for b in batches:
                merged = shares[(series, b)]
                v = (sum(s for n, s in merged.items() if n not in names) if name == "other"
                     else merged.get(name, 0.0))
                values.append(v)
                drawn.append({"device": series[0], "backend": series[1], "precision": series[2],
                              "batch_size": b, "op": name, "share_percent": v})
            ax.bar(range(len(batches)), values, bottom=bottoms, width=0.7,
                   color=op_colour.get(name, "0.8"), edgecolor="white", linewidth=0.5,
                   label=name if k == 0 else None)
            bottoms += np.asarray(values)
        ax.set_xticks(range(len(batches)))
        ax.set_xticklabels([str(b) for b in batches])
        ax.set_xlabel("batch size [jets]")
        ax.set_ylim(0, 100)
        ax.set_ylabel("share of profiled self time [%]")
        experiment_label(ax, "per-op breakdown, " + series_label(*series))
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles[::-1], labels[::-1], loc="center right", fontsize=11,
               title="op (torch.profiler self time)", title_fontsize=11, frameon=False)
    footer = footer_text(pd.DataFrame(
        [{**{k: v for k, v in usable[int(i)][1].to_json().items() if not isinstance(v, (list, dict))},
          **{f"env_{k}": v for k, v in usable[int(i)][1].env.items()}}
         for i in table["_i"]]))
    fig.tight_layout(rect=(0, 0.035, 1 - legend_width / (len(panels) * 8.0 + legend_width), 1))
    fig.text(0.01, 0.008, footer + f" | {selection_text(weights, particles)}",
             ha="left", va="bottom", fontsize=9, color="0.35")
    return Plot(fig, pd.DataFrame(drawn))
