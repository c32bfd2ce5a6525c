"""The serving records side by side: ``results/summary/serving.csv`` (``jetprof serving-summary``)
and the ``served_latency`` figure (what LoadGen measured per rung and scenario).

Every number is the record's, and the record's are LoadGen's summary's: nothing is
recomputed here.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

from jetprof.errors import JetprofError
from jetprof.io import atomic_write_text
from jetprof.report.style import STYLE, Plot
from jetprof.serving_records import CSV_COLUMNS, csv_row, load_serving_record

SCENARIO_ORDER = ("SingleStream", "Offline", "Server")


def table(paths: list[str]) -> pd.DataFrame:
    """One row per serving record (validated on read), in a stable order."""
    rows = []
    for path in paths:
        try:
            doc = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise JetprofError(f"{path}: cannot read the serving record ({exc})") from None
        rows.append(csv_row(load_serving_record(doc, path)))
    frame = pd.DataFrame(rows, columns=list(CSV_COLUMNS))
    if frame.empty:
        return frame
    frame["_s"] = frame["scenario"].map(SCENARIO_ORDER.index)
    return frame.sort_values(["model", "device", "backend", "precision", "_s"]).drop(columns="_s")


def read_serving_table(path: str) -> pd.DataFrame:
    try:
        frame = pd.read_csv(path)
    except (OSError, ValueError) as exc:
        raise JetprofError(f"{path}: cannot read the serving table ({exc}); run jetprof serving-summary") from None
    missing = [c for c in CSV_COLUMNS if c not in frame.columns]
    if missing:
        raise JetprofError(f"{path}: not a serving table (no column(s) {', '.join(missing)})")
    return frame


def served_latency(frame: pd.DataFrame) -> Plot:
    """Left: LoadGen's p50 / p90 / p99 latency per rung and scenario (log scale; Server at its
    highest VALID rate); right: the jets/s LoadGen measured (Server: that rate). A rung not
    served, or a Server bound no rate met, is named with no bar."""
    with plt.style.context(STYLE):
        fig, (left, right) = plt.subplots(1, 2, figsize=(15, 3.0 + 0.8 * max(1, len(frame))), layout="constrained")
        if frame.empty:
            for ax in (left, right):
                ax.set_axis_off()
            left.text(0.5, 0.5, "nothing was served", ha="center", va="center", transform=left.transAxes)
            return Plot(fig, frame)
        labels = [f"{r.model} {r.backend}-{r.precision} {r.scenario}" for r in frame.itertuples()]
        ys = list(range(len(frame)))
        for col, marker in (("p50_ms", "o"), ("p90_ms", "s"), ("p99_ms", "^")):
            left.scatter(frame[col], ys, marker=marker, s=60, label=col.removesuffix("_ms"), zorder=3)
        left.set_xscale("log")
        left.set_xlabel("latency per query (ms)")
        left.set_yticks(ys, labels)
        left.invert_yaxis()
        left.legend(loc="center")
        rate = frame["achieved_qps"].where(frame["scenario"] != "Server", frame["max_qps"]).fillna(0.0)
        right.barh(ys, rate, color=["C0" if v else "0.7" for v in frame["valid"]])
        for y, r, value in zip(ys, frame.itertuples(), rate, strict=True):
            note = f"{value:.0f}" if value > 0 else str(r.result) if r.result != "VALID" else "0"
            if r.scenario == "Server" and r.latency_bound_ms == r.latency_bound_ms:
                note += f" (p99 <= {r.latency_bound_ms:g} ms)"
            right.annotate(note, (value, y), xytext=(-4, 0), ha="right", textcoords="offset points",
                           va="center", fontsize=10)
        right.set_yticks(ys, [""] * len(ys))
        right.invert_yaxis()
        right.set_xlabel("jets/s (Server: highest VALID QPS)")
        return Plot(fig, frame)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out-csv", required=True, help="results/summary/serving.csv")
    parser.add_argument("records", nargs="*", help="serving records (results/serving/.../record.json)")


def run(args: argparse.Namespace) -> int:
    frame = table(args.records)
    atomic_write_text(args.out_csv, frame.to_csv(index=False))
    print(f"jetprof serving-summary: {len(frame)} run(s) -> {args.out_csv}")
    return 0
