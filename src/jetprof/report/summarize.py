"""Collect profile records (one JSON per measured point) into one table.

``jetprof summarize --out-csv points.csv --out-md points.md [--models-csv models.csv]
[--models-md models.md] [--metrics MODEL=metrics.json] RECORDS...``

RECORDS are record files or directories; directories are searched
recursively for ``*.json`` and anything that is not a profile record there
(peak records, model cards, ...) is skipped. A file named explicitly must be a
record. The table has one row per point: every scalar field of the record,
the highlights of its environment block (``env_*`` columns) and the record's
path (``record_path``, as given on the command line), sorted by
model, weights, device, backend, precision, particles and batch size.
"""

from __future__ import annotations

import argparse
import json
import math
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from jetprof.contract import BACKENDS, PRECISIONS, WEIGHTS
from jetprof.errors import JetprofError
from jetprof.io import atomic_write_text
from jetprof.records import validate_record

#: Fields a record must have for a row of the table (the point's identity).
KEY_FIELDS: tuple[str, ...] = (
    "model",
    "weights",
    "device",
    "backend",
    "precision",
    "particles",
    "batch_size",
)

#: Environment fields copied into the table as ``env_<name>`` (first ones first).
ENV_HIGHLIGHTS: tuple[str, ...] = (
    "cpu_model",
    "gpu_name",
    "torch",
    "threads",
    "interop_threads",
    "onnxruntime",
    "weaver",
    "cuda_version",
    "gpu_driver",
    "host",
    "git_revision",
    "config_hash",
)

#: Record fields that are lists or nested and so not table columns.
_NON_SCALAR = ("latency_ms_samples", "cpu_ms_samples", "top_ops", "env", "paired", "subnormal", "quality",
               "output_check", "quantization", "openvino", "warmup_call_s", "energy")

WEIGHTS_ORDER: tuple[str, ...] = WEIGHTS
BACKEND_ORDER: tuple[str, ...] = BACKENDS
PRECISION_ORDER: tuple[str, ...] = PRECISIONS


def is_record(obj: Any) -> bool:
    """Return whether a parsed JSON document looks like a profile record."""
    return isinstance(obj, dict) and "schema_version" in obj and "batch_size" in obj


def _read_json(path: Path) -> Any:
    try:
        with path.open(encoding="utf-8") as handle:
            return json.load(handle)
    except json.JSONDecodeError as exc:
        raise JetprofError(f"{path}: not valid JSON ({exc.msg}, line {exc.lineno})") from None
    except OSError as exc:
        raise JetprofError(f"{path}: cannot read ({exc.strerror})") from None


def find_record_files(inputs: Iterable[str | os.PathLike[str]]) -> list[tuple[Path, bool]]:
    """Expand RECORDS arguments into (file, named_explicitly) pairs.

    Args:
        inputs: files and directories.

    Returns:
        Unique files in argument order; files found in a directory are sorted.
    """
    found: list[tuple[Path, bool]] = []
    seen: set[Path] = set()
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            candidates = [(p, False) for p in sorted(path.rglob("*.json")) if p.is_file()]
        elif path.is_file():
            candidates = [(path, True)]
        else:
            raise JetprofError(f"{path}: no such file or directory")
        for candidate, explicit in candidates:
            resolved = candidate.resolve()
            if resolved not in seen:
                seen.add(resolved)
                found.append((candidate, explicit))
    return found


def load_records(inputs: Iterable[str | os.PathLike[str]]) -> list[tuple[Path, dict[str, Any]]]:
    """Read every profile record among ``inputs`` (files or directories).

    Raises:
        JetprofError: a file is not JSON, an explicitly named file is not a
            record, a record lacks a required field, or two records describe
            the same point.
    """
    records: list[tuple[Path, dict[str, Any]]] = []
    for path, explicit in find_record_files(inputs):
        doc = _read_json(path)
        if not is_record(doc):
            if explicit:
                raise JetprofError(
                    f"{path}: not a profile record (no 'schema_version'/'batch_size' fields)"
                )
            continue
        validate_record(doc, str(path))
        records.append((path, doc))
    by_key: dict[tuple[str, ...], Path] = {}
    for path, doc in records:
        key = tuple(str(doc[f]) for f in KEY_FIELDS)
        if key in by_key:
            raise JetprofError(
                f"{path}: same point as {by_key[key]} "
                f"({', '.join(f'{f}={v}' for f, v in zip(KEY_FIELDS, key))})"
            )
        by_key[key] = path
    return records


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, (str, int, float, bool))


def flatten_record(doc: dict[str, Any], path: Path | None = None) -> dict[str, Any]:
    """One table row: the record's scalar fields plus ``env_*`` highlights."""
    row: dict[str, Any] = {}
    for name, value in doc.items():
        if name in _NON_SCALAR or not _is_scalar(value):
            continue
        row[name] = value
    # particles is "real" or an integer: keep one type (text) in the column
    row["particles"] = str(doc["particles"])
    samples = doc.get("latency_ms_samples")
    if isinstance(samples, list):
        row["latency_samples_n"] = len(samples)
    subnormal = doc.get("subnormal") or {}
    for name in ("weights", "activations"):
        row[f"subnormal_{name}"] = subnormal.get(name)
    paired = doc.get("paired") or {}
    row["paired_group"] = paired.get("group")
    energy = doc.get("energy") or {}
    row["energy_method"] = energy.get("method")
    row["energy_j_per_jet"] = energy.get("j_per_jet")
    quality = doc.get("quality") or {}
    for name in ("jets", "top1_agreement", "max_abs_diff", "auc_macro", "auc_macro_reference"):
        row[f"quality_{name}"] = quality.get(name)
    env = doc.get("env") or {}
    if isinstance(env, dict):
        for name in ENV_HIGHLIGHTS:
            value = env.get(name)
            row[f"env_{name}"] = value if _is_scalar(value) else json.dumps(value)
    if path is not None:
        row["record_path"] = str(path)
    return row


def _order(value: Any, order: Sequence[str]) -> tuple[int, str]:
    text = str(value)
    return (order.index(text), "") if text in order else (len(order), text)


def _particles_order(value: Any) -> tuple[int, float, str]:
    text = str(value)
    if text == "real":
        return (0, 0.0, "")
    try:
        return (1, float(text), "")
    except ValueError:
        return (2, 0.0, text)


def sort_key(row: dict[str, Any]) -> tuple[Any, ...]:
    """Deterministic order of table rows (weights/backends in study order)."""
    return (
        str(row["model"]),
        _order(row["weights"], WEIGHTS_ORDER),
        str(row["device"]),
        _order(row["backend"], BACKEND_ORDER),
        _order(row["precision"], PRECISION_ORDER),
        _particles_order(row["particles"]),
        int(row["batch_size"]),
    )


def build_table(records: Sequence[tuple[Path, dict[str, Any]]]) -> pd.DataFrame:
    """Flatten and sort records into a DataFrame (identity columns first)."""
    rows = sorted((flatten_record(doc, path) for path, doc in records), key=sort_key)
    table = pd.DataFrame(rows)
    if table.empty:
        return table
    first = [c for c in (*KEY_FIELDS, "status") if c in table.columns]
    env_cols = [f"env_{n}" for n in ENV_HIGHLIGHTS if f"env_{n}" in table.columns]
    tail = [c for c in ("error", "record_path") if c in table.columns]
    middle = [c for c in table.columns if c not in (*first, *env_cols, *tail)]
    return table[first + middle + env_cols + tail]


def _fmt(value: Any, spec: str, scale: float = 1.0) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    try:
        return format(float(value) * scale, spec)
    except (TypeError, ValueError):
        return str(value)


def markdown_table(table: pd.DataFrame) -> str:
    """The table as Markdown for the report: the figures people look for first."""
    header = [
        "model",
        "weights",
        "device",
        "backend",
        "precision",
        "particles",
        "batch",
        "status",
        "latency p50 [ms]",
        "p5–p95 [ms]",
        "throughput [jets/s]",
        "peak memory [MiB]",
        "GFLOP/jet",
        "achieved [GFLOP/s]",
    ]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in table.to_dict("records"):
        ok = row.get("status") == "ok"
        status = str(row.get("status"))
        if not ok and row.get("error"):
            status += ": " + str(row["error"]).replace("|", "/").splitlines()[0][:60]
        cells = [
            str(row["model"]),
            str(row["weights"]),
            str(row["device"]),
            str(row["backend"]),
            str(row["precision"]),
            str(row["particles"]),
            str(row["batch_size"]),
            status,
            _fmt(row.get("latency_ms_p50"), ".2f") if ok else "–",
            (
                f"{_fmt(row.get('latency_ms_p5'), '.2f')}–{_fmt(row.get('latency_ms_p95'), '.2f')}"
                if ok
                else "–"
            ),
            _fmt(row.get("throughput_jets_per_s"), ".1f") if ok else "–",
            _fmt(row.get("peak_memory_bytes"), ".1f", 1 / 2**20) if ok else "–",
            _fmt(row.get("flops_per_jet"), ".3f", 1e-9),
            _fmt(row.get("achieved_flops_per_s"), ".2f", 1e-9) if ok else "–",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    lines.append(environment_summary(table))
    return "\n".join(lines) + "\n"


def device_hardware(device: object, group: pd.DataFrame) -> str | None:
    """The GPU name of a GPU device's rows, else the CPU model (None if unknown)."""
    first = group.iloc[0]
    hardware = first.get("env_gpu_name") if str(device) != "cpu" else None
    if not isinstance(hardware, str) or not hardware:
        hardware = first.get("env_cpu_model")
    return hardware if isinstance(hardware, str) and hardware else None


def environment_summary(table: pd.DataFrame) -> str:
    """One line per device: CPU/GPU model, torch version and threads."""
    if table.empty:
        return ""
    parts = []
    for device, group in table.groupby("device", sort=True):
        first = group.iloc[0]
        hardware = device_hardware(device, group)
        torch_version = first.get("env_torch")
        threads = first.get("env_threads")
        text = f"{device}: {hardware or 'unknown hardware'}"
        if isinstance(torch_version, str):
            text += f", torch {torch_version}"
        if threads is not None and not (isinstance(threads, float) and math.isnan(threads)):
            text += f", {int(threads)} thread(s)"
        parts.append(f"- {text}")
    return "\n".join(parts)


def summarize(
    inputs: Sequence[str | os.PathLike[str]],
    out_csv: str | os.PathLike[str],
    out_md: str | os.PathLike[str] | None = None,
) -> pd.DataFrame:
    """Read records, write the CSV (and Markdown) table, return the table."""
    records = load_records(inputs)
    if not records:
        raise JetprofError(
            f"no profile records found in {', '.join(str(p) for p in inputs)}"
        )
    table = build_table(records)
    atomic_write_text(out_csv, table.to_csv(index=False, lineterminator="\n"))
    if out_md is not None:
        atomic_write_text(out_md, markdown_table(table))
    return table


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``jetprof summarize``."""
    parser.add_argument("records", nargs="+", metavar="RECORDS",
                        help="record files or directories (searched recursively for *.json)")
    parser.add_argument("--out-csv", required=True, help="the table, one row per point")
    parser.add_argument("--out-md", help="the same table as Markdown, for the report")
    parser.add_argument("--models-csv", help="also the models side by side (jetprof.report.models)")
    parser.add_argument("--models-md", help="the same beside the ParT paper's table, as a report page (Markdown)")
    parser.add_argument("--metrics", action="append", default=[], metavar="MODEL=metrics.json",
                        help="a trained model's evaluation, for its accuracy in --models-csv")


def run(args: argparse.Namespace) -> int:
    """Entry point of ``jetprof summarize``."""
    table = summarize(args.records, args.out_csv, args.out_md)
    if args.models_csv or args.models_md:
        from jetprof.report.models import models_markdown, models_table

        trained = {}
        for item in args.metrics:
            model, sep, path = item.partition("=")
            if not sep:
                raise JetprofError(f"--metrics {item}: expected MODEL=metrics.json")
            metrics = _read_json(Path(path))
            trained[model] = {"accuracy": metrics.get("accuracy"), "auc_macro": metrics.get("auc_ovr_macro")}
        models = models_table(table, trained)
        if args.models_csv:
            atomic_write_text(args.models_csv, models.to_csv(index=False, lineterminator="\n"))
        if args.models_md:
            hardware = {str(d): device_hardware(d, group) or "" for d, group in table.groupby("device")}
            atomic_write_text(args.models_md, models_markdown(models, hardware))
    ok = int((table["status"] == "ok").sum())
    print(f"jetprof summarize: {len(table)} point(s), {ok} ok -> {args.out_csv}")
    return 0


def read_table(path: str | os.PathLike[str], what: str, needed: Sequence[str], hint: str = "") -> pd.DataFrame:
    """Read one of the report's CSV tables (``particles`` kept as text), with one-line
    errors naming the file: missing, unreadable, or lacking a column in ``needed``."""
    path = Path(path)
    if not path.is_file():
        raise JetprofError(f"{path}: no such {what}{hint}")
    try:
        table = pd.read_csv(path, dtype={"particles": str})
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise JetprofError(f"{path}: not a readable {what} ({exc})") from None
    missing = [c for c in needed if c not in table.columns]
    if missing:
        raise JetprofError(f"{path}: not a {what} (no {', '.join(missing)} column)")
    return table

