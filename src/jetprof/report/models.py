"""The tagger zoo side by side: what each model costs here, next to the ParT paper's table.

``results/summary/models.csv``: one row per model and device, from the summary table
of the points (``points.csv``) and, for the model this study trained, its evaluation
(``metrics.json``). Columns:

- ``model``, ``device``, ``params``, ``flops_per_jet`` and ``macs_per_jet`` (= FLOPs / 2:
  the paper's "FLOPs" are multiply-accumulates) at ``flops_particles`` particles per
  jet (the record's count on the main grid's inputs: what the model computed there);
- ``accuracy``, ``auc_macro`` (this study's test jets; empty for a model it did not train);
- ``latency_ms_p50_bs1`` (eager fp32, batch 1), ``throughput_jets_per_s_max`` and the
  batch size where it is reached (``throughput_batch_size``), ``peak_memory_bytes_per_jet``
  (at that batch size);
- the paper's ``paper_params``, ``paper_macs``, ``paper_accuracy``, ``paper_auc``
  (arXiv:2202.03772, JetClass, full features; as given there).

Latency and throughput are the points' own medians, measured in one group per batch
size with the other models on the same jets; the paired ratios between models are in
``comparisons.csv`` (axis ``model``).
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

#: the ParT paper's JetClass table (full features): params, MACs per jet, accuracy, macro AUC
PAPER: dict[str, dict[str, float]] = {
    "PFN": {"paper_params": 86.1e3, "paper_macs": 4.62e6, "paper_accuracy": 0.772, "paper_auc": 0.9714},
    "PCNN": {"paper_params": 354e3, "paper_macs": 15.5e6, "paper_accuracy": 0.809, "paper_auc": 0.9789},
    "ParticleNet": {"paper_params": 370e3, "paper_macs": 540e6, "paper_accuracy": 0.844, "paper_auc": 0.9849},
    "ParT_plain": {"paper_params": 2.13e6, "paper_macs": 260e6, "paper_accuracy": 0.849, "paper_auc": 0.9859},
    "ParT": {"paper_params": 2.14e6, "paper_macs": 340e6, "paper_accuracy": 0.861, "paper_auc": 0.9877},
}
COLUMNS = ["model", "device", "params", "flops_per_jet", "macs_per_jet", "flops_particles", "accuracy",
           "auc_macro", "latency_ms_p50_bs1", "throughput_jets_per_s_max", "throughput_batch_size",
           "peak_memory_bytes_per_jet", *next(iter(PAPER.values()))]


def paper_row(model: str) -> dict[str, float]:
    """The paper's figures for ``model`` (``ParT_full`` counts as ``ParT``, ``*_kin`` as none)."""
    base = model.removesuffix("_full")
    return dict(PAPER.get(base, {k: math.nan for k in next(iter(PAPER.values()))}))


def models_table(points: pd.DataFrame, trained: dict[str, dict[str, Any]] | None = None) -> pd.DataFrame:
    """One row per model and device (see the module docstring).

    Args:
        points: the summary table (``jetprof summarize``).
        trained: model name -> its metrics (``accuracy``, ``auc_macro``), for trained models.
    """
    trained = trained or {}
    ok = points[(points["status"] == "ok") & (points["precision"] == "fp32")]
    rows = []
    for (model, device), rows_md in ok.groupby(["model", "device"], sort=True):
        eager = rows_md[rows_md["backend"] == "eager"]
        weights = "trained" if (eager["weights"] == "trained").any() else "random"
        eager = eager[eager["weights"] == weights]
        settings = eager["particles"].astype(str)
        main = "real" if (settings == "real").any() else (settings.iloc[0] if len(settings) else "")
        grid = eager[settings == main]
        bs1 = grid[grid["batch_size"] == 1]
        best = grid.loc[grid["throughput_jets_per_s"].idxmax()] if len(grid) else None
        first = rows_md.iloc[0]
        flops = float(grid["flops_per_jet"].iloc[0]) if len(grid) else math.nan
        metrics = trained.get(str(model), {})
        rows.append({
            "model": model, "device": device, "params": int(first["params"]),
            "flops_per_jet": flops, "macs_per_jet": flops / 2,
            "flops_particles": int(grid["flops_particles"].iloc[0]) if len(grid) else None,
            "accuracy": metrics.get("accuracy", math.nan), "auc_macro": metrics.get("auc_macro", math.nan),
            "latency_ms_p50_bs1": float(bs1["latency_ms_p50"].iloc[0]) if len(bs1) else math.nan,
            "throughput_jets_per_s_max": float(best["throughput_jets_per_s"]) if best is not None else math.nan,
            "throughput_batch_size": int(best["batch_size"]) if best is not None else None,
            "peak_memory_bytes_per_jet": (float(best["peak_memory_bytes"]) / int(best["batch_size"])
                                          if best is not None and pd.notna(best.get("peak_memory_bytes"))
                                          else math.nan),
            **paper_row(str(model)),
        })
    return pd.DataFrame(rows, columns=COLUMNS)
