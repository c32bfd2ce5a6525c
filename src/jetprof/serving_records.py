"""The serving record: one LoadGen run of one rung in one scenario (``jetprof serve``).

Written beside LoadGen's own logs, ``results/serving/<model>/<device>/<backend>-<precision>/
<scenario>/record.json``, and checked against ``serving.schema.json`` (closed at every level,
like the other kinds of :mod:`jetprof.records`; tests/test_records.py holds the types and
the schema to the same fields). The result (VALID / INVALID) and its reason are LoadGen's
own, read from its summary; ``accuracy`` is LoadGen's accuracy log scored against the labels.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from jetprof.records import Block, Identity, validate_document

KIND = "serving record"
#: a rung whose served outputs failed the accuracy check, or that never ran: no performance run
NOT_SERVED = "NOT SERVED"


@dataclass
class ServedAccuracy(Block):
    """``accuracy``: every test jet served once in LoadGen's accuracy mode, its outputs read
    back from ``mlperf_log_accuracy.json`` and scored against the true labels and against
    eager fp32 (same weights, same jets)."""

    jets: int
    classes: int
    accuracy: float
    auc_macro: float | None
    auc_macro_reference: float | None
    max_abs_diff: float
    tolerance: float
    passed: bool

    KIND = "serving accuracy block"


@dataclass
class ServerProbe(Block):
    """One Server run of the QPS search: its target rate and what LoadGen said."""

    target_qps: float
    result: str
    reason: str | None
    achieved_qps: float | None
    p99_ms: float | None
    queries: int

    KIND = "server probe"


@dataclass
class ServingSettings(Block):
    """``settings``: what LoadGen was told (None: LoadGen's own default) and the library."""

    min_duration_s: float | None
    min_query_count: int | None
    jets: int
    threads: int
    seed: int

    KIND = "serving settings"


@dataclass
class ServingRecord(Identity, Block):
    """One rung served in one scenario. ``valid``: LoadGen called the performance run VALID
    (Server: the run at ``max_qps``); ``result`` is LoadGen's word, or NOT SERVED."""

    scenario: str
    result: str
    valid: bool
    reason: str | None
    target_qps: float | None
    achieved_qps: float | None
    p50_ms: float | None
    p90_ms: float | None
    p99_ms: float | None
    mean_ms: float | None
    max_batch: int | None
    max_queue_delay_ms: float | None
    mean_batch: float | None
    latency_bound_ms: float | None
    max_qps: float | None
    settings: ServingSettings
    loadgen_version: str
    started_utc: str
    duration_s: float
    accuracy: ServedAccuracy | None = None
    server_search: list[ServerProbe] = field(default_factory=list)
    logs: list[str] = field(default_factory=list)
    schema_version: int = 1
    kind: str = "jetprof serving record"

    KIND = KIND
    OPTIONAL = frozenset({"accuracy"})
    NESTED: ClassVar[dict[str, type[Block]]] = {"accuracy": ServedAccuracy, "settings": ServingSettings,
                                                 "server_search": ServerProbe}


def load_serving_record(doc: object, source: str = "serving record") -> ServingRecord:
    """A serving record from its JSON: schema-checked, then typed."""
    validate_document(KIND, doc, source)
    return ServingRecord.from_json(doc, source)


def validate_serving_record(rec: ServingRecord, source: str) -> None:
    validate_document(KIND, rec.to_json(), source)


#: the columns of ``results/summary/serving.csv``, one row per record
CSV_COLUMNS = ("model", "device", "backend", "precision", "scenario", "valid", "result", "target_qps",
               "achieved_qps", "max_qps", "p50_ms", "p90_ms", "p99_ms", "max_batch", "max_queue_delay_ms",
               "latency_bound_ms", "accuracy", "auc_macro", "reason")


def csv_row(rec: ServingRecord) -> dict[str, object]:
    """A record as its row of serving.csv (the batcher's keys only where one ran)."""
    acc = rec.accuracy
    values: dict[str, object] = {
        "model": rec.model, "device": rec.device, "backend": rec.backend, "precision": rec.precision,
        "scenario": rec.scenario, "valid": rec.valid, "result": rec.result, "target_qps": rec.target_qps,
        "achieved_qps": rec.achieved_qps, "max_qps": rec.max_qps, "p50_ms": rec.p50_ms, "p90_ms": rec.p90_ms,
        "p99_ms": rec.p99_ms, "max_batch": rec.max_batch, "max_queue_delay_ms": rec.max_queue_delay_ms,
        "latency_bound_ms": rec.latency_bound_ms, "accuracy": acc.accuracy if acc else None,
        "auc_macro": acc.auc_macro if acc else None, "reason": rec.reason}
    return {k: values[k] for k in CSV_COLUMNS}
