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
from typing import TypeGuard

import pandas as pd

from jetprof.contract import BACKENDS, PRECISIONS, WEIGHTS
from jetprof.errors import JetprofError
from jetprof.io import atomic_write_text
from jetprof.records import Identity, PointRecord, Scalar, field_names, load_record

#: Fields a record must have for a row of the table (the point's identity).
KEY_FIELDS: tuple[str, ...] = (*field_names(Identity), "particles", "batch_size")

#: one row of the table: column -> value
Row = dict[str, Scalar]
#: where a point's row stands in the table (see :func:`sort_key`)
SortKey = tuple[str, tuple[int, str], str, tuple[int, str], tuple[int, str], tuple[int, float, str], int]

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


def is_record(obj: object) -> bool:
    """Return whether a parsed JSON document looks like a profile record."""
    return isinstance(obj, dict) and "schema_version" in obj and "batch_size" in obj


def _read_json(path: Path) -> object:
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


def load_records(inputs: Iterable[str | os.PathLike[str]]) -> list[tuple[Path, PointRecord]]:
    """Read every profile record among ``inputs`` (files or directories), typed
    (:func:`jetprof.records.load_record`).

    Raises:
        JetprofError: a file is not JSON, an explicitly named file is not a
            record, a record breaks the record schema (one line naming the file),
            or two records describe the same point.
    """
    records: list[tuple[Path, PointRecord]] = []
    for path, explicit in find_record_files(inputs):
        doc = _read_json(path)
        if not is_record(doc):
            if explicit:
                raise JetprofError(
                    f"{path}: not a profile record (no 'schema_version'/'batch_size' fields)"
                )
            continue
        records.append((path, load_record(doc, str(path))))
    by_key: dict[tuple[str, ...], Path] = {}
    for path, rec in records:
        key = tuple(str(getattr(rec, f)) for f in KEY_FIELDS)
        if key in by_key:
            raise JetprofError(
                f"{path}: same point as {by_key[key]} "
                f"({', '.join(f'{f}={v}' for f, v in zip(KEY_FIELDS, key))})"
            )
        by_key[key] = path
    return records


def _is_scalar(value: object) -> TypeGuard[Scalar]:
    return value is None or isinstance(value, (str, int, float, bool))


def flatten_record(rec: PointRecord, path: Path | None = None) -> Row:
    """One table row: the record's scalar fields (in the order the record writes them), a few
    figures of its blocks, and ``env_*`` highlights."""
    row: Row = {name: value for name, value in rec.to_json().items()
                if name not in _NON_SCALAR and _is_scalar(value)}
    # particles is "real" or an integer: keep one type (text) in the column
    row["particles"] = str(rec.particles)
    row["latency_samples_n"] = len(rec.latency_ms_samples)
    sub, paired, energy, quality = rec.subnormal, rec.paired, rec.energy, rec.quality
    row["subnormal_weights"] = sub.weights if sub else None
    row["subnormal_activations"] = sub.activations if sub else None
    row["paired_group"] = paired.group if paired else None
    row["energy_method"] = energy.method if energy else None
    row["energy_j_per_jet"] = energy.j_per_jet if energy else None
    row["quality_jets"] = quality.jets if quality else None
    row["quality_top1_agreement"] = quality.top1_agreement if quality else None
    row["quality_max_abs_diff"] = quality.max_abs_diff if quality else None
    row["quality_auc_macro"] = quality.auc_macro if quality else None
    row["quality_auc_macro_reference"] = quality.auc_macro_reference if quality else None
    for name in ENV_HIGHLIGHTS:
        value = rec.env.get(name)
        row[f"env_{name}"] = value if _is_scalar(value) else json.dumps(value)
    if path is not None:
        row["record_path"] = str(path)
    return row


def _order(value: str, order: Sequence[str]) -> tuple[int, str]:
    return (order.index(value), "") if value in order else (len(order), value)


def _particles_order(value: int | str) -> tuple[int, float, str]:
    text = str(value)
    if text == "real":
        return (0, 0.0, "")
    try:
        return (1, float(text), "")
    except ValueError:
        return (2, 0.0, text)


def sort_key(rec: PointRecord) -> SortKey:
    """Deterministic order of table rows (weights/backends in study order)."""
    return (
        rec.model,
        _order(rec.weights, WEIGHTS_ORDER),
        rec.device,
        _order(rec.backend, BACKEND_ORDER),
        _order(rec.precision, PRECISION_ORDER),
        _particles_order(rec.particles),
        rec.batch_size,
    )


def build_table(records: Sequence[tuple[Path, PointRecord]]) -> pd.DataFrame:
    """Flatten and sort records into a DataFrame (identity columns first)."""
    rows = [flatten_record(rec, path) for path, rec in sorted(records, key=lambda pair: sort_key(pair[1]))]
    table = pd.DataFrame(rows)
    if table.empty:
        return table
    first = [c for c in (*KEY_FIELDS, "status") if c in table.columns]
    env_cols = [f"env_{n}" for n in ENV_HIGHLIGHTS if f"env_{n}" in table.columns]
    tail = [c for c in ("error", "record_path") if c in table.columns]
    middle = [c for c in table.columns if c not in (*first, *env_cols, *tail)]
    return table[first + middle + env_cols + tail]


def _fmt(value: Scalar, spec: str, scale: float = 1.0) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    try:
        return format(float(value) * scale, spec)
    except (TypeError, ValueError):
        return str(value)


def markdown_table(table: pd.DataFrame) -> str:
    """The table as Markdown for the report: the figures people look for first."""
    header = [
        *KEY_FIELDS[:-1],
        "batch",  # batch_size
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
            *(str(row[name]) for name in KEY_FIELDS),
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
            if not isinstance(metrics, dict):
                raise JetprofError(f"{path}: not a metrics file (no JSON object)")
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

