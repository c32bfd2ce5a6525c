"""The tagger zoo side by side: what each model costs here, next to the ParT paper's table.

``results/summary/models.csv``: one row per model and device, from the summary table
of the points (``points.csv``) and, for the model this study trained, its evaluation
(``metrics.json``). Columns:

- ``model``, ``device``, ``params``, ``flops_per_jet`` and ``macs_per_jet`` (= FLOPs / 2:
  the paper's "FLOPs" are multiply-accumulates) at ``flops_particles`` particles per
  jet (the record's count on the main grid's inputs: what the model computed there);
  ``macs_per_jet_padded`` with all ``padded_particles`` slots filled (the paper's count);
- ``accuracy``, ``auc_macro`` (this study's test jets; empty for a model it did not train);
- ``latency_ms_p50_bs1`` (eager fp32, batch 1), ``throughput_jets_per_s_max`` and the
  batch size where it is reached (``throughput_batch_size``), ``peak_memory_bytes_per_jet``
  (at that batch size);
- the paper's ``paper_params``, ``paper_macs``, ``paper_accuracy``, ``paper_auc``
  (arXiv:2202.03772, JetClass, full features; as given there).

``results/summary/models.md`` (:func:`models_markdown`) is the report page: per device,
the paper's columns beside this study's measured ones.

Latency and throughput are the points' own medians, measured in one group per batch
size with the other models on the same jets; the paired ratios between models are in
``comparisons.csv`` (axis ``model``).
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from jetprof.registry import ZOO_LIST

#: the ParT paper's JetClass table (full features): params, MACs per jet, accuracy, macro AUC
#: the ParT paper's Table 2, from the zoo's entries in the core registry
PAPER: dict[str, dict[str, float]] = {m.name: dict(m.paper) for m in ZOO_LIST if m.paper}
COLUMNS = ["model", "device", "params", "flops_per_jet", "macs_per_jet", "flops_particles", "macs_per_jet_padded",
           "padded_particles", "accuracy",
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
            **_padded(eager),
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


def _padded(eager: pd.DataFrame) -> dict[str, Any]:
    """MACs per jet with every slot filled (the paper's convention), from eager fp32 records."""
    if "flops_per_jet_padded" not in eager or not eager["flops_per_jet_padded"].notna().any():
        return {"macs_per_jet_padded": math.nan, "padded_particles": None}
    row = eager[eager["flops_per_jet_padded"].notna()].iloc[0]
    return {"macs_per_jet_padded": float(row["flops_per_jet_padded"]) / 2,
            "padded_particles": int(row["flops_padded_particles"])}


# ----------------------------------------------------------------------------
# the report page: results/summary/models.md

#: what the page says once, above the tables
ABOUT = (
    "The paper's columns are its JetClass table (arXiv:2202.03772: 100 M training jets, full input "
    "features); this study's are measured here with eager PyTorch in fp32, one table per device. "
    "FLOPs count the matrix products that torch's FlopCounterMode sees (2 per multiply-add; LayerNorm, "
    "softmax and other elementwise work, and ParticleNet's k-nearest-neighbour top-k, are left out), "
    "with every slot filled (\"padded\", as the paper counts) and at the particle count the model computed "
    "on this study's jets (its sequence trimmer cuts each batch to its longest jet); MACs = FLOPs / 2 "
    "is the unit the paper calls FLOPs. This study's accuracy and macro "
    "AUC come from its own test split, by default a small generated dataset and a few epochs, so they "
    "sit far below the paper's and can at best rank the models; \"–\" marks a model not trained here."
)
HEADER = ("model", "paper params", "paper MACs", "paper accuracy", "paper AUC", "params", "MACs per jet, padded",
          "MACs per jet",
          "accuracy", "AUC", "latency, batch 1 [ms]", "max throughput [jets/s] (batch)",
          "peak memory per jet [KiB]")


def _number(value: Any, digits: int = 3) -> str:
    """``value`` with ``digits`` significant digits and a k/M/G prefix; "–" when missing."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        return "–"
    if not math.isfinite(value):
        return "–"
    for scale, prefix in ((1e9, " G"), (1e6, " M"), (1e3, " k")):
        if abs(value) >= scale:
            return f"{value / scale:.{digits}g}{prefix}"
    return f"{value:.{digits}g}"


def _fixed(value: Any, spec: str) -> str:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return "–"
    return format(value, spec) if math.isfinite(value) else "–"


def _padded_cell(row: dict[str, Any]) -> str:
    macs, particles = _number(row.get("macs_per_jet_padded")), _fixed(row.get("padded_particles"), ".0f")
    return macs + (f" ({particles} slots)" if macs != "–" and particles != "–" else "")


def _row(row: dict[str, Any]) -> list[str]:
    particles = _fixed(row.get("flops_particles"), ".0f")
    macs = _number(row.get("macs_per_jet"))
    batch = _fixed(row.get("throughput_batch_size"), ".0f")
    throughput = _number(row.get("throughput_jets_per_s_max"))
    return [
        str(row["model"]),
        _number(row.get("paper_params")), _number(row.get("paper_macs")),
        _fixed(row.get("paper_accuracy"), ".3f"), _fixed(row.get("paper_auc"), ".4f"),
        _number(row.get("params")), _padded_cell(row),
        macs + (f" ({particles} particles)" if macs != "–" and particles != "–" else ""),
        _fixed(row.get("accuracy"), ".3f"), _fixed(row.get("auc_macro"), ".4f"),
        _number(row.get("latency_ms_p50_bs1")),
        throughput + (f" ({batch})" if throughput != "–" and batch != "–" else ""),
        _fixed(float(row.get("peak_memory_bytes_per_jet", math.nan)) / 1024, ".1f"),
    ]


def models_markdown(models: pd.DataFrame, hardware: dict[str, str] | None = None) -> str:
    """The report page: per device, the paper's table beside this study's measured columns.

    Args:
        models: the models table (:func:`models_table`).
        hardware: device -> its CPU or GPU model, for the headings.
    """
    hardware = hardware or {}
    lines = ["# The taggers side by side: the ParT paper and this study", "", ABOUT, ""]
    if models.empty:
        lines += ["No model was measured (no ok fp32 point in the summary table).", ""]
    for device, rows in models.groupby(models["device"].astype(str), sort=True):
        lines += [f"## {device}" + (f" ({hardware[device]})" if hardware.get(device) else ""), ""]
        lines += ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
        lines += ["| " + " | ".join(_row(row)) + " |" for row in rows.to_dict("records")]
        lines.append("")
    return "\n".join(lines)
