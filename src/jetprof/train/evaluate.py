"""``jetprof evaluate``: classification metrics from ``weaver --predict`` output, as JSON.

Reads weaver's prediction file (TTree ``Events`` with one boolean branch per
label, e.g. ``label_Hbb``, and its score ``score_label_Hbb``) and weaver's
training log, and writes one JSON file. Figures are drawn from it elsewhere.

metrics.json fields:

- ``schema_version`` (1), ``pred_file``, ``pred_sha256``, ``n_jets``,
  ``classes`` (short names, e.g. ``["QCD", "Hbb", ...]``), ``labels`` (branch names),
  ``class_counts`` (jets per true class).
- ``accuracy``: fraction of jets whose highest score is the true class.
- ``auc_ovr``: ``{class: AUC}`` of each class's score, that class vs all
  others (one-vs-rest); ``auc_ovr_macro``: their mean. ``null`` for a class with
  no jets (or no other jets).
- ``rejection``: ``{class: {"vs": "QCD", "discriminant", "signal_efficiency",
  "rejection", "fpr", "n_signal", "n_background"}}`` — the background rejection
  1/FPR against QCD jets at the ParT paper's working point for that class
  (arXiv:2202.03772, Table 2: 50 % signal efficiency, 99 % for H→ℓνqq′ and
  99.5 % for t→bℓν). The discriminant is
  ``score_X / (score_X + score_QCD)``, as in the paper. ``rejection`` is
  ``null`` when no QCD jet passes (infinite; ``fpr`` is then 0) or a class is
  missing.
- ``confusion``: ``{"rows": "true class", "columns": "predicted class",
  "classes": [...], "counts": [[...]], "normalized": [[...]]}`` (rows sum to 1).
- ``roc``: ``{class: {"vs": "QCD", "tpr": [...], "fpr": [...], "thresholds": [...]}}``
  — the discriminant's ROC curve, downsampled to at most ``--roc-points``
  points (kept: first/last and evenly spaced in signal efficiency; both axes
  rise monotonically). Plot rejection as ``1/fpr`` vs ``tpr``.
- ``training``: per-epoch curves parsed from weaver's log —
  ``{"epochs": [0, 1, ...], "train_loss": [...], "train_acc": [...],
  "val_loss": [...], "val_acc": [...], "lr_first": [...], "lr_last": [...],
  "train_jets_per_s": [...], "best_epoch": int, "best_val_acc": float,
  "source": "<log path>"}`` (a list entry is ``null`` where the log lacks it;
  ``lr_*`` come from ``jetprof weaver``'s ``jetprof: epoch N lr ...`` lines).
  With ``--tensorboard DIR`` also ``training["tensorboard"]``:
  ``{tag: {"steps": [...], "values": [...]}}`` for weaver's scalars
  (``Loss/train``, ``Acc/train``, ``Acc/eval (epoch)``, ...).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
from pathlib import Path
from typing import TypedDict

import numpy as np

from jetprof.data.jetclass import PROCESSES
from jetprof.errors import JetprofError
from jetprof.metrics import aucs_ovr, downsample, rejection_at, roc_curve

WORKING_POINTS: dict[str, float] = {
    "Hbb": 0.50, "Hcc": 0.50, "Hgg": 0.50, "H4q": 0.50, "Hqql": 0.99,
    "Zqq": 0.50, "Wqq": 0.50, "Tbqq": 0.50, "Tbl": 0.995,
}
"""Signal efficiency of each class's working point (ParT paper, Table 2)."""

PRED_TREE = "Events"


class TrainingCurves(TypedDict, total=False):
    """The metrics' ``training`` block: weaver's per-epoch curves and/or TensorBoard's scalars."""

    epochs: list[int]
    train_loss: list[float | None]
    train_acc: list[float | None]
    val_loss: list[float | None]
    val_acc: list[float | None]
    lr_first: list[float | None]
    lr_last: list[float | None]
    train_jets_per_s: list[float | None]
    best_epoch: int | None
    best_val_acc: float | None
    source: str
    tensorboard: dict[str, dict[str, list[float]]]


class Rejection(TypedDict):
    """One class's background rejection against QCD at its working point."""

    vs: str
    discriminant: str
    signal_efficiency: float
    rejection: float | None
    fpr: float | None
    n_signal: int
    n_background: int


class Confusion(TypedDict):
    rows: str
    columns: str
    classes: list[str]
    counts: list[list[int]]
    normalized: list[list[float]]


class ClassifierMetrics(TypedDict):
    """What :func:`compute_metrics` finds in a prediction file."""

    n_jets: int
    classes: list[str]
    labels: list[str]
    class_counts: dict[str, int]
    accuracy: float
    auc_ovr: dict[str, float | None]
    auc_ovr_macro: float | None
    rejection: dict[str, Rejection]
    confusion: Confusion
    roc: dict[str, dict[str, object]]  # "vs" and the downsampled tpr, fpr, thresholds


class MetricsFile(ClassifierMetrics):
    """The metrics JSON ``jetprof evaluate`` writes."""

    schema_version: int
    pred_file: str
    pred_sha256: str
    training: TrainingCurves | None


def _f(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


def read_predictions(path: str | os.PathLike[str]) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Read weaver's prediction file.

    Returns:
        (label branch names in class order, true class index per jet, scores [jets, classes]).
    """
    import uproot

    path = Path(path)
    if not path.is_file():
        raise JetprofError(f"{path}: prediction file not found")
    try:
        f = uproot.open(path)
        tree = f[PRED_TREE]
        keys = set(tree.keys())
    except Exception as exc:
        raise JetprofError(f"{path}: cannot read TTree {PRED_TREE!r} ({type(exc).__name__}: {exc})") from None
    labels = [p.label for p in PROCESSES if p.label in keys and "score_" + p.label in keys]
    if len(labels) < 2:
        raise JetprofError(
            f"{path}: expected weaver prediction branches label_X and score_label_X for at least two "
            f"JetClass classes, found {len(labels)}"
        )
    arrays = tree.arrays(labels + ["score_" + lab for lab in labels], library="np")
    truth = np.stack([np.asarray(arrays[lab], dtype=bool) for lab in labels], axis=1)
    scores = np.stack([np.asarray(arrays["score_" + lab], dtype=np.float64) for lab in labels], axis=1)
    if len(truth) == 0:
        raise JetprofError(f"{path}: no jets in the prediction file")
    per_jet = truth.sum(axis=1)
    if np.any(per_jet != 1):
        bad = int(np.argmax(per_jet != 1))
        raise JetprofError(f"{path}: jet {bad} has {int(per_jet[bad])} true labels (need exactly one)")
    if not np.all(np.isfinite(scores)):
        raise JetprofError(f"{path}: non-finite scores")
    return labels, truth.argmax(axis=1), scores


# --------------------------------------------------------------------------- training curves

_EPOCH = re.compile(r"Epoch #(\d+) (training|validating)")
_AVG = re.compile(r"(Train|Eval) AvgLoss: ([-\d.eE+naninf]+), AvgAcc: ([-\d.eE+naninf]+)")
_SPEED = re.compile(r"Processed \d+ entries in total \(avg\. speed ([\d.eE+]+) entries/s\)")
_LR = re.compile(r"jetprof: epoch (\d+) lr first=(\S+) min=\S+ max=\S+ last=(\S+) steps=(\d+)")
_BEST = re.compile(r"Epoch #(\d+): Current validation metric: ([\d.eE+-]+) \(best: ([\d.eE+-]+)\)")


def parse_weaver_log(path: str | os.PathLike[str]) -> TrainingCurves:
    """Per-epoch training curves from a weaver training log (see the module docstring)."""
    path = Path(path)
    if not path.is_file():
        raise JetprofError(f"{path}: weaver log not found")
    rows: dict[int, dict[str, float]] = {}
    epoch, phase = None, None
    best_epoch, best = None, None
    for line in path.read_text(errors="replace").splitlines():
        if m := _EPOCH.search(line):
            epoch, phase = int(m.group(1)), m.group(2)
            rows.setdefault(epoch, {})
        elif (m := _AVG.search(line)) and epoch is not None:
            kind = "train" if m.group(1) == "Train" else "val"
            rows[epoch][f"{kind}_loss"] = float(m.group(2))
            rows[epoch][f"{kind}_acc"] = float(m.group(3))
        elif (m := _SPEED.search(line)) and epoch is not None and phase == "training":
            rows[epoch].setdefault("train_jets_per_s", float(m.group(1)))
        elif m := _LR.search(line):
            e = int(m.group(1))
            rows.setdefault(e, {}).update(lr_first=float(m.group(2)), lr_last=float(m.group(3)))
        elif m := _BEST.search(line):
            value = float(m.group(2))
            if best is None or value > best:
                best_epoch, best = int(m.group(1)), value
    if not rows:
        raise JetprofError(f"{path}: no 'Epoch #N training' lines: not a weaver training log")
    epochs = sorted(rows)

    def column(key: str) -> list[float | None]:
        return [_f(rows[e].get(key)) for e in epochs]

    return {"epochs": epochs, "train_loss": column("train_loss"), "train_acc": column("train_acc"),
            "val_loss": column("val_loss"), "val_acc": column("val_acc"), "lr_first": column("lr_first"),
            "lr_last": column("lr_last"), "train_jets_per_s": column("train_jets_per_s"),
            "best_epoch": best_epoch, "best_val_acc": best, "source": str(path)}


def read_tensorboard(directory: str | os.PathLike[str]) -> dict[str, dict[str, list[float]]]:
    """All scalar series of the TensorBoard event files in ``directory``."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    directory = Path(directory)
    if not directory.is_dir() or not any(directory.glob("events.out.tfevents.*")):
        raise JetprofError(f"{directory}: no TensorBoard event files")
    acc = EventAccumulator(str(directory), size_guidance={"scalars": 0})
    acc.Reload()
    return {
        tag: {"steps": [int(e.step) for e in acc.Scalars(tag)], "values": [float(e.value) for e in acc.Scalars(tag)]}
        for tag in sorted(acc.Tags().get("scalars", []))
    }


# --------------------------------------------------------------------------- metrics


def compute_metrics(labels: list[str], truth: np.ndarray, scores: np.ndarray,
                    roc_points: int = 200) -> ClassifierMetrics:
    """Accuracy, one-vs-rest AUCs, rejections, confusion matrix and ROC points."""
    by_label = {p.label: p for p in PROCESSES}
    classes = [by_label[lab].short for lab in labels]
    n = len(classes)
    pred = scores.argmax(axis=1)
    counts = np.zeros((n, n), dtype=np.int64)
    np.add.at(counts, (truth, pred), 1)
    rows = counts.sum(axis=1, keepdims=True)
    normalized = np.divide(counts, rows, out=np.zeros((n, n)), where=rows > 0)

    auc_ovr = dict(zip(classes, aucs_ovr(truth, scores)))
    valid = [a for a in auc_ovr.values() if a is not None]

    rejection: dict[str, Rejection] = {}
    roc: dict[str, dict[str, object]] = {}
    qcd = classes.index("QCD") if "QCD" in classes else None
    for i, c in enumerate(classes):
        if c == "QCD" or qcd is None:
            continue
        eff = WORKING_POINTS.get(c, 0.5)
        entry: Rejection = {
            "vs": "QCD", "discriminant": f"score_{c} / (score_{c} + score_QCD)",
            "signal_efficiency": eff, "rejection": None, "fpr": None,
            "n_signal": int((truth == i).sum()), "n_background": int((truth == qcd).sum()),
        }
        if entry["n_signal"] and entry["n_background"]:
            denom = scores[:, i] + scores[:, qcd]
            disc = np.divide(scores[:, i], denom, out=np.full(len(denom), 0.5), where=denom > 0)
            tpr, fpr, thr = roc_curve(disc[truth == i], disc[truth == qcd])
            f, rej = rejection_at(tpr, fpr, eff)
            entry["fpr"], entry["rejection"] = f, _f(rej)
            roc[c] = {"vs": "QCD", **downsample(tpr, fpr, thr, roc_points)}
        rejection[c] = entry

    return {
        "n_jets": len(truth),
        "classes": classes,
        "labels": list(labels),
        "class_counts": {c: int((truth == i).sum()) for i, c in enumerate(classes)},
        "accuracy": float((pred == truth).mean()),
        "auc_ovr": auc_ovr,
        "auc_ovr_macro": float(np.mean(valid)) if valid else None,
        "rejection": rejection,
        "confusion": {
            "rows": "true class", "columns": "predicted class", "classes": classes,
            "counts": counts.tolist(), "normalized": normalized.tolist(),
        },
        "roc": roc,
    }


def write_json_atomic(obj: object, out: str | os.PathLike[str]) -> None:
    """Write JSON to a temporary file beside ``out``, then rename it into place."""
    from jetprof.io import atomic_write_text

    atomic_write_text(out, json.dumps(obj, indent=1, allow_nan=False) + "\n")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--pred", required=True, help="weaver --predict output (ROOT, TTree Events)")
    parser.add_argument("--weaver-log", help="weaver's training log, for per-epoch curves")
    parser.add_argument("--tensorboard", help="TensorBoard folder of the training, for per-step curves")
    parser.add_argument("--roc-points", type=int, default=200, help="max ROC points kept per class")
    parser.add_argument("--out", required=True, help="metrics JSON")


def run(args: argparse.Namespace) -> int:
    from jetprof.io import sha256_file

    labels, truth, scores = read_predictions(args.pred)
    pred_sha256 = sha256_file(args.pred)
    scored = compute_metrics(labels, truth, scores, roc_points=max(2, args.roc_points))
    training: TrainingCurves | None = None
    if args.weaver_log:
        training = parse_weaver_log(args.weaver_log)
    if args.tensorboard:
        training = training or {}
        training["tensorboard"] = read_tensorboard(args.tensorboard)
    metrics: MetricsFile = {"schema_version": 1, "pred_file": str(args.pred), "pred_sha256": pred_sha256,
                            **scored, "training": training}
    write_json_atomic(metrics, args.out)
    macro = metrics["auc_ovr_macro"]
    print(
        f"jetprof evaluate: {metrics['n_jets']} jets, accuracy {metrics['accuracy']:.4f}, "
        f"macro AUC {macro if macro is None else round(macro, 4)} -> {args.out}"
    )
    return 0
