"""What each tagger buys for its cost: accuracy and macro AUC against latency per jet,
throughput and FLOPs, per device, with the Pareto front drawn (``accuracy_vs_cost``).

Drawn from ``results/summary/models.csv`` (:mod:`jetprof.report.models`): one row per
model and device. The cost (x) is always this study's measurement on that device; the
score (y) is this study's accuracy on its own test jets where it trained the model
(filled markers), and the ParT paper's (arXiv:2202.03772, JetClass) for every model the
paper lists (hollow markers). The two sit on separate panels, one above the other, each
with its own y range: a few epochs on a small generated dataset score far below 100 M
JetClass jets (0.41 against 0.861 for ParT), and one shared axis would squash both.
Only the measured points make the solid Pareto front; the paper's points get a dashed
one of their own.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure, SubFigure
from matplotlib.layout_engine import ConstrainedLayoutEngine
from matplotlib.lines import Line2D
from matplotlib.ticker import NullFormatter

from jetprof.report.style import MODEL_COLOURS, Plot, col, styled

#: (models.csv column, axis label, higher is better, scale): the costs, one per column of panels
COSTS: tuple[tuple[str, str, bool, float], ...] = (
    ("latency_ms_p50_bs1", "latency per jet, batch 1 [ms]", False, 1.0),
    ("throughput_jets_per_s_max", "max throughput [jets/s]", True, 1.0),
    ("flops_per_jet", "MFLOP per jet", False, 1e-6),
)
#: (measured column, the paper's column, axis label): the scores, one per row of panels
SCORES: tuple[tuple[str, str, str], ...] = (
    ("accuracy", "paper_accuracy", "accuracy"),
    ("auc_macro", "paper_auc", "macro AUC"),
)
MODEL_MARKERS = ("o", "s", "D", "^", "v", "P", "X", "*")
PAPER = "paper (arXiv:2202.03772, JetClass 100 M jets)"
STUDY = "this study (its own test jets)"


def pareto_front(costs: Sequence[float] | np.ndarray, scores: Sequence[float] | np.ndarray, *,
                 higher_cost_is_better: bool = False) -> np.ndarray:
    """Which points are on the Pareto front: no other point is as good on both and
    better on one.

    Args:
        costs: the cost of each point (latency, FLOPs; or throughput with
            ``higher_cost_is_better``).
        scores: the score of each point (higher is better).
        higher_cost_is_better: the "cost" is a rate (throughput): more is better.

    Returns:
        A boolean mask; points with a NaN cost or score are never on the front.
    """
    cost = np.asarray(costs, dtype=float) * (-1.0 if higher_cost_is_better else 1.0)
    score = np.asarray(scores, dtype=float)
    valid = np.isfinite(cost) & np.isfinite(score)
    front = np.zeros(len(cost), dtype=bool)
    for i in np.flatnonzero(valid):
        others = valid.copy()
        others[i] = False
        dominated = others & (cost <= cost[i]) & (score >= score[i]) & ((cost < cost[i]) | (score > score[i]))
        front[i] = not dominated.any()
    return front


def _by_flops(models: pd.DataFrame) -> list[str]:
    """The models, cheapest (FLOPs per jet) first, those without a count last."""
    flops = models.assign(_f=col(models, "flops_per_jet")).groupby(models["model"].astype(str))["_f"].max()
    return sorted(flops.index, key=lambda m: (not np.isfinite(flops[m]), flops[m] if np.isfinite(flops[m]) else 0, m))


def _front_line(ax: Axes, xs: np.ndarray, ys: np.ndarray, higher_is_better: bool, *, color: str,
                linestyle: str, linewidth: float) -> None:
    """The front as a step: the best score reachable at that cost or less (that rate or more)."""
    order = np.argsort(xs)
    ax.plot(xs[order], ys[order], drawstyle="steps-pre" if higher_is_better else "steps-post",
            zorder=1, color=color, linestyle=linestyle, linewidth=linewidth)


def _model_styles(models: Sequence[str]) -> dict[str, tuple[str, str]]:
    """(colour, marker) of each model, the same in every panel; no two models alike (past
    the eighth model the markers shift by one per cycle of colours)."""
    n = len(MODEL_COLOURS)
    return {m: (MODEL_COLOURS[i % n], MODEL_MARKERS[(i + i // n) % len(MODEL_MARKERS)])
            for i, m in enumerate(models)}


def _draw_points(ax: Axes, rows: pd.DataFrame, cost: tuple[str, str, bool, float], score: str,
                 source: str, styles: dict[str, tuple[str, str]], labels: list[Label]) -> list[dict[str, object]]:
    """Markers and the front of one score on one panel (their labels go to ``labels``, placed
    once the layout is known); the tidy rows drawn."""
    column, _, higher_is_better, scale = cost
    xs, ys = col(rows, column) * scale, col(rows, score)
    shown = np.isfinite(xs) & np.isfinite(ys) & (xs > 0)
    on_front = pareto_front(np.where(shown, xs, np.nan), ys, higher_cost_is_better=higher_is_better)
    drawn: list[dict[str, object]] = []
    for model, x, y, ok, front in zip(rows["model"].astype(str), xs, ys, shown, on_front):
        if not ok:
            continue
        colour, marker = styles[model]
        filled = source == "measured"
        ax.plot([x], [y], linestyle="none", marker=marker, markersize=10, markeredgewidth=2,
                color=colour, markerfacecolor=colour if filled else "none", zorder=3)
        labels.append((ax, model, x, y, colour))
        drawn.append({"model": model, "cost": column, "x": x, "score": score, "y": y, "source": source,
                      "on_front": bool(front)})
    if on_front.sum() >= 2:
        _front_line(ax, xs[on_front], ys[on_front], higher_is_better, color="0.2",
                    linestyle="-" if source == "measured" else "--", linewidth=1.6)
    missing = sorted(set(rows["model"].astype(str)[np.isfinite(ys) & ~shown]))
    if missing:
        ax.text(0.98, 0.04, "cost not measured: " + ", ".join(missing), transform=ax.transAxes,
                ha="right", va="bottom", fontsize=9, color="0.35")
    return drawn


#: (axes, text, x, y, colour) of a point's label
Label = tuple[Axes, str, float, float, str]
#: where a label may sit around its point: offset in points, alignment
_SPOTS = ((7, 3, "left", "bottom"), (7, -3, "left", "top"), (-7, 3, "right", "bottom"),
          (-7, -3, "right", "top"), (0, 9, "center", "bottom"), (0, -9, "center", "top"))


def _overlap(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    return max(0.0, min(a[2], b[2]) - max(a[0], b[0])) * max(0.0, min(a[3], b[3]) - max(a[1], b[1]))


def place_labels(fig: Figure, labels: Sequence[Label], fontsize: float = 10) -> None:
    """Name each point beside it, on the side where its name covers the fewest other points,
    names and axes edges (greedy, from left to right; needs the figure laid out)."""
    fig.draw_without_rendering()
    scale = fig.dpi / 72
    for ax in {id(item[0]): item[0] for item in labels}.values():
        items = sorted((i for i in labels if i[0] is ax), key=lambda i: (i[2], i[3]))
        pixels = ax.transData.transform([(i[2], i[3]) for i in items])
        taken = [(px - 7 * scale, py - 7 * scale, px + 7 * scale, py + 7 * scale) for px, py in pixels]
        frame = ax.bbox.extents
        for (_, text, x, y, colour), (px, py) in zip(items, pixels):
            width, height = 0.6 * fontsize * len(text) * scale, 1.2 * fontsize * scale
            best: tuple[float, tuple[int, int, str, str], tuple[float, float, float, float]] | None = None
            for dx, dy, ha, va in _SPOTS:
                left = px + dx * scale - {"left": 0, "right": width, "center": width / 2}[ha]
                bottom = py + dy * scale - (height if va == "top" else 0)
                box = (left, bottom, left + width, bottom + height)
                inside = _overlap(box, frame)
                cost = sum(_overlap(box, t) for t in taken) + 4 * (width * height - inside)
                if best is None or cost < best[0]:
                    best = (cost, (dx, dy, ha, va), box)
            assert best is not None
            (dx, dy, ha, va), box = best[1], best[2]
            taken.append(box)
            ax.annotate(text, (x, y), xytext=(dx, dy), textcoords="offset points", ha=ha, va=va,
                        fontsize=fontsize, color=colour, zorder=4)


def _pad(ax: Axes, values: np.ndarray, log: bool) -> None:
    """Room around the points for their labels."""
    values = values[np.isfinite(values)]
    if log:
        values = values[values > 0]
    if values.size == 0:
        return
    low, high = float(values.min()), float(values.max())
    if log:  # at least a decade, so that a power of ten is labelled
        span = math.log10(high / low)
        extra = max(0.6 * span, 1.0 - span)
        ax.set_xlim(low / 10 ** (0.25 * extra), high * 10 ** (0.75 * extra))
    else:  # at least 0.02 of accuracy or AUC
        span = high - low
        extra = max(0.6 * span, 0.02 - span)
        ax.set_ylim(low - 0.4 * extra, high + 0.6 * extra)


def _device_block(subfig: SubFigure, rows: pd.DataFrame, device: str, styles: dict[str, tuple[str, str]],
                  labels: list[Label]) -> list[dict[str, object]]:
    """The 2 x 3 panels of one device; each score's row split into this study's panel and the
    paper's where both exist."""
    drawn: list[dict[str, object]] = []
    notes = []
    models = rows["model"].astype(str).tolist()
    if len(models) == 1:
        notes.append(f"only {models[0]} measured on {device}: list more models under profile.models "
                     "to compare")
    heights, kinds = [], []
    for measured, paper, label in SCORES:
        has = {"paper": np.isfinite(col(rows, paper)).any(), "measured": np.isfinite(col(rows, measured)).any()}
        parts = [k for k in ("paper", "measured") if has[k]] or ["none"]
        kinds += [(label, measured, paper, k) for k in parts]
        heights += [1.0 / len(parts)] * len(parts)
    without = [m for m, a, p in zip(models, col(rows, "accuracy"), col(rows, "paper_accuracy"))
               if not np.isfinite(a) and not np.isfinite(p)]
    if without:
        notes.append("no accuracy (not trained here, not in the paper): " + ", ".join(without))
    trained = int(np.isfinite(col(rows, "accuracy")).sum())
    if trained == 1 and len(models) > 1:
        notes.append("one model trained here: its front is one point; hollow markers give the paper's "
                     "accuracy of the others")
    axes = subfig.subplots(len(kinds), len(COSTS), squeeze=False, sharex="col",
                           gridspec_kw={"height_ratios": heights})
    for r, (label, measured, paper, kind) in enumerate(kinds):
        for c, cost in enumerate(COSTS):
            ax = axes[r][c]
            ax.set_xscale("log")
            ax.xaxis.set_minor_formatter(NullFormatter())
            ax.tick_params(labelsize=11)
            if kind == "none":
                ax.text(0.5, 0.5, f"no {label}: no model trained here\nnor listed in the paper",
                        transform=ax.transAxes, ha="center", va="center", fontsize=11, color="0.35")
                ax.set_yticks([])
            else:
                drawn += [{"device": device, **d} for d in _draw_points(
                    ax, rows, cost, measured if kind == "measured" else paper, kind, styles, labels)]
                if kind == "paper":
                    ax.set_facecolor("0.96")
            ax.grid(True, which="major", alpha=0.3)
            if c == 0:
                ax.set_ylabel(f"{label}\n{'paper' if kind == 'paper' else 'this study'}"
                              if kind != "none" else label, fontsize=13)
            if r == len(kinds) - 1:
                ax.set_xlabel(f"{cost[1]}  ({'higher' if cost[2] else 'lower'} is better)", fontsize=13)
    for c, cost in enumerate(COSTS):
        _pad(axes[0][c], col(rows, cost[0]) * cost[3], log=True)
    for r, (_, measured, paper, kind) in enumerate(kinds):
        if kind != "none":
            values = col(rows, measured if kind == "measured" else paper)
            for c in range(len(COSTS)):
                _pad(axes[r][c], values, log=False)
    title = f"{device}"
    if notes:
        title += "\n" + "\n".join(notes)
    subfig.suptitle(title, fontsize=14 if not notes else 12, x=0.01, ha="left",
                    fontweight="bold" if not notes else "normal")
    return drawn


def _legend(fig: Figure, styles: dict[str, tuple[str, str]]) -> None:
    handles = [Line2D([], [], linestyle="none", marker=marker, color=colour, markersize=9, label=model)
               for model, (colour, marker) in styles.items()]
    handles += [
        Line2D([], [], linestyle="none", marker="o", color="0.2", markersize=9, label=STUDY),
        Line2D([], [], linestyle="none", marker="o", color="0.2", markerfacecolor="none", markersize=9,
               markeredgewidth=2, label=PAPER),
        Line2D([], [], color="0.2", linestyle="-", label="Pareto front, this study"),
        Line2D([], [], color="0.2", linestyle="--", label="Pareto front, paper"),
    ]
    fig.legend(handles=handles, loc="outside upper center", ncol=min(len(handles), 5), fontsize=11,
               frameon=False, title=r"$\bf{jetprof}$  $\it{accuracy\ against\ cost,\ per\ device}$",
               title_fontsize=13)


@styled
def accuracy_vs_cost(models: pd.DataFrame) -> Plot:
    """Accuracy and macro AUC (rows) against latency at batch 1, maximum throughput and FLOPs
    per jet (columns), one block of panels per device (see the module docstring).

    Args:
        models: the models table (``results/summary/models.csv``).

    Returns:
        The figure and one row per drawn point: device, model, cost (column), x, score
        (column), y, source (``measured`` or ``paper``), on_front.
    """
    import matplotlib.pyplot as plt

    columns = ["device", "model", "cost", "x", "score", "y", "source", "on_front"]
    devices = sorted({str(d) for d in models["device"]}) if not models.empty else []
    if not devices:
        fig, ax = plt.subplots(figsize=(9.0, 5.0))
        ax.set_axis_off()
        ax.text(0.5, 0.5, "no data\nno models in the models table\n(jetprof summarize --models-csv)",
                transform=ax.transAxes, ha="center", va="center", fontsize=16, color="0.3")
        return Plot(fig, pd.DataFrame(columns=columns))
    styles = _model_styles(_by_flops(models))
    fig = plt.figure(figsize=(17.0, 1.2 + 7.6 * len(devices)), layout="constrained")
    subfigs = fig.subfigures(len(devices), 1, squeeze=False)[:, 0]
    drawn: list[dict[str, object]] = []
    labels: list[Label] = []
    for subfig, device in zip(subfigs, devices):
        rows = models[models["device"].astype(str) == device].reset_index(drop=True)
        drawn += _device_block(subfig, rows, device, styles, labels)
    _legend(fig, styles)
    engine = fig.get_layout_engine()
    assert isinstance(engine, ConstrainedLayoutEngine)  # the figure is made with layout="constrained"
    engine.set(rect=(0, 0.015, 1, 0.985))
    place_labels(fig, labels)
    particles = sorted({int(p) for p in col(models, "flops_particles") if np.isfinite(p)})
    footer = ("cost: eager PyTorch fp32 on each device; latency: median at batch 1; throughput: "
              "highest over the batch sizes measured; FLOPs: matrix products, 2 per multiply-add"
              + (f", at {'/'.join(map(str, particles))} particles per jet" if particles else ""))
    fig.text(0.01, 0.002, footer, ha="left", va="bottom", fontsize=9, color="0.35")
    return Plot(fig, pd.DataFrame(drawn, columns=columns))
