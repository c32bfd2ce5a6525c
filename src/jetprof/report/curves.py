"""The figures of the measurements against batch size and particle count: latency,
throughput, peak memory, achieved FLOP/s under the measured ceiling, and the models
compared. Each draws the weights, particle setting or batch size it is given.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from jetprof.report.style import (
    MEMORY_METHODS,
    MiB,
    Plot,
    col,
    device_colour,
    experiment_label,
    finish,
    footer_text,
    log_batch_axis,
    main_grid,
    new_figure,
    no_data,
    selection_text,
    series_label,
    series_of,
    styled,
    top_headroom,
    xy_series_plot,
)


def _batch_curve(table: pd.DataFrame, weights: str, particles: str,
                 values: Callable[[pd.DataFrame], tuple[np.ndarray, np.ndarray, np.ndarray]],
                 ylabel: str, title: str, by_model: bool = False) -> Plot:
    """One curve per device x backend/precision (x model) against batch size, log-log, with a band."""
    rows = main_grid(table, weights, particles)
    fig, axes = new_figure()
    ax = axes[0][0]
    if rows.empty:
        no_data(fig, ax, f"no {weights + '-weight ' if by_model else ''}profile points in the table")
        return Plot(fig, pd.DataFrame())
    data = xy_series_plot(rows, "batch_size", values, ax=ax, by_model=by_model)
    ax.set_yscale("log")
    log_batch_axis(ax, data)
    top_headroom(ax, data)
    ax.set_ylabel(ylabel)
    legend_title = selection_text(weights, particles)
    if by_model and rows["model"].nunique() == 1:
        legend_title += "\none model measured: list more under profile.models"
    ax.legend(loc="upper left", fontsize=12 if not by_model else 11, title=legend_title,
              title_fontsize=11)
    ax.grid(True, which="major", alpha=0.3)
    experiment_label(ax, title)
    finish(fig, footer_text(rows))
    return Plot(fig, data)


def _latency_band(rows: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Median latency with its p5 and p95, per row."""
    return col(rows, "latency_ms_p50"), col(rows, "latency_ms_p5"), col(rows, "latency_ms_p95")


@styled
def latency_vs_batch(table: pd.DataFrame, *, weights: str, particles: str) -> Plot:
    """Median forward latency (p5–p95 band) against batch size.

    Args:
        table: the summary table (one model).
        weights: the weight state shown.
        particles: ``"real"`` or the particle count of the main grid shown.
    """
    return _batch_curve(
        table, weights, particles,
        _latency_band,
        "forward latency per batch [ms]", "forward pass, median and p5–p95")


@styled
def models_comparison(table: pd.DataFrame, *, particles: str) -> Plot:
    """Median latency against batch size for every model, random weights (the state all share)."""
    return _batch_curve(
        table, "random", particles,
        _latency_band,
        "forward latency per batch [ms]", "models compared, median and p5–p95", by_model=True)


@styled
def throughput_vs_batch(table: pd.DataFrame, *, weights: str, particles: str) -> Plot:
    """Jets per second (batch / median latency; band from p95/p5) against batch size."""

    def values(r: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        batch = col(r, "batch_size")
        central = col(r, "throughput_jets_per_s")
        missing = ~np.isfinite(central)
        central[missing] = (batch * 1e3 / col(r, "latency_ms_p50"))[missing]
        return central, batch * 1e3 / col(r, "latency_ms_p95"), batch * 1e3 / col(r, "latency_ms_p5")

    return _batch_curve(table, weights, particles, values, "throughput [jets/s]",
                        "forward pass, from median latency")


@styled
def memory_vs_batch(table: pd.DataFrame, *, weights: str, particles: str) -> Plot:
    """Peak memory of one forward pass against batch size, method in the legend."""
    rows = main_grid(table, weights, particles)
    fig, axes = new_figure()
    ax = axes[0][0]
    notes: list[str] = []
    if not rows.empty:
        measured = rows[(rows["status"] != "ok") | np.isfinite(col(rows, "peak_memory_bytes"))]
        skipped = rows.drop(measured.index)
        for series in series_of(skipped):
            notes.append(f"{series_label(*series)}: memory not measured")
        rows = measured
    if rows.empty:
        no_data(fig, ax, "no memory measurements in the table")
        return Plot(fig, pd.DataFrame(), notes)

    def method(group: pd.DataFrame) -> str:
        methods = sorted({str(m) for m in group.get("memory_method", pd.Series()).dropna()
                          if str(m) != "not_measured"})
        return "\n  (" + "; ".join(MEMORY_METHODS.get(m, m) for m in methods) + ")" if methods else ""

    data = xy_series_plot(
        rows, "batch_size",
        lambda r: (col(r, "peak_memory_bytes") / MiB,) * 3,
        ax=ax, label_extra=method)
    reserved = rows[np.isfinite(col(rows, "peak_reserved_bytes")) & (rows["status"] == "ok")]
    for device, backend, precision in series_of(reserved):
        group = reserved[(reserved["device"] == device) & (reserved["backend"] == backend)
                         & (reserved["precision"] == precision)].sort_values("batch_size")
        ax.plot(col(group, "batch_size"), col(group, "peak_reserved_bytes") / MiB,
                linestyle=":", color=device_colour(device), linewidth=1.5,
                label=series_label(device, backend, precision) + " reserved (allocator)")
    ax.set_yscale("log")
    log_batch_axis(ax, data)
    top_headroom(ax, data)
    ax.set_ylabel("peak memory of one forward [MiB]")
    ax.legend(loc="upper left", fontsize=11, title=selection_text(weights, particles),
              title_fontsize=11)
    ax.grid(True, which="major", alpha=0.3)
    experiment_label(ax, "forward pass, peak memory")
    if notes:
        ax.text(0.98, 0.03, "\n".join(notes), transform=ax.transAxes, ha="right",
                va="bottom", fontsize=10, color="0.35")
    finish(fig, footer_text(rows))
    return Plot(fig, data, notes)


@styled
def latency_vs_multiplicity(table: pd.DataFrame, *, weights: str, batch_size: int) -> Plot:
    """Latency against the particle count of synthetic jets, per backend.

    Args:
        table: the summary table (one model).
        weights: the weight state of the curve (``profile.multiplicity.weights``).
        batch_size: the batch size of the curve (``profile.multiplicity.batch_size``); a
            main grid of fixed particle counts has points at other batch sizes too.
    """
    numeric = table[pd.to_numeric(table["particles"], errors="coerce").notna()]
    fig, axes = new_figure()
    ax = axes[0][0]
    if numeric.empty:
        no_data(fig, ax, "no fixed-multiplicity points (profile.multiplicity) in the table")
        return Plot(fig, pd.DataFrame())
    rows = numeric[(numeric["weights"] == weights)
                   & (numeric["batch_size"].astype(int) == int(batch_size))]
    if rows.empty:
        no_data(fig, ax, f"no fixed-multiplicity points with {weights} weights "
                         f"at batch size {batch_size} in the table")
        return Plot(fig, pd.DataFrame())
    data = xy_series_plot(
        rows, "particles",
        _latency_band,
        ax=ax)
    ax.set_xscale("log", base=2)
    xs = sorted({int(x) for x in data["x"].dropna()})
    if xs:
        ax.set_xticks(xs)
        ax.set_xticklabels([str(x) for x in xs])
        ax.set_xlim(xs[0] / 1.3, xs[-1] * 1.3)
    ax.set_yscale("log")
    top_headroom(ax, data)
    ax.set_xlabel("particles per jet N (synthetic jets, all with N)")
    ax.set_ylabel("forward latency per batch [ms]")
    ax.legend(loc="upper left", fontsize=12,
              title=f"weights: {weights}, batch size {batch_size}", title_fontsize=11)
    ax.grid(True, which="major", alpha=0.3)
    experiment_label(ax, "latency vs jet multiplicity")
    finish(fig, footer_text(rows))
    return Plot(fig, data)


@styled
def roofline(table: pd.DataFrame, peaks: Sequence[dict[str, Any]], *, weights: str,
             particles: str) -> Plot:
    """Achieved FLOP/s against batch size, under each device's matmul ceiling."""
    rows = main_grid(table, weights, particles)
    fig, axes = new_figure()
    ax = axes[0][0]
    if not rows.empty:
        rows = rows[(rows["status"] != "ok") | np.isfinite(col(rows, "achieved_flops_per_s"))]
    if rows.empty:
        no_data(fig, ax, "no achieved-FLOP/s values in the table")
        return Plot(fig, pd.DataFrame())
    peak_by_device = {str(p["device"]): p for p in peaks}

    def fraction(group: pd.DataFrame) -> str:
        peak = peak_by_device.get(str(group["device"].iloc[0]))
        achieved = col(group[group["status"] == "ok"], "achieved_flops_per_s")
        if peak is None or not np.isfinite(achieved).any():
            return ""
        return f" (≤ {100 * np.nanmax(achieved) / float(peak['matmul_flops_per_s']):.0f}% of peak)"

    data = xy_series_plot(
        rows, "batch_size",
        lambda r: (col(r, "achieved_flops_per_s") / 1e9,) * 3,
        ax=ax, label_extra=fraction)
    peak_rows = []
    for device in sorted({str(d) for d in rows["device"]}):
        peak = peak_by_device.get(device)
        if peak is None:
            continue
        value = float(peak["matmul_flops_per_s"]) / 1e9
        size = peak.get("matrix_size")
        ax.axhline(value, color=device_colour(device), linestyle="-.", linewidth=2,
                   label=f"{device} measured matmul ceiling ({peak.get('dtype', '?')}"
                         f"{f', n={size}' if size else ''}): {value:,.0f} GFLOP/s")
        peak_rows.append({"device": device, "backend": "peak", "precision": str(peak.get("dtype")),
                          "x": math.nan, "y": value, "y_low": value, "y_high": value,
                          "status": "peak"})
    if peak_rows:
        data = pd.concat([data, pd.DataFrame(peak_rows)], ignore_index=True)
    ax.set_yscale("log")
    log_batch_axis(ax, data[data["status"] != "peak"])
    top_headroom(ax, data)
    method = sorted({str(m) for m in rows.get("flops_method", pd.Series()).dropna()})
    ax.set_ylabel("achieved [GFLOP/s]")
    ax.legend(loc="upper left", fontsize=11,
              title=selection_text(weights, particles)
              + (f"; FLOPs: {', '.join(method)}" if method else ""), title_fontsize=11)
    ax.grid(True, which="major", alpha=0.3)
    experiment_label(ax, "achieved FLOP/s vs measured ceiling")
    if not peak_rows:
        ax.text(0.98, 0.03, "no peak record given (--peak)", transform=ax.transAxes,
                ha="right", va="bottom", fontsize=10, color="0.35")
    finish(fig, footer_text(rows))
    return Plot(fig, data)
