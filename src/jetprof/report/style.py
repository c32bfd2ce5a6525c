"""What every figure of the study shares: its look, the :class:`Plot` it returns, and
the helpers that select rows and draw curves, footers and failures.

Every figure function returns a :class:`Plot`: the matplotlib figure and a tidy
DataFrame of exactly the values drawn, so tests (and users) can check a figure
against the records. Conventions in every figure: one fixed colour per device
(:func:`device_colour`), one line style per backend and one marker per precision;
points with status ``oom``/``error`` are drawn as a cross at the top edge with the
word "OOM"/"error", and the curve does not go through them. A figure with nothing
to draw is still drawn, saying "no data" and why, so that a report can always be
built. A figure draws what it is told to (weights, particle setting, batch size):
choosing those from the command line is :mod:`jetprof.report.cli`'s job.
"""

from __future__ import annotations

import functools
import math
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, SupportsFloat, SupportsIndex

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import mplhep
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.transforms import blended_transform_factory

from jetprof.registry import BACKEND_LIST, PRECISION_LIST, ZOO_LIST
from jetprof.report.summarize import BACKEND_ORDER, PRECISION_ORDER, device_hardware

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from numpy.typing import NDArray

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
_PALETTE = ("#3f90da", "#bd1f01", "#832db6", "#e76300", "#a96b59", "#94a4a2", "#92dadd", "#717581")
#: models in the order drawn: the zoo's colours (jetprof.registry.ZOO), then the palette's others
MODEL_COLOURS: tuple[str, ...] = tuple(dict.fromkeys([*(m.colour for m in ZOO_LIST), *_PALETTE]))
#: every backend's line style and colour, every precision's marker: from the registry
BACKEND_STYLES: dict[str, str | tuple[int, tuple[int, ...]]] = {b.name: b.linestyle for b in BACKEND_LIST}
BACKEND_COLOURS: dict[str, str] = {b.name: b.colour for b in BACKEND_LIST}
PRECISION_MARKERS: dict[str, str] = {p.name: p.marker for p in PRECISION_LIST}
#: Shade of a device's colour for each weight state (bar charts).
WEIGHTS_ALPHA: dict[str, float] = {"random": 0.35, "trained": 0.7, "pretrained": 1.0}
WEIGHTS_HATCH: dict[str, str] = {"random": "//", "trained": "", "pretrained": ".."}

#: What a record's ``memory_method`` measures, for legends and captions.
MEMORY_METHODS: dict[str, str] = {
    "cuda_max_memory_allocated": "CUDA peak allocated above the pre-forward level",
    "profiler_memory_events": "peak of torch.profiler's tensor allocation events",
    "mps_max_memory_allocated": "MPS allocator, peak allocated during the forward",
    "mps_driver_growth": "Metal driver memory grown over the forward (upper bound)",
    "mps_current_allocated": "MPS allocator, allocated after the forward (older records)",
    "onnxruntime_arena": "ONNX Runtime arena",
    "rss_delta": "process RSS increase",
}

SERIES_KEYS: tuple[str, ...] = ("device", "backend", "precision")
MiB = 2**20

#: mplhep's ROOT-like HEP style, sized for a report page; fonts that exist here.
STYLE: dict[str, object] = {
    **mplhep.style.ROOT,
    "font.size": 18,
    "axes.labelsize": 20,
    "xtick.labelsize": 17,
    "ytick.labelsize": 17,
    "legend.fontsize": 13,
    "font.sans-serif": ["TeX Gyre Heros", "Helvetica", "Arial", "DejaVu Sans"],
    "mathtext.fontset": "dejavusans",
}


def styled(function: Callable[..., Plot]) -> Callable[..., Plot]:
    """Draw inside the jetprof style context (no global rcParams change)."""

    @functools.wraps(function)
    def wrapper(*args: object, **kwargs: object) -> Plot:
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
# selecting rows


def ordered(values: Iterable[object], order: Sequence[str]) -> list[str]:
    unique = {str(v) for v in values}
    return [v for v in order if v in unique] + sorted(unique - set(order))


def series_of(table: pd.DataFrame) -> list[tuple[str, str, str]]:
    """(device, backend, precision) combinations in a stable order."""
    combos = {(str(d), str(b), str(p)) for d, b, p in table[list(SERIES_KEYS)].itertuples(index=False)}
    return sorted(
        combos,
        key=lambda s: (
            s[0],
            BACKEND_ORDER.index(s[1]) if s[1] in BACKEND_ORDER else 99,
            PRECISION_ORDER.index(s[2]) if s[2] in PRECISION_ORDER else 99,
            s,
        ),
    )


def main_grid(table: pd.DataFrame, weights: str, particles: str) -> pd.DataFrame:
    """Rows of the batch-size grid that a figure shows: one weight state, one particle setting."""
    if table.empty:
        return table
    rows = table[table["particles"].astype(str) == str(particles)]
    return rows[rows["weights"].astype(str) == str(weights)]


def apply_filters(table: pd.DataFrame, **filters: str | None) -> pd.DataFrame:
    """Keep rows whose columns equal the given non-None values."""
    for column, value in filters.items():
        if value is not None and column in table.columns:
            table = table[table[column].astype(str) == str(value)]
    return table


def num(value: object) -> float:
    """``value`` as a float; NaN when it is missing or not a number."""
    if not isinstance(value, (str, bytes, bytearray, SupportsFloat, SupportsIndex)):
        return math.nan  # float() would raise TypeError
    try:
        out = float(value)
    except (TypeError, ValueError):
        return math.nan
    return out


# ----------------------------------------------------------------------------
# drawing helpers


def new_figure(ncols: int = 1, nrows: int = 1,
               figsize: tuple[float, float] | None = None) -> tuple[Figure, NDArray[np.object_]]:
    """A figure in mplhep's ROOT-like style, sized for a report; ``axes[row][col]`` are its Axes."""
    size = figsize if figsize is not None else (8.5 * ncols if ncols > 1 else 9.0, 6.8 * nrows)
    fig, axes = plt.subplots(nrows, ncols, figsize=size, squeeze=False)
    return fig, axes


def experiment_label(ax: Axes, text: str) -> None:
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


def finish(fig: Figure, footer: str) -> None:
    fig.tight_layout(rect=(0, 0.035 if footer else 0, 1, 1))
    if footer:
        fig.text(0.01, 0.008, footer, ha="left", va="bottom", fontsize=9, color="0.35")


def no_data(fig: Figure, ax: Axes, reason: str) -> None:
    ax.set_axis_off()
    ax.text(0.5, 0.5, f"no data\n{reason}", transform=ax.transAxes, ha="center",
            va="center", fontsize=16, color="0.3", wrap=True)


def mark_failures(ax: Axes, rows: pd.DataFrame, x_column: str, colour: str) -> None:
    """A cross at the top edge, with "OOM"/"error", for each failed point."""
    transform = blended_transform_factory(ax.transData, ax.transAxes)
    for _, row in rows.iterrows():
        x = num(row[x_column])
        label = "OOM" if row["status"] == "oom" else "error"
        ax.plot([x], [0.96], marker="x", markersize=11, mew=2.5, color=colour,
                transform=transform, clip_on=False, linestyle="none")
        ax.text(x, 0.925, label, transform=transform, ha="center", va="top",
                fontsize=10, color=colour)


def xy_series_plot(
    rows: pd.DataFrame,
    x_column: str,
    y: Callable[[pd.DataFrame], tuple[np.ndarray, np.ndarray, np.ndarray]],
    *,
    ax: Axes,
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
        for device, backend, precision in series_of(part):
            group = part[(part["device"] == device) & (part["backend"] == backend)
                         & (part["precision"] == precision)].copy()
            group["_x"] = group[x_column].map(num)
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
                mark_failures(ax, failed, "_x", colour)
                for _, row in failed.iterrows():
                    drawn.append({**keys, "x": row["_x"], "y": math.nan, "y_low": math.nan,
                                  "y_high": math.nan, "status": row["status"]})
    columns = (["model"] if by_model else []) + ["device", "backend", "precision", "x", "y",
                                                 "y_low", "y_high", "status"]
    return pd.DataFrame(drawn, columns=columns)


def col(rows: pd.DataFrame, name: str) -> np.ndarray:
    """Column ``name`` as floats (NaN where missing; all NaN when there is no such column)."""
    if name not in rows.columns:
        return np.full(len(rows), np.nan)
    return np.array(pd.to_numeric(rows[name], errors="coerce"), dtype=float)


def selection_text(weights: str, particles: str) -> str:
    jets = "real jets (validation split)" if particles == "real" else f"{particles} particles/jet"
    return f"weights: {weights}, inputs: {jets}"


def log_batch_axis(ax: Axes, data: pd.DataFrame) -> None:
    ax.set_xscale("log", base=2)
    xs = sorted({int(x) for x in data["x"].dropna()}) if not data.empty else []
    if xs:
        ax.set_xticks(xs)
        ax.set_xticklabels([str(x) for x in xs])
        ax.set_xlim(xs[0] / 1.4, xs[-1] * 1.4)
    ax.set_xlabel("batch size [jets]")


def top_headroom(ax: Axes, data: pd.DataFrame) -> None:
    """Room above the curves for legend and OOM marks (log y axis)."""
    values = pd.concat([data["y_low"], data["y"], data["y_high"]]).dropna()
    values = values[values > 0]
    if values.empty:
        return
    ax.set_ylim(values.min() / 2.0, values.max() * 12.0)
