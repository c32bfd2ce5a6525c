"""The study's figures, drawn from the summary table and the stored records.

``jetprof plot FIGURE --table results/summary/points.csv [--records-dir DIR]
[--peak PEAK.json ...] [--metrics metrics.json] --out results/figures/FIGURE.png``

Every figure function returns a :class:`Plot`: the matplotlib figure and a
tidy DataFrame of exactly the values drawn, so tests (and users) can check a
figure against the records. Conventions in every figure: one fixed colour per
device (:func:`device_colour`), one line style per backend and one marker per
precision; points with status ``oom``/``error`` are drawn as a cross at the
top edge with the word "OOM"/"error", and the curve does not go through them.
A figure with nothing to draw (e.g. no multiplicity points in this study)
is still written, saying "no data" and why, so that a report can always be
built; missing or unreadable input files are one-line errors.

``jetprof plot weights_answer --table ... --out weights_answer.md`` writes a
short text (Markdown, or reStructuredText for ``.rst``) answering whether the
weight state changes the forward pass's latency or memory.
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import os
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import mplhep  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.transforms import blended_transform_factory  # noqa: E402

from jetprof.errors import JetprofError  # noqa: E402
from jetprof.io import atomic_write, atomic_write_text  # noqa: E402
from jetprof.report.summarize import (  # noqa: E402
    BACKEND_ORDER,
    PRECISION_ORDER,
    WEIGHTS_ORDER,
    device_hardware,
    load_records,
)

# ----------------------------------------------------------------------------
# fixed visual conventions

#: Colour of each device, the same in every figure (Petroff's 10-colour set).
DEVICE_COLOURS: dict[str, str] = {
    "cpu": "#3f90da",
    "cuda:0": "#bd1f01",
    "cuda:1": "#e76300",
    "cuda:2": "#832db6",
    "cuda:3": "#a96b59",
    "mps": "#ffa90e",
}
_SPARE_COLOURS = ("#94a4a2", "#b9ac70", "#717581", "#92dadd")
#: Colours of the models in the models figure (one device's colour would not tell them apart).
MODEL_COLOURS = ("#3f90da", "#bd1f01", "#832db6", "#e76300", "#a96b59", "#94a4a2", "#92dadd", "#717581")
BACKEND_STYLES: dict[str, str] = {"eager": "-", "onnxruntime": "--", "compile": ":"}
PRECISION_MARKERS: dict[str, str] = {"fp32": "o", "bf16": "s", "fp16": "^"}
#: Shade of a device's colour for each weight state (bar charts).
WEIGHTS_ALPHA: dict[str, float] = {"random": 0.35, "trained": 0.7, "pretrained": 1.0}
WEIGHTS_HATCH: dict[str, str] = {"random": "//", "trained": "", "pretrained": ".."}

#: What a record's ``memory_method`` measures, for legends and captions.
MEMORY_METHODS: dict[str, str] = {
    "cuda_max_memory_allocated": "CUDA peak allocated above the pre-forward level",
    "profiler_memory_events": "peak of torch.profiler's tensor allocation events",
    "mps_current_allocated": "MPS allocator, allocated after the forward",
    "onnxruntime_arena": "ONNX Runtime arena",
    "rss_delta": "process RSS increase",
}

SERIES_KEYS: tuple[str, ...] = ("device", "backend", "precision")
MiB = 2**20

#: mplhep's ROOT-like HEP style, sized for a report page; fonts that exist here.
STYLE: dict[str, Any] = {
    **mplhep.style.ROOT,
    "font.size": 18,
    "axes.labelsize": 20,
    "xtick.labelsize": 17,
    "ytick.labelsize": 17,
    "legend.fontsize": 13,
    "font.sans-serif": ["TeX Gyre Heros", "Helvetica", "Arial", "DejaVu Sans"],
    "mathtext.fontset": "dejavusans",
}


def _styled(function: Callable[..., Plot]) -> Callable[..., Plot]:
    """Draw inside the jetprof style context (no global rcParams change)."""

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Plot:
        with plt.style.context(STYLE):
            return function(*args, **kwargs)

    return wrapper


def device_colour(device: str) -> str:
    """Colour of ``device``: fixed for known devices, stable (hash) for others."""
    if device in DEVICE_COLOURS:
        return DEVICE_COLOURS[device]
    return _SPARE_COLOURS[zlib.crc32(device.encode()) % len(_SPARE_COLOURS)]


def series_label(device: str, backend: str, precision: str) -> str:
    """Legend text of one (device, backend, precision) curve."""
    return f"{device} · {backend} {precision}"


@dataclass
class Plot:
    """A drawn figure and the values it shows (one row per drawn point)."""

    figure: Figure
    data: pd.DataFrame
    notes: list[str] = field(default_factory=list)


# ----------------------------------------------------------------------------
# inputs


def load_table(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read the summary CSV written by ``jetprof summarize``."""
    path = Path(path)
    if not path.is_file():
        raise JetprofError(f"{path}: no such summary table (run jetprof summarize first)")
    try:
        table = pd.read_csv(path, dtype={"particles": str})
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise JetprofError(f"{path}: not a readable CSV table ({exc})") from None
    needed = ("model", "weights", "device", "backend", "precision", "particles",
              "batch_size", "status")
    missing = [c for c in needed if c not in table.columns]
    if missing:
        raise JetprofError(f"{path}: summary table lacks column(s) {', '.join(missing)}")
    return table


def load_json(path: str | os.PathLike[str], what: str) -> Any:
    """Read a JSON input, with a one-line error naming the file."""
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise JetprofError(f"{path}: no such {what} file") from None
    except json.JSONDecodeError as exc:
        raise JetprofError(f"{path}: {what} is not valid JSON ({exc.msg}, line {exc.lineno})") from None
    except OSError as exc:
        raise JetprofError(f"{path}: cannot read {what} ({exc.strerror})") from None


def load_peaks(paths: Iterable[str | os.PathLike[str]]) -> list[dict[str, Any]]:
    """Read peak records (``results/profile/peak/{device}.json``)."""
    peaks = []
    for path in paths:
        doc = load_json(path, "peak record")
        if not isinstance(doc, dict) or "device" not in doc or "matmul_flops_per_s" not in doc:
            raise JetprofError(f"{path}: not a peak record (needs 'device' and 'matmul_flops_per_s')")
        peaks.append(doc)
    return peaks


def _ordered(values: Iterable[Any], order: Sequence[str]) -> list[str]:
    unique = {str(v) for v in values}
    return [v for v in order if v in unique] + sorted(unique - set(order))


def _series(table: pd.DataFrame) -> list[tuple[str, str, str]]:
    """(device, backend, precision) combinations in a stable order."""
    combos = {tuple(str(v) for v in row) for row in table[list(SERIES_KEYS)].itertuples(index=False)}
    return sorted(
        combos,
        key=lambda s: (
            s[0],
            BACKEND_ORDER.index(s[1]) if s[1] in BACKEND_ORDER else 99,
            PRECISION_ORDER.index(s[2]) if s[2] in PRECISION_ORDER else 99,
            s,
        ),
    )


def default_weights(table: pd.DataFrame) -> str | None:
    """The weight state shown in single-weights figures: trained if measured."""
    states = _ordered(table["weights"], WEIGHTS_ORDER)
    return "trained" if "trained" in states else (states[0] if states else None)


def main_grid(table: pd.DataFrame, weights: str | None = None,
              particles: str | None = None) -> tuple[pd.DataFrame, str, str]:
    """Rows of the batch-size grid: one weight state, one particle setting.

    Returns:
        The rows, and the weights and particles chosen (``""`` when none).
    """
    if table.empty:
        return table, weights or "", particles or ""
    if particles is None:
        values = table["particles"].astype(str)
        particles = "real" if (values == "real").any() else values.value_counts().index[0]
    rows = table[table["particles"].astype(str) == str(particles)]
    if weights is None:
        weights = default_weights(rows) or ""
    rows = rows[rows["weights"] == weights]
    return rows, weights, str(particles)


def apply_filters(table: pd.DataFrame, **filters: str | None) -> pd.DataFrame:
    """Keep rows whose columns equal the given non-None values."""
    for column, value in filters.items():
        if value is not None and column in table.columns:
            table = table[table[column].astype(str) == str(value)]
    return table


def _num(value: Any) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return math.nan
    return out


# ----------------------------------------------------------------------------
# drawing helpers


def _new_figure(ncols: int = 1, nrows: int = 1, **kwargs: Any) -> tuple[Figure, Any]:
    """A figure in mplhep's ROOT-like style, sized for a report."""
    size = kwargs.pop("figsize", (8.5 * ncols if ncols > 1 else 9.0, 6.8 * nrows))
    fig, axes = plt.subplots(nrows, ncols, figsize=size, squeeze=False, **kwargs)
    return fig, axes


def _label(ax: Any, text: str) -> None:
    """The neutral experiment-style label: "jetprof" plus a short subtitle."""
    ax.text(0.0, 1.01, "jetprof", transform=ax.transAxes, ha="left", va="bottom",
            fontsize=15, fontweight="bold")
    ax.text(0.16, 1.01, text, transform=ax.transAxes, ha="left", va="bottom",
            fontsize=12, fontstyle="italic")


def footer_text(table: pd.DataFrame) -> str:
    """Devices (hardware), torch version and threads of the plotted rows."""
    if table.empty:
        return ""
    parts = []
    for device, group in table.groupby("device", sort=True):
        hardware = device_hardware(device, group)
        parts.append(f"{device}: {hardware}" if hardware else str(device))
    extra = []
    torch_versions = sorted({str(v) for v in table.get("env_torch", pd.Series()).dropna()})
    if torch_versions:
        extra.append("torch " + "/".join(torch_versions))
    ort = sorted({str(v) for v in table.get("env_onnxruntime", pd.Series()).dropna()})
    if ort and (table["backend"] == "onnxruntime").any():
        extra.append("onnxruntime " + "/".join(ort))
    threads = sorted({int(v) for v in table.get("env_threads", pd.Series()).dropna()})
    if threads:
        extra.append("threads " + "/".join(str(t) for t in threads))
    return " | ".join(parts + extra)


def _finish(fig: Figure, footer: str) -> None:
    fig.tight_layout(rect=(0, 0.035 if footer else 0, 1, 1))
    if footer:
        fig.text(0.01, 0.008, footer, ha="left", va="bottom", fontsize=9, color="0.35")


def _no_data(fig: Figure, ax: Any, reason: str) -> None:
    ax.set_axis_off()
    ax.text(0.5, 0.5, f"no data\n{reason}", transform=ax.transAxes, ha="center",
            va="center", fontsize=16, color="0.3", wrap=True)


def _mark_failures(ax: Any, rows: pd.DataFrame, x_column: str, colour: str) -> None:
    """A cross at the top edge, with "OOM"/"error", for each failed point."""
    transform = blended_transform_factory(ax.transData, ax.transAxes)
    for _, row in rows.iterrows():
        x = _num(row[x_column])
        label = "OOM" if row["status"] == "oom" else "error"
        ax.plot([x], [0.96], marker="x", markersize=11, mew=2.5, color=colour,
                transform=transform, clip_on=False, linestyle="none")
        ax.text(x, 0.925, label, transform=transform, ha="center", va="top",
                fontsize=10, color=colour)


def _xy_series_plot(
    rows: pd.DataFrame,
    x_column: str,
    y: Callable[[pd.DataFrame], tuple[np.ndarray, np.ndarray, np.ndarray]],
    *,
    ax: Any,
    label_extra: Callable[[pd.DataFrame], str] | None = None,
    by_model: bool = False,
) -> pd.DataFrame:
    """One curve + band per (device, backend, precision); failures marked.

    Args:
        rows: the rows to draw.
        x_column: column giving x.
        y: from the ok rows (sorted by x), the (central, low, high) arrays.
        ax: the axes.
        label_extra: optional text appended to each legend entry.
        by_model: one curve per model and series, coloured by model (most
            measured first) instead of by device.

    Returns:
        The tidy data drawn: [model,] series keys, x, y, y_low, y_high, status.
    """
    drawn = []
    if by_model:
        counts = rows["model"].value_counts()
        models: list[str | None] = sorted(counts.index, key=lambda m: (-counts[m], str(m)))
    else:
        models = [None]
    for index, model in enumerate(models):
        part = rows if model is None else rows[rows["model"] == model]
        for device, backend, precision in _series(part):
            group = part[(part["device"] == device) & (part["backend"] == backend)
                         & (part["precision"] == precision)].copy()
            group["_x"] = group[x_column].map(_num)
            group = group.sort_values("_x")
            ok = group[group["status"] == "ok"]
            ok = ok[np.isfinite(y(ok)[0])] if not ok.empty else ok
            colour = device_colour(device) if model is None else MODEL_COLOURS[index % len(MODEL_COLOURS)]
            label = series_label(device, backend, precision)
            if model is not None:
                label = f"{model} · {label}"
            if label_extra is not None:
                label += label_extra(group)
            keys = {"device": device, "backend": backend, "precision": precision}
            if model is not None:
                keys = {"model": model, **keys}
            if not ok.empty:
                central, low, high = y(ok)
                xs = ok["_x"].to_numpy(dtype=float)
                ax.plot(xs, central, linestyle=BACKEND_STYLES.get(backend, "-."),
                        marker=PRECISION_MARKERS.get(precision, "D"), color=colour,
                        label=label, linewidth=2, markersize=7)
                if np.isfinite(low).all() and np.isfinite(high).all():
                    ax.fill_between(xs, low, high, color=colour, alpha=0.22, linewidth=0)
                for x, c, lo, hi in zip(xs, central, low, high):
                    drawn.append({**keys, "x": x, "y": c, "y_low": lo, "y_high": hi, "status": "ok"})
            failed = group[group["status"] != "ok"]
            if not failed.empty:
                if ok.empty:
                    ax.plot([], [], linestyle=BACKEND_STYLES.get(backend, "-."), color=colour,
                            marker="x", label=label + " (failed)")
                _mark_failures(ax, failed, "_x", colour)
                for _, row in failed.iterrows():
                    drawn.append({**keys, "x": row["_x"], "y": math.nan, "y_low": math.nan,
                                  "y_high": math.nan, "status": row["status"]})
    columns = (["model"] if by_model else []) + ["device", "backend", "precision", "x", "y",
                                                 "y_low", "y_high", "status"]
    return pd.DataFrame(drawn, columns=columns)


def _col(rows: pd.DataFrame, name: str) -> np.ndarray:
    if name not in rows.columns:
        return np.full(len(rows), np.nan)
    return np.array(pd.to_numeric(rows[name], errors="coerce"), dtype=float)


def _selection_text(weights: str, particles: str) -> str:
    jets = "real jets (validation split)" if particles == "real" else f"{particles} particles/jet"
    return f"weights: {weights}, inputs: {jets}"


def _log_batch_axis(ax: Any, data: pd.DataFrame) -> None:
    ax.set_xscale("log", base=2)
    xs = sorted({int(x) for x in data["x"].dropna()}) if not data.empty else []
    if xs:
        ax.set_xticks(xs)
        ax.set_xticklabels([str(x) for x in xs])
        ax.set_xlim(xs[0] / 1.4, xs[-1] * 1.4)
    ax.set_xlabel("batch size [jets]")


def _top_headroom(ax: Any, data: pd.DataFrame) -> None:
    """Room above the curves for legend and OOM marks (log y axis)."""
    values = pd.concat([data["y_low"], data["y"], data["y_high"]]).dropna()
    values = values[values > 0]
    if values.empty:
        return
    ax.set_ylim(values.min() / 2.0, values.max() * 12.0)


# ----------------------------------------------------------------------------
# figures from the table


def _batch_curve(table: pd.DataFrame, weights: str | None, particles: str | None,
                 values: Any, ylabel: str, title: str, by_model: bool = False) -> Plot:
    """One curve per device x backend/precision (x model) against batch size, log-log, with a band."""
    rows, weights, particles = main_grid(table, weights, particles)
    fig, axes = _new_figure()
    ax = axes[0][0]
    if rows.empty:
        _no_data(fig, ax, f"no {weights + '-weight ' if by_model else ''}profile points in the table")
        return Plot(fig, pd.DataFrame())
    data = _xy_series_plot(rows, "batch_size", values, ax=ax, by_model=by_model)
    ax.set_yscale("log")
    _log_batch_axis(ax, data)
    _top_headroom(ax, data)
    ax.set_ylabel(ylabel)
    legend_title = _selection_text(weights, particles)
    if by_model and rows["model"].nunique() == 1:
        legend_title += "\none model measured: list more under profile.models"
    ax.legend(loc="upper left", fontsize=12 if not by_model else 11, title=legend_title,
              title_fontsize=11)
    ax.grid(True, which="major", alpha=0.3)
    _label(ax, title)
    _finish(fig, footer_text(rows))
    return Plot(fig, data)


def _latency_band(rows: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Median latency with its p5 and p95, per row."""
    return _col(rows, "latency_ms_p50"), _col(rows, "latency_ms_p5"), _col(rows, "latency_ms_p95")


@_styled
def latency_vs_batch(table: pd.DataFrame, weights: str | None = None,
                     particles: str | None = None) -> Plot:
    """Median forward latency (p5–p95 band) against batch size."""
    return _batch_curve(
        table, weights, particles,
        _latency_band,
        "forward latency per batch [ms]", "forward pass, median and p5–p95")


def default_model(table: pd.DataFrame) -> str | None:
    """The model single-model figures show: the one with trained weights, else the most measured."""
    if table.empty or "model" not in table.columns:
        return None
    trained = table[table["weights"] == "trained"]["model"]
    pool = trained if not trained.empty else table["model"]
    return str(pool.value_counts().index[0])


@_styled
def models_comparison(table: pd.DataFrame, particles: str | None = None) -> Plot:
    """Median latency against batch size for every model, random weights (the state all share)."""
    return _batch_curve(
        table, "random", particles,
        _latency_band,
        "forward latency per batch [ms]", "models compared, median and p5–p95", by_model=True)


@_styled
def throughput_vs_batch(table: pd.DataFrame, weights: str | None = None,
                        particles: str | None = None) -> Plot:
    """Jets per second (batch / median latency; band from p95/p5) against batch size."""

    def values(r: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        batch = _col(r, "batch_size")
        central = _col(r, "throughput_jets_per_s")
        missing = ~np.isfinite(central)
        central[missing] = (batch * 1e3 / _col(r, "latency_ms_p50"))[missing]
        return central, batch * 1e3 / _col(r, "latency_ms_p95"), batch * 1e3 / _col(r, "latency_ms_p5")

    return _batch_curve(table, weights, particles, values, "throughput [jets/s]",
                        "forward pass, from median latency")


@_styled
def memory_vs_batch(table: pd.DataFrame, weights: str | None = None,
                    particles: str | None = None) -> Plot:
    """Peak memory of one forward pass against batch size, method in the legend."""
    rows, weights, particles = main_grid(table, weights, particles)
    fig, axes = _new_figure()
    ax = axes[0][0]
    notes: list[str] = []
    if not rows.empty:
        measured = rows[(rows["status"] != "ok") | np.isfinite(_col(rows, "peak_memory_bytes"))]
        skipped = rows.drop(measured.index)
        for series in _series(skipped):
            notes.append(f"{series_label(*series)}: memory not measured")
        rows = measured
    if rows.empty:
        _no_data(fig, ax, "no memory measurements in the table")
        return Plot(fig, pd.DataFrame(), notes)

    def method(group: pd.DataFrame) -> str:
        methods = sorted({str(m) for m in group.get("memory_method", pd.Series()).dropna()
                          if str(m) != "not_measured"})
        return "\n  (" + "; ".join(MEMORY_METHODS.get(m, m) for m in methods) + ")" if methods else ""

    data = _xy_series_plot(
        rows, "batch_size",
        lambda r: (_col(r, "peak_memory_bytes") / MiB,) * 3,
        ax=ax, label_extra=method)
    reserved = rows[np.isfinite(_col(rows, "peak_reserved_bytes")) & (rows["status"] == "ok")]
    for device, backend, precision in _series(reserved):
        group = reserved[(reserved["device"] == device) & (reserved["backend"] == backend)
                         & (reserved["precision"] == precision)].sort_values("batch_size")
        ax.plot(_col(group, "batch_size"), _col(group, "peak_reserved_bytes") / MiB,
                linestyle=":", color=device_colour(device), linewidth=1.5,
                label=series_label(device, backend, precision) + " reserved (allocator)")
    ax.set_yscale("log")
    _log_batch_axis(ax, data)
    _top_headroom(ax, data)
    ax.set_ylabel("peak memory of one forward [MiB]")
    ax.legend(loc="upper left", fontsize=11, title=_selection_text(weights, particles),
              title_fontsize=11)
    ax.grid(True, which="major", alpha=0.3)
    _label(ax, "forward pass, peak memory")
    if notes:
        ax.text(0.98, 0.03, "\n".join(notes), transform=ax.transAxes, ha="right",
                va="bottom", fontsize=10, color="0.35")
    _finish(fig, footer_text(rows))
    return Plot(fig, data, notes)


@_styled
def latency_vs_multiplicity(table: pd.DataFrame, weights: str | None = None,
                            batch_size: int | None = None) -> Plot:
    """Latency against the particle count of synthetic jets, per backend."""
    numeric = table[pd.to_numeric(table["particles"], errors="coerce").notna()]
    fig, axes = _new_figure()
    ax = axes[0][0]
    if numeric.empty:
        _no_data(fig, ax, "no fixed-multiplicity points (profile.multiplicity) in the table")
        return Plot(fig, pd.DataFrame())
    if weights is None:
        weights = default_weights(numeric) or ""
    numeric = numeric[numeric["weights"] == weights]
    if batch_size is None:
        batch_size = int(numeric["batch_size"].value_counts().sort_index().idxmax())
    rows = numeric[numeric["batch_size"].astype(int) == int(batch_size)]
    data = _xy_series_plot(
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
    _top_headroom(ax, data)
    ax.set_xlabel("particles per jet N (synthetic jets, all with N)")
    ax.set_ylabel("forward latency per batch [ms]")
    ax.legend(loc="upper left", fontsize=12,
              title=f"weights: {weights}, batch size {batch_size}", title_fontsize=11)
    ax.grid(True, which="major", alpha=0.3)
    _label(ax, "latency vs jet multiplicity")
    _finish(fig, footer_text(rows))
    return Plot(fig, data)


@_styled
def roofline(table: pd.DataFrame, peaks: Sequence[dict[str, Any]],
             weights: str | None = None, particles: str | None = None) -> Plot:
    """Achieved FLOP/s against batch size, under each device's matmul ceiling."""
    rows, weights, particles = main_grid(table, weights, particles)
    fig, axes = _new_figure()
    ax = axes[0][0]
    if not rows.empty:
        rows = rows[(rows["status"] != "ok") | np.isfinite(_col(rows, "achieved_flops_per_s"))]
    if rows.empty:
        _no_data(fig, ax, "no achieved-FLOP/s values in the table")
        return Plot(fig, pd.DataFrame())
    peak_by_device = {str(p["device"]): p for p in peaks}

    def fraction(group: pd.DataFrame) -> str:
        peak = peak_by_device.get(str(group["device"].iloc[0]))
        achieved = _col(group[group["status"] == "ok"], "achieved_flops_per_s")
        if peak is None or not np.isfinite(achieved).any():
            return ""
        return f" (≤ {100 * np.nanmax(achieved) / float(peak['matmul_flops_per_s']):.0f}% of peak)"

    data = _xy_series_plot(
        rows, "batch_size",
        lambda r: (_col(r, "achieved_flops_per_s") / 1e9,) * 3,
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
    _log_batch_axis(ax, data[data["status"] != "peak"])
    _top_headroom(ax, data)
    method = sorted({str(m) for m in rows.get("flops_method", pd.Series()).dropna()})
    ax.set_ylabel("achieved [GFLOP/s]")
    ax.legend(loc="upper left", fontsize=11,
              title=_selection_text(weights, particles)
              + (f"; FLOPs: {', '.join(method)}" if method else ""), title_fontsize=11)
    ax.grid(True, which="major", alpha=0.3)
    _label(ax, "achieved FLOP/s vs measured ceiling")
    if not peak_rows:
        ax.text(0.98, 0.03, "no peak record given (--peak)", transform=ax.transAxes,
                ha="right", va="bottom", fontsize=10, color="0.35")
    _finish(fig, footer_text(rows))
    return Plot(fig, data)


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
# per-op breakdown (needs the records themselves)


def _ops_of(record: dict[str, Any], path: Path) -> list[tuple[str, float]]:
    """(op name, self time in ms) of one record: its ops table if readable, else top_ops."""
    table_path = record.get("ops_table")
    if isinstance(table_path, str) and table_path:
        csv_path = (path.parent / table_path) if not Path(table_path).is_absolute() else Path(table_path)
        if csv_path.is_file():
            try:
                ops = pd.read_csv(csv_path)
            except (pd.errors.ParserError, pd.errors.EmptyDataError):
                ops = pd.DataFrame()
            sorted_by = (record.get("profiler") or {}).get("sorted_by")
            time_cols = [c for c in ops.columns if c.startswith("self") and c.endswith("ms")]
            if sorted_by in ops.columns:
                time_cols = [sorted_by]
            if "name" in ops.columns and time_cols:
                return [(str(n), float(t)) for n, t in zip(ops["name"], ops[time_cols[0]])
                        if np.isfinite(_num(t))]
    ops_list = record.get("top_ops") or []
    return [(str(op["name"]), float(op["self_ms"])) for op in ops_list
            if isinstance(op, dict) and "name" in op and np.isfinite(_num(op.get("self_ms")))]


@_styled
def op_breakdown(records: Sequence[tuple[Path, dict[str, Any]]], weights: str | None = None,
                 particles: str | None = None, top: int = 8) -> Plot:
    """Share of profiled self time per op and batch size (top ops + "other").

    One panel per (device, backend, precision) profiled with torch.profiler
    (ONNX Runtime's own profiler names its nodes differently: left out). The
    time column is the record's ``profiler.sorted_by`` (self CPU time, or self
    device time on CUDA) of its ops table, else ``top_ops``.
    """
    usable = [(p, r) for p, r in records if r.get("status") == "ok" and r.get("backend") != "onnxruntime"]
    table = pd.DataFrame([{"device": r["device"], "backend": r["backend"],
                           "precision": r["precision"], "weights": r["weights"],
                           "particles": str(r["particles"]), "batch_size": int(r["batch_size"]),
                           "_i": i} for i, (_, r) in enumerate(usable)])
    if not table.empty:
        table, weights, particles = main_grid(table, weights, particles)
    ops_by_row = {int(i): _ops_of(usable[int(i)][1], usable[int(i)][0])
                  for i in (table["_i"] if not table.empty else [])}
    table = table[[bool(ops_by_row[int(i)]) for i in table["_i"]]] if not table.empty else table
    panels = _series(table) if not table.empty else []
    panels = panels[:4]
    legend_width = 5.5
    fig, axes = _new_figure(ncols=max(len(panels), 1),
                            figsize=(max(len(panels), 1) * 8.0 + legend_width, 7.2))
    if not panels:
        _no_data(fig, axes[0][0], "no per-op profiles (top_ops / ops_table) in the records")
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
    colours = plt.get_cmap("tab10").colors
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
        _label(ax, "per-op breakdown, " + series_label(*series))
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles[::-1], labels[::-1], loc="center right", fontsize=11,
               title="op (torch.profiler self time)", title_fontsize=11, frameon=False)
    footer = footer_text(pd.DataFrame(
        [{**{k: v for k, v in usable[int(i)][1].items() if not isinstance(v, (list, dict))},
          **{f"env_{k}": v for k, v in (usable[int(i)][1].get("env") or {}).items()}}
         for i in table["_i"]]))
    fig.tight_layout(rect=(0, 0.035, 1 - legend_width / (len(panels) * 8.0 + legend_width), 1))
    fig.text(0.01, 0.008, footer + f" | {_selection_text(weights, particles)}",
             ha="left", va="bottom", fontsize=9, color="0.35")
    return Plot(fig, pd.DataFrame(drawn))


# ----------------------------------------------------------------------------
# figures from the evaluation metrics (jetprof evaluate)
#
# metrics.json is written by ``jetprof evaluate`` (see jetprof.train.evaluate's docstring).
# Keys read here:
#   "classes":   ["QCD", "Hbb", ...]
#   "accuracy":  float;  "auc_ovr": {class: AUC one-vs-rest}
#   "roc":       {class: {"vs": "QCD", "tpr": [...], "fpr": [...]}}
#   "rejection": {class: {"signal_efficiency": float, "rejection": float|null, ...}}
#   "confusion": {"classes": [...], "counts": [[...]]}   rows: true, columns: predicted
#   "training":  {"epochs": [...], "train_loss": [...], "train_acc": [...],
#                 "val_loss": [...], "val_acc": [...], "best_epoch": int} or null
# (a list of per-epoch dicts under "epochs" and a bare confusion matrix are read too)


def _metrics_key(metrics: dict[str, Any], *names: str, source: str = "metrics") -> Any:
    for name in names:
        if name in metrics and metrics[name] is not None:
            return metrics[name]
    raise JetprofError(f"{source}: metrics have no '{names[0]}' entry")


@_styled
def training_curves(metrics: dict[str, Any], source: str = "metrics") -> Plot:
    """Loss and accuracy per epoch, training and validation."""
    training = metrics.get("training")
    if training is None and "epochs" in metrics:
        training = {"epochs": metrics["epochs"]}
    if training is None:
        training = {}
    if not isinstance(training, dict):
        raise JetprofError(f"{source}: 'training' must be an object of per-epoch lists")
    epochs = training.get("epochs") or []
    if epochs and isinstance(epochs[0], dict):
        frame = pd.DataFrame(epochs)
    else:
        columns = {k: v for k, v in training.items() if isinstance(v, list)}
        uneven = sorted(k for k, v in columns.items() if len(v) != len(epochs))
        if uneven:
            raise JetprofError(f"{source}: training curves have lists of unequal length "
                               f"({', '.join(uneven)} vs epochs)")
        frame = pd.DataFrame(columns).rename(columns={"epochs": "epoch"})
    for column in frame.columns:
        frame[column] = pd.to_numeric(frame[column], errors="coerce")
    fig, axes = _new_figure(ncols=2)
    if frame.empty or "epoch" not in frame.columns:
        _no_data(fig, axes[0][0], "no per-epoch entries in the training log")
        axes[0][1].set_axis_off()
        return Plot(fig, pd.DataFrame())
    drawn = []
    for k, (quantity, ylabel) in enumerate((("loss", "loss (cross entropy)"),
                                            ("acc", "accuracy"))):
        ax = axes[0][k]
        for split, style in (("train", "-o"), ("val", "--s")):
            column = f"{split}_{quantity}"
            if column not in frame.columns:
                continue
            sel = frame[["epoch", column]].dropna()
            if sel.empty:
                continue
            ax.plot(sel["epoch"], sel[column], style, color="#3f90da" if split == "train"
                    else "#bd1f01", linewidth=2, markersize=7,
                    label="training" if split == "train" else "validation")
            drawn += [{"quantity": quantity, "split": split, "epoch": e, "y": v}
                      for e, v in zip(sel["epoch"], sel[column])]
        ax.set_xlabel("epoch")
        ax.set_ylabel(ylabel)
        ax.xaxis.get_major_locator().set_params(integer=True)
        best = training.get("best_epoch")
        if isinstance(best, (int, float)):
            ax.axvline(best, color="0.5", linestyle=":", linewidth=1.5, label="best epoch (saved)")
        if ax.get_legend_handles_labels()[0]:
            ax.legend(loc="best", fontsize=12)
        ax.grid(True, alpha=0.3)
        _label(ax, "training with weaver")
    _finish(fig, "")
    return Plot(fig, pd.DataFrame(drawn, columns=["quantity", "split", "epoch", "y"]))


@_styled
def roc(metrics: dict[str, Any], source: str = "metrics") -> Plot:
    """Background rejection (1/ε_B) against signal efficiency, per class."""
    curves = _metrics_key(metrics, "roc", source=source)
    auc = metrics.get("auc_ovr") or metrics.get("auc") or {}
    working = metrics.get("rejection") or {}
    fig, axes = _new_figure()
    ax = axes[0][0]
    if not isinstance(curves, dict) or not curves:
        _no_data(fig, ax, "no ROC curves in the metrics")
        return Plot(fig, pd.DataFrame())
    classes = [c for c in metrics.get("classes", []) if c in curves] or sorted(curves)
    colours = plt.get_cmap("tab10").colors
    drawn = []
    for i, name in enumerate(classes):
        curve = curves[name]
        try:
            tpr = np.asarray(curve["tpr"], dtype=float)
            fpr = np.asarray(curve["fpr"], dtype=float)
        except (KeyError, TypeError, ValueError):
            raise JetprofError(f"{source}: roc['{name}'] needs numeric 'tpr' and 'fpr' lists") from None
        keep = (fpr > 0) & (tpr > 0)
        rejection = 1.0 / fpr[keep]
        label = name
        point = working.get(name) if isinstance(working, dict) else None
        if isinstance(point, dict) and point.get("signal_efficiency") is not None:
            eff = float(point["signal_efficiency"])
            rej = point.get("rejection")
            if rej is not None:
                value = f"{float(rej):.0f}"
            elif point.get("n_background"):
                value = f"> {int(point['n_background'])} (no QCD jet passes)"
            else:
                value = "n/a"
            label += f": {value} at {100 * eff:g}%"
            if rej is not None:
                ax.plot([eff], [float(rej)], marker="*", markersize=14, color=colours[i % 10],
                        markeredgecolor="black", linestyle="none")
        elif auc.get(name) is not None:
            label += f" (AUC {float(auc[name]):.3f})"
        ax.plot(tpr[keep], rejection, color=colours[i % 10], linewidth=2, label=label)
        drawn += [{"class": name, "tpr": t, "rejection": r} for t, r in zip(tpr[keep], rejection)]
    ax.set_yscale("log")
    ax.set_xlim(0, 1)
    ax.set_xlabel("signal efficiency $\\varepsilon_S$")
    ax.set_ylabel("background rejection $1/\\varepsilon_B$")
    accuracy = metrics.get("accuracy")
    title = f"vs QCD; accuracy {float(accuracy):.3f}" if accuracy is not None else "vs QCD"
    if working:
        title += "\nlegend: rejection at the paper's working point (star)"
    ax.legend(loc="upper right", fontsize=11, ncol=2 if len(classes) > 5 else 1,
              title=title, title_fontsize=11)
    ax.grid(True, which="major", alpha=0.3)
    _, top = ax.get_ylim()
    ax.set_ylim(top=top * 30)
    _label(ax, "test split, weaver --predict")
    _finish(fig, "")
    return Plot(fig, pd.DataFrame(drawn, columns=["class", "tpr", "rejection"]))


@_styled
def confusion_matrix(metrics: dict[str, Any], source: str = "metrics") -> Plot:
    """Confusion matrix normalised per true class (rows sum to 100 %)."""
    matrix = _metrics_key(metrics, "confusion", "confusion_matrix", source=source)
    classes_given = metrics.get("classes")
    if isinstance(matrix, dict):
        classes_given = matrix.get("classes") or classes_given
        matrix = matrix.get("counts", matrix.get("matrix"))
    try:
        counts = np.asarray(matrix, dtype=float)
    except (TypeError, ValueError):
        raise JetprofError(f"{source}: 'confusion' must be a square list of lists of counts") from None
    if counts.ndim != 2 or counts.shape[0] != counts.shape[1] or counts.size == 0:
        raise JetprofError(f"{source}: 'confusion' must be a square matrix, got shape {counts.shape}")
    n = counts.shape[0]
    classes = list(classes_given or [str(i) for i in range(n)])
    if len(classes) != n:
        raise JetprofError(f"{source}: {len(classes)} classes but a {n}×{n} confusion matrix")
    with np.errstate(invalid="ignore", divide="ignore"):
        percent = 100.0 * counts / counts.sum(axis=1, keepdims=True)
    percent = np.nan_to_num(percent)
    fig, axes = _new_figure(figsize=(10.5, 9.5))
    ax = axes[0][0]
    image = ax.imshow(percent, cmap="Blues", vmin=0, vmax=100)
    for i in range(n):
        for j in range(n):
            ax.text(j, i, f"{percent[i, j]:.0f}", ha="center", va="center", fontsize=10,
                    color="white" if percent[i, j] > 55 else "black")
    ax.set_xticks(range(n))
    ax.set_yticks(range(n))
    ax.set_xticklabels(classes, rotation=45, ha="right", fontsize=12)
    ax.set_yticklabels(classes, fontsize=12)
    ax.tick_params(which="minor", length=0)
    ax.tick_params(which="major", top=False, right=False)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    fig.colorbar(image, ax=ax, label="jets of the true class [%]", fraction=0.046, pad=0.03)
    _label(ax, f"test split, {int(counts.sum())} jets")
    _finish(fig, "")
    drawn = pd.DataFrame([{"true": classes[i], "predicted": classes[j], "count": counts[i, j],
                           "percent": percent[i, j]} for i in range(n) for j in range(n)])
    return Plot(fig, drawn)


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


# ----------------------------------------------------------------------------
# command line

TABLE_FIGURES = ("latency_vs_batch", "throughput_vs_batch", "memory_vs_batch",
                 "weights_comparison", "latency_vs_multiplicity", "roofline", "models_comparison")
RECORD_FIGURES = ("op_breakdown",)
METRICS_FIGURES = ("training_curves", "roc", "confusion_matrix")
FIGURES = (*TABLE_FIGURES, *RECORD_FIGURES, *METRICS_FIGURES, "weights_answer")


def make_plot(name: str, args: argparse.Namespace) -> Plot:
    """Draw figure ``name`` from the inputs named in ``args``."""
    if name in METRICS_FIGURES:
        if not args.metrics:
            raise JetprofError(f"figure {name} needs --metrics (results/evaluate/metrics.json)")
        metrics = load_json(args.metrics, "metrics")
        if not isinstance(metrics, dict):
            raise JetprofError(f"{args.metrics}: metrics must be a JSON object")
        function = {"training_curves": training_curves, "roc": roc,
                    "confusion_matrix": confusion_matrix}[name]
        return function(metrics, source=str(args.metrics))
    if name == "op_breakdown":
        if args.records_dir:
            records = load_records([args.records_dir])
        elif args.table:
            table = load_table(args.table)
            if "record_path" not in table.columns:
                raise JetprofError(f"{args.table}: no record_path column; give --records-dir")
            records = load_records([p for p in table["record_path"].dropna() if Path(p).is_file()])
        else:
            raise JetprofError("figure op_breakdown needs --records-dir (or --table)")
        model = args.model or default_model(pd.DataFrame([r for _, r in records]))
        records = [(path, r) for path, r in records if model is None or str(r.get("model")) == model]
        return op_breakdown(records, weights=args.weights, particles=args.particles)
    if not args.table:
        raise JetprofError(f"figure {name} needs --table (results/summary/points.csv)")
    table = load_table(args.table)
    if name == "models_comparison":
        return models_comparison(apply_filters(table, device=args.device, backend=args.backend,
                                               precision=args.precision), particles=args.particles)
    # the other figures show one model: the one asked for, else the trained one
    table = apply_filters(table, model=args.model or default_model(table))
    if name in ("latency_vs_batch", "throughput_vs_batch", "memory_vs_batch"):
        table = apply_filters(table, device=args.device, backend=args.backend,
                              precision=args.precision)
        return globals()[name](table, weights=args.weights, particles=args.particles)
    if name == "latency_vs_multiplicity":
        table = apply_filters(table, device=args.device, backend=args.backend,
                              precision=args.precision)
        return latency_vs_multiplicity(table, weights=args.weights, batch_size=args.batch_size)
    if name == "roofline":
        table = apply_filters(table, device=args.device, backend=args.backend,
                              precision=args.precision)
        return roofline(table, load_peaks(args.peak or []), weights=args.weights,
                        particles=args.particles)
    if name == "weights_comparison":
        return weights_comparison(table, device=args.device, backend=args.backend,
                                  precision=args.precision, particles=args.particles)
    raise JetprofError(f"unknown figure {name!r}")  # pragma: no cover - argparse checks


def save_figure(plot: Plot, out: str | os.PathLike[str]) -> None:
    """Write the figure atomically; the format follows the file's extension."""
    suffix = Path(out).suffix.lower().lstrip(".")
    if suffix not in ("png", "pdf", "svg"):
        raise JetprofError(f"{out}: figure output must end in .png, .pdf or .svg")
    with plt.style.context(STYLE):
        atomic_write(out, lambda tmp: plot.figure.savefig(tmp, format=suffix, dpi=110))
    plt.close(plot.figure)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``jetprof plot``."""
    parser.add_argument("figure", choices=FIGURES, help="which figure (or weights_answer text)")
    parser.add_argument("--table", help="summary table from jetprof summarize (CSV)")
    parser.add_argument("--records-dir", help="profile records (for op_breakdown)")
    parser.add_argument("--peak", action="append", default=[],
                        help="peak record(s) results/profile/peak/{device}.json (roofline)")
    parser.add_argument("--metrics", help="metrics JSON from jetprof evaluate")
    parser.add_argument("--out", required=True, help="output .png/.pdf/.svg (or .md/.rst text)")
    selection = parser.add_argument_group("selection (default: all, or the study's main grid)")
    selection.add_argument("--model", help="only this model")
    selection.add_argument("--device", help="only this device")
    selection.add_argument("--backend", help="only this backend")
    selection.add_argument("--precision", help="only this precision")
    selection.add_argument("--weights", help="weight state shown (default: trained if measured)")
    selection.add_argument("--particles", help="'real' or N (default: real if measured)")
    selection.add_argument("--batch-size", type=int,
                           help="batch size of the multiplicity curve (default: most measured)")


def run(args: argparse.Namespace) -> int:
    """Entry point of ``jetprof plot``."""
    if args.figure == "weights_answer":
        if not args.table:
            raise JetprofError("weights_answer needs --table (results/summary/points.csv)")
        suffix = Path(args.out).suffix.lower()
        if suffix not in (".md", ".rst", ".txt"):
            raise JetprofError(f"{args.out}: weights_answer writes .md, .rst or .txt")
        table = apply_filters(load_table(args.table), model=args.model)
        text, _ = weights_answer(table, fmt="rst" if suffix == ".rst" else "md")
        atomic_write_text(args.out, text)
        print(f"jetprof plot: weights_answer -> {args.out}")
        return 0
    plot = make_plot(args.figure, args)
    save_figure(plot, args.out)
    drawn = 0 if plot.data.empty else len(plot.data)
    print(f"jetprof plot: {args.figure} ({drawn} value(s) drawn) -> {args.out}")
    return 0
