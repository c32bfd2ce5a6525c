"""The figures of the training and evaluation: training curves, ROC curves and the
confusion matrix, drawn from ``metrics.json`` (``jetprof evaluate``).

metrics.json is written by ``jetprof evaluate`` (see :mod:`jetprof.train.evaluate`).
Keys read here:

- ``classes``: ``["QCD", "Hbb", ...]``
- ``accuracy``: float; ``auc_ovr``: ``{class: AUC one-vs-rest}``
- ``roc``: ``{class: {"vs": "QCD", "tpr": [...], "fpr": [...]}}``
- ``rejection``: ``{class: {"signal_efficiency": float, "rejection": float|null, ...}}``
- ``confusion``: ``{"classes": [...], "counts": [[...]]}`` (rows: true, columns: predicted)
- ``training``: ``{"epochs": [...], "train_loss": [...], "train_acc": [...],
  "val_loss": [...], "val_acc": [...], "best_epoch": int}`` or null

(a list of per-epoch dicts under ``epochs`` and a bare confusion matrix are read too)
"""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from jetprof.errors import JetprofError
from jetprof.report.style import (
    Plot,
    experiment_label,
    finish,
    new_figure,
    no_data,
    styled,
)


def _metrics_key(metrics: dict[str, Any], *names: str, source: str = "metrics") -> Any:
    for name in names:
        if name in metrics and metrics[name] is not None:
            return metrics[name]
    raise JetprofError(f"{source}: metrics have no '{names[0]}' entry")


@styled
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
    fig, axes = new_figure(ncols=2)
    if frame.empty or "epoch" not in frame.columns:
        no_data(fig, axes[0][0], "no per-epoch entries in the training log")
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
        experiment_label(ax, "training with weaver")
    finish(fig, "")
    return Plot(fig, pd.DataFrame(drawn, columns=["quantity", "split", "epoch", "y"]))


@styled
def roc(metrics: dict[str, Any], source: str = "metrics") -> Plot:
    """Background rejection (1/ε_B) against signal efficiency, per class."""
    curves = _metrics_key(metrics, "roc", source=source)
    auc = metrics.get("auc_ovr") or metrics.get("auc") or {}
    working = metrics.get("rejection") or {}
    fig, axes = new_figure()
    ax = axes[0][0]
    if not isinstance(curves, dict) or not curves:
        no_data(fig, ax, "no ROC curves in the metrics")
        return Plot(fig, pd.DataFrame())
    classes = [c for c in metrics.get("classes", []) if c in curves] or sorted(curves)
    colours = [plt.get_cmap("tab10")(i) for i in range(10)]
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
    experiment_label(ax, "test split, weaver --predict")
    finish(fig, "")
    return Plot(fig, pd.DataFrame(drawn, columns=["class", "tpr", "rejection"]))


@styled
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
    fig, axes = new_figure(figsize=(10.5, 9.5))
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
    experiment_label(ax, f"test split, {int(counts.sum())} jets")
    finish(fig, "")
    drawn = pd.DataFrame([{"true": classes[i], "predicted": classes[j], "count": counts[i, j],
                           "percent": percent[i, j]} for i in range(n) for j in range(n)])
    return Plot(fig, drawn)
