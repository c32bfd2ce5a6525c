"""Profile records on the measuring side: the empty record of a variant, its latency figures from
the rounds, the group's rounds file, and the atomic write.

The record's type and its schema check are the contract's (:mod:`jetprof.records`).
"""

from __future__ import annotations

import json
import os
from typing import cast

import numpy as np

from jetprof.io import atomic_write_text
from jetprof.profiling.rounds import ORDER
from jetprof.profiling.spec import GroupSpec, VariantSpec
from jetprof.records import JSON, GroupDocument, GroupVariant, JetSource, PointRecord, validate_record


def write_record(record: PointRecord, path: str | os.PathLike[str]) -> None:
    """Validate against ``record.schema.json``, then write atomically."""
    doc = record.to_json()
    validate_record(doc, str(path))
    atomic_write_text(path, json.dumps(doc, indent=1, sort_keys=False) + "\n")


def blank_record(spec: GroupSpec, variant: VariantSpec) -> PointRecord:
    """A record for one variant of a group with every measured field still empty (null)."""
    return PointRecord.blank(model=variant.model, weights=variant.weights, device=spec.device,
                             backend=variant.backend, precision=variant.precision, batch_size=spec.batch_size,
                             particles=spec.particles, seed=spec.seed, threads=spec.threads,
                             warmup_calls=spec.warmup)


def _percentiles(samples: list[float]) -> dict[str, float]:
    a = np.asarray(samples, dtype=float)
    return {"p5": float(np.percentile(a, 5)), "p50": float(np.percentile(a, 50)),
            "p95": float(np.percentile(a, 95)), "mean": float(a.mean())}


def latency_figures(spec: GroupSpec, rec: PointRecord, wall: list[float], cpu: list[float]) -> None:
    """Set the record's per-round samples and the latency, CPU time and throughput figures drawn from them."""
    st = _percentiles(wall)
    rec.latency_ms_samples, rec.cpu_ms_samples = [round(x, 6) for x in wall], [round(x, 6) for x in cpu]
    rec.latency_ms_p5, rec.latency_ms_p50, rec.latency_ms_p95 = st["p5"], st["p50"], st["p95"]
    rec.latency_ms_mean, rec.repeats, rec.cpu_ms_p50 = st["mean"], len(wall), float(np.median(cpu))
    rec.throughput_jets_per_s = spec.batch_size / (st["p50"] / 1e3)
    if spec.device == "cpu" and np.median(cpu) > 0:
        rec.wall_over_cpu = float(np.median(wall) / np.median(cpu))
        rec.contention_suspect = bool(spec.threads == 1 and rec.wall_over_cpu > 1.05)


def group_document(spec: GroupSpec, measured: list[tuple[VariantSpec, PointRecord]],
                   rounds: list[list[str]], env: JSON, started: str, duration: float,
                   jets: dict[str, object] | None, build_orders: list[list[str]] | None = None,
                   timing_s: list[float] | None = None) -> JSON:
    """The group's rounds file: per variant its per-round latencies (and CPU times) and exact figures."""
    variants = [GroupVariant(
        label=v.label, model=v.model, weights=v.weights, backend=v.backend, precision=v.precision,
        replica=v.replica, record=None if v.replica else spec.record_path(v).relative_to(spec.out).as_posix(),
        status=rec.status, error=rec.error, round_latency_ms=rec.latency_ms_samples,
        peak_memory_bytes=rec.peak_memory_bytes, flops_per_jet=rec.flops_per_jet, subnormal=rec.subnormal,
        round_process=[spec.process_index] * len(rec.latency_ms_samples), round_cpu_ms=rec.cpu_ms_samples,
    ) for v, rec in measured]
    return GroupDocument(
        device=spec.device, particles=spec.particles, batch_size=spec.batch_size,
        jets=JetSource(**cast(JSON, jets)) if jets is not None else None, order=ORDER,
        rounds=rounds, min_rounds=spec.rounds, max_rounds=spec.max_rounds, threshold_for_stopping=spec.threshold,
        flush_denormal=bool(spec.flush_denormal), variants=variants, env=env, started_utc=started,
        duration_s=duration, processes=1, build_orders=build_orders, clock=spec.clock, timing_s=timing_s,
    ).to_json()
