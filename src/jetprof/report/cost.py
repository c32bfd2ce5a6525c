"""``jetprof cost``: the node runs as one table, and what they cost per event and per billion jets.

``jetprof cost --out-node results/summary/node.csv --out-csv results/summary/cost.csv
--out-md results/summary/cost.md [--points results/summary/points.csv] [--jets-per-event 16]
[--budget-ms-per-event 1000] NODE_RECORDS...``

- ``node.csv``: one row per node record (model, backend-precision, processes, threads):
  ``jets_per_s``, ``jets_per_s_per_core``, ``rss_peak_bytes`` (the largest process),
  ``slot_bytes`` and ``fits_slot``, and ``client_jets_per_s`` (one process's share).
- ``cost.csv``: one row per model and rung, from its plan with the most jets/s per core
  (``best_plan``): ``core_hours_per_1e9_jets`` = 1e9 / (jets/s per core) / 3600;
  ``ms_per_event`` = ``jets_per_event`` x 1000 / (jets/s per core), the CPU time one core spends
  tagging an event's jets; ``budget_share`` = ``ms_per_event`` / ``budget_ms_per_event``.
  Where the profile table holds GPU (cuda) points of the model, ``clients_per_gpu`` is SONIC's
  figure (arXiv:2402.15366): the GPU's measured jets/s at its best batch size divided by one
  client's jets/s, a client being one CPU process of that best plan (its jets/s: the plan's
  aggregate over its processes). The GPU rung is the same backend-precision where measured on
  a GPU, else the model's fastest GPU rung; ``gpu_backend``/``gpu_precision`` say which, on real
  jets where the GPU ran them (else the particle count ``gpu_particles`` says).
"""

from __future__ import annotations

import argparse
import json
import math
import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

from jetprof.config import study_defaults
from jetprof.errors import JetprofError
from jetprof.io import atomic_write_text
from jetprof.node_record import NodeRecord, load_node_record
from jetprof.report.style import BACKEND_COLOURS, STYLE, Plot

_COST = study_defaults()["cost"]

NODE_COLUMNS: tuple[str, ...] = (
    "model", "weights", "device", "backend", "precision", "processes", "threads", "cores", "batch_size",
    "jets_per_s", "jets_per_s_per_core", "client_jets_per_s", "rss_peak_bytes", "slot_bytes",
    "memory_per_core_gb", "fits_slot", "window_s", "latency_ms_p50", "process_mode", "cpu_model", "record_path")


@dataclass
class CostRow:
    """One model at one rung: what its best node plan says a billion jets and an event cost."""

    model: str
    device: str
    backend: str
    precision: str
    best_plan: str
    jets_per_s_per_core: float
    core_hours_per_1e9_jets: float
    ms_per_jet_per_core: float
    jets_per_event: float
    ms_per_event: float
    budget_ms_per_event: float
    budget_share: float
    client_jets_per_s: float
    gpu_device: str | None = None
    gpu_backend: str | None = None
    gpu_precision: str | None = None
    gpu_batch_size: int | None = None
    gpu_particles: str | None = None
    gpu_jets_per_s: float | None = None
    clients_per_gpu: float | None = None


COST_COLUMNS: tuple[str, ...] = tuple(CostRow.__dataclass_fields__)


def load_node_records(paths: Iterable[str | os.PathLike[str]]) -> list[tuple[str, NodeRecord]]:
    """Every node record under ``paths`` (files, or folders searched for ``*x*.json``), validated."""
    found: list[Path] = []
    for path in map(Path, paths):
        found += sorted(path.rglob("*x*.json")) if path.is_dir() else [path]
    out = []
    for path in found:
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise JetprofError(f"{path}: no such node record") from None
        except json.JSONDecodeError as exc:
            raise JetprofError(f"{path}: node record is not valid JSON ({exc.msg}, line {exc.lineno})") from None
        out.append((str(path), load_node_record(doc, str(path))))
    return out


def node_table(records: list[tuple[str, NodeRecord]]) -> pd.DataFrame:
    """One row per node record (``node.csv``)."""
    rows = []
    for path, r in records:
        latencies = sorted(p.latency_ms_p50 for p in r.per_process)
        rows.append({
            "model": r.model, "weights": r.weights, "device": r.device, "backend": r.backend,
            "precision": r.precision, "processes": r.processes, "threads": r.threads, "cores": r.cores,
            "batch_size": r.batch_size, "jets_per_s": r.jets_per_s, "jets_per_s_per_core": r.jets_per_s_per_core,
            "client_jets_per_s": r.jets_per_s / r.processes, "rss_peak_bytes": r.rss_peak_bytes,
            "slot_bytes": r.slot_bytes, "memory_per_core_gb": r.memory_per_core_gb, "fits_slot": r.fits_slot,
            "window_s": r.window_s, "latency_ms_p50": latencies[len(latencies) // 2],
            "process_mode": r.process_mode, "cpu_model": r.env.get("cpu_model"), "record_path": path})
    table = pd.DataFrame(rows, columns=list(NODE_COLUMNS))
    return table.sort_values(["model", "backend", "precision", "cores", "processes"], ignore_index=True)


def _gpu_best(points: pd.DataFrame | None, model: str, backend: str,
              precision: str) -> tuple[str, str, str, int, str, float] | None:
    """(device, backend, precision, batch size, particles, jets/s) of the model's fastest GPU
    point: on real jets where the GPU ran them (the node's processes do), at the same rung where
    one was measured on a GPU, else at any rung."""
    if points is None or points.empty:
        return None
    ok = points[(points["model"] == model) & points["device"].astype(str).str.startswith("cuda")
                & (points["status"] == "ok")]
    ok = ok[pd.to_numeric(ok["throughput_jets_per_s"], errors="coerce") > 0]
    if "particles" in ok and (ok["particles"].astype(str) == "real").any():
        ok = ok[ok["particles"].astype(str) == "real"]
    same = ok[(ok["backend"] == backend) & (ok["precision"] == precision)]
    pool = same if not same.empty else ok
    if pool.empty:
        return None
    best = pool.loc[pd.to_numeric(pool["throughput_jets_per_s"]).idxmax()]
    particles = str(best["particles"]) if "particles" in best else "real"
    return (str(best["device"]), str(best["backend"]), str(best["precision"]), int(best["batch_size"]),
            particles, float(best["throughput_jets_per_s"]))


def cost_rows(node: pd.DataFrame, points: pd.DataFrame | None, jets_per_event: float,
              budget_ms_per_event: float) -> list[CostRow]:
    """One :class:`CostRow` per (model, device, backend, precision) of the node table."""
    if jets_per_event <= 0 or budget_ms_per_event <= 0:
        raise JetprofError("--jets-per-event and --budget-ms-per-event must be > 0")
    rows = []
    for (model, device, backend, precision), runs in node.groupby(["model", "device", "backend", "precision"],
                                                                  sort=True):
        best = runs.loc[runs["jets_per_s_per_core"].astype(float).idxmax()]
        per_core = float(best["jets_per_s_per_core"])
        if not per_core > 0:
            raise JetprofError(f"{best['record_path']}: no jets done (jets_per_s_per_core {per_core})")
        ms_per_jet = 1e3 / per_core
        client = float(best["jets_per_s"]) / int(best["processes"])
        row = CostRow(model=str(model), device=str(device), backend=str(backend), precision=str(precision),
                      best_plan=f"{int(best['processes'])}x{int(best['threads'])}", jets_per_s_per_core=per_core,
                      core_hours_per_1e9_jets=1e9 / per_core / 3600, ms_per_jet_per_core=ms_per_jet,
                      jets_per_event=jets_per_event, ms_per_event=jets_per_event * ms_per_jet,
                      budget_ms_per_event=budget_ms_per_event,
                      budget_share=jets_per_event * ms_per_jet / budget_ms_per_event, client_jets_per_s=client)
        gpu = _gpu_best(points, str(model), str(backend), str(precision))
        if gpu is not None:
            (row.gpu_device, row.gpu_backend, row.gpu_precision, row.gpu_batch_size, row.gpu_particles,
             row.gpu_jets_per_s) = gpu
            row.clients_per_gpu = gpu[5] / client
        rows.append(row)
    return rows


def _fmt(value: float | None, spec: str) -> str:
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else format(value, spec)


def cost_markdown(rows: list[CostRow], node: pd.DataFrame) -> str:
    """The report's table: per model and rung, the node's throughput and the cost per event."""
    lines = ["# What it costs to deploy: a full node, per event, per billion jets", ""]
    if not rows:
        return "\n".join([*lines, "No node record in this study (node.plans is empty, or results/node/ "
                                   "was not copied).", ""])
    cpu = sorted({str(c) for c in node["cpu_model"].dropna()})
    lines += [f"CPU: {', '.join(cpu) or 'unknown'}. Cost from each rung's plan with the most jets/s per core; "
              f"{rows[0].jets_per_event:g} jets per event, a budget of {rows[0].budget_ms_per_event:g} ms "
              "per event per core.", "",
              "| model | rung | best plan | jets/s per core | core-hours per 10⁹ jets | ms per event | "
              "budget share | clients per GPU |", "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: |"]
    for r in rows:
        gpu = "– (no GPU point)"
        if r.clients_per_gpu is not None:
            gpu = (f"{_fmt(r.clients_per_gpu, '.1f')} ({r.gpu_device} {r.gpu_backend}-{r.gpu_precision} "
                   f"at batch {r.gpu_batch_size}, p{r.gpu_particles})")
        lines.append(f"| {r.model} | {r.backend}-{r.precision} | {r.best_plan} | {r.jets_per_s_per_core:.1f} | "
                     f"{r.core_hours_per_1e9_jets:.1f} | {r.ms_per_event:.2f} | {100 * r.budget_share:.2f} % | "
                     f"{gpu} |")
    lines += ["", "Every plan (peak RSS is the largest process's, the whole process; a slot is "
              "memory_per_core_gb x threads):", "",
              "| model | rung | plan | jets/s | jets/s per core | peak RSS [MiB] | slot [GB] | fits |",
              "| --- | --- | --- | ---: | ---: | ---: | ---: | --- |"]
    for _, n in node.iterrows():
        lines.append(f"| {n['model']} | {n['backend']}-{n['precision']} | {n['processes']}x{n['threads']} | "
                     f"{n['jets_per_s']:.1f} | {n['jets_per_s_per_core']:.1f} | {n['rss_peak_bytes'] / 2**20:.0f} | "
                     f"{n['slot_bytes'] / 1e9:g} | {'yes' if n['fits_slot'] else '**no**'} |")
    return "\n".join(lines) + "\n"


NODE_FIGURE_COLUMNS = ["model", "backend", "precision", "plan", "cores", "jets_per_s", "ideal_jets_per_s",
                       "rss_peak_bytes", "slot_bytes", "fits_slot"]


def node_throughput(node: pd.DataFrame) -> Plot:
    """Left: aggregate jets/s against processes x threads, one series per model and rung, each
    point labelled with its plan, beside the ideal line (the 1x1 plan's jets/s times the cores;
    without a 1x1 plan, the smallest plan's jets/s per core). Right: each plan's largest
    whole-process peak RSS against its slot (memory_per_core_gb x threads); a plan over its
    slot is marked with a red cross."""
    with plt.style.context(STYLE):
        fig, (ax, mem) = plt.subplots(1, 2, figsize=(15, 6.5), layout="constrained")
        drawn: list[dict[str, object]] = []
        if node.empty:
            for a in (ax, mem):
                a.set_axis_off()
            ax.text(0.5, 0.5, "no node record\n(node.plans is empty, or results/node/ was not copied)",
                    ha="center", va="center",
                    transform=ax.transAxes, fontsize=16, color="0.35")
            return Plot(fig, pd.DataFrame(columns=NODE_FIGURE_COLUMNS))
        series = list(node.groupby(["model", "backend", "precision"], sort=True))
        for k, ((model, backend, precision), runs) in enumerate(series):
            runs = runs.sort_values(["cores", "processes"])
            colour = BACKEND_COLOURS.get(str(backend), f"C{k}")
            label = f"{model} {backend}-{precision}" if node["model"].nunique() > 1 else f"{backend}-{precision}"
            one = runs[(runs["processes"] == 1) & (runs["threads"] == 1)]
            base = (float(one["jets_per_s"].iloc[0]) if not one.empty
                    else float(runs.iloc[0]["jets_per_s_per_core"]))
            ax.plot(runs["cores"], runs["jets_per_s"], "o", color=colour, markersize=9, label=label)
            top = int(runs["cores"].max())
            ax.plot([0, top], [0, base * top], "--", color=colour, linewidth=1.2, alpha=0.7,
                    label=f"ideal ({'1x1' if not one.empty else 'smallest plan'} x cores)")
            for r in runs.itertuples():
                plan = f"{r.processes}x{r.threads}"
                ax.annotate(plan, (r.cores, r.jets_per_s), textcoords="offset points", xytext=(6, -12), fontsize=10)
                x = len(drawn)
                mem.bar(x, r.rss_peak_bytes / 2**20, color=colour, alpha=0.8)
                mem.plot([x - 0.4, x + 0.4], [r.slot_bytes / 2**20] * 2, color="0.2", linewidth=2)
                if not r.fits_slot:
                    mem.plot([x], [r.rss_peak_bytes / 2**20], "x", color="red", markersize=14, markeredgewidth=3)
                drawn.append({"model": model, "backend": backend, "precision": precision, "plan": plan,
                              "cores": int(r.cores), "jets_per_s": float(r.jets_per_s),
                              "ideal_jets_per_s": base * int(r.cores), "rss_peak_bytes": int(r.rss_peak_bytes),
                              "slot_bytes": int(r.slot_bytes), "fits_slot": bool(r.fits_slot)})
        ax.set_xlim(0, int(node["cores"].max()) + 0.5)
        ax.set_ylim(0, None)
        ax.set_xlabel("cores used (processes x threads)")
        ax.set_ylabel("node throughput [jets/s, all processes]")
        ax.set_title("a full node against the ideal", fontsize=15, loc="left")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=10, loc="upper left")
        mem.set_xticks(range(len(drawn)), [f"{d['plan']}\n{d['backend']}-{d['precision']}" for d in drawn],
                       fontsize=9)
        mem.plot([], [], color="0.2", linewidth=2, label="slot (memory per core x threads)")
        mem.set_ylabel("peak RSS of the largest process [MiB]")
        mem.set_title("whole-process memory against the slot", fontsize=15, loc="left")
        mem.set_ylim(0, None)
        mem.legend(fontsize=10, loc="center left")
        cpu = sorted({str(c) for c in node["cpu_model"].dropna()})
        fig.text(0.01, 0.0, f"cpu: {', '.join(cpu)} | batch {'/'.join(map(str, sorted(set(node['batch_size']))))}",
                 fontsize=9, color="0.35")
        return Plot(fig, pd.DataFrame(drawn, columns=NODE_FIGURE_COLUMNS))


def read_node_table(path: str | os.PathLike[str]) -> pd.DataFrame:
    """``node.csv`` as written by ``jetprof cost``."""
    from jetprof.report.summarize import read_table

    return read_table(path, "node table", NODE_COLUMNS, " (run jetprof cost first)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("records", nargs="*", help="node records (results/node/...) or folders of them")
    parser.add_argument("--out-node", required=True, help="the node table (results/summary/node.csv)")
    parser.add_argument("--out-csv", required=True, help="the cost table (results/summary/cost.csv)")
    parser.add_argument("--out-md", required=True, help="the report's cost page (results/summary/cost.md)")
    parser.add_argument("--points", help="the profile's summary table, for GPU points (results/summary/points.csv)")
    parser.add_argument("--jets-per-event", type=float, default=float(_COST["jets_per_event"]),
                        help="jets tagged per event (cost.jets_per_event)")
    parser.add_argument("--budget-ms-per-event", type=float, default=float(_COST["budget_ms_per_event"]),
                        help="the CPU budget per event per core, ms (cost.budget_ms_per_event)")


def run(args: argparse.Namespace) -> int:
    from jetprof.report.summarize import read_table

    node = node_table(load_node_records(args.records))
    points = (read_table(args.points, "summary table", ("model", "device", "backend", "precision", "status",
                                                        "batch_size", "throughput_jets_per_s"))
              if args.points else None)
    rows = cost_rows(node, points, args.jets_per_event, args.budget_ms_per_event)
    atomic_write_text(args.out_node, node.to_csv(index=False))
    cost = pd.DataFrame([asdict(r) for r in rows], columns=list(COST_COLUMNS))
    atomic_write_text(args.out_csv, cost.to_csv(index=False))
    atomic_write_text(args.out_md, cost_markdown(rows, node))
    for r in rows:
        print(f"jetprof cost: {r.model} {r.backend}-{r.precision}: {r.jets_per_s_per_core:.1f} jets/s per core "
              f"({r.best_plan}), {r.core_hours_per_1e9_jets:.1f} core-hours per 1e9 jets, "
              f"{r.ms_per_event:.2f} ms per event ({100 * r.budget_share:.2f} % of the budget)"
              + (f", {r.clients_per_gpu:.1f} clients per GPU" if r.clients_per_gpu is not None else ""))
    return 0
