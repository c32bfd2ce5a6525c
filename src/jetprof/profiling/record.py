"""Profile records: the empty skeleton, schema validation and the atomic write."""

from __future__ import annotations

import json
import os
from functools import lru_cache
from typing import Any

from jetprof.contract import RECORD_SCHEMA
from jetprof.errors import JetprofError
from jetprof.io import atomic_write_text
from jetprof.profiling.spec import GroupSpec, VariantSpec
from jetprof.registry import fill_schema

SCHEMA_PATH = RECORD_SCHEMA


@lru_cache(maxsize=1)
def _validator():
    import jsonschema

    schema = fill_schema(json.loads(SCHEMA_PATH.read_text()))
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def validate_record(record: dict[str, Any], source: str = "record") -> None:
    """Raise JetprofError naming ``source`` and the first schema violation."""
    errors = sorted(_validator().iter_errors(record), key=lambda e: list(e.absolute_path))
    if errors:
        err = errors[0]
        where = "/".join(str(p) for p in err.absolute_path) or "(top level)"
        raise JetprofError(f"{source}: invalid profile record at {where}: {err.message}")


def write_record(record: dict[str, Any], path: str | os.PathLike[str]) -> None:
    """Validate against ``record.schema.json``, then write atomically."""
    validate_record(record, str(path))
    atomic_write_text(path, json.dumps(record, indent=1, sort_keys=False) + "\n")


def blank_record(spec: GroupSpec, variant: VariantSpec) -> dict[str, Any]:
    """A record for one variant of a group with every measured field still empty (null)."""
    return {
        "schema_version": 1,
        "model": variant.model,
        "weights": variant.weights,
        "device": spec.device,
        "backend": variant.backend,
        "precision": variant.precision,
        "batch_size": spec.batch_size,
        "particles": spec.particles,
        "particles_mean": None,
        "particles_padded": None,
        "status": "error",
        "error": "not measured",
        "latency_ms_p5": None,
        "latency_ms_p50": None,
        "latency_ms_p95": None,
        "latency_ms_mean": None,
        "latency_ms_samples": [],
        "cpu_ms_p50": None,
        "cpu_ms_samples": [],
        "wall_over_cpu": None,
        "contention_suspect": None,
        "warmup_calls": spec.warmup,
        "repeats": 0,
        "throughput_jets_per_s": None,
        "peak_memory_bytes": None,
        "peak_reserved_bytes": None,
        "memory_method": "not_measured",
        "memory_note": None,
        "flops_per_jet": None,
        "flops_particles": None,
        "flops_method": "not_counted",
        "params": None,
        "achieved_flops_per_s": None,
        "ops_table": None,
        "trace": None,
        "top_ops": [],
        "checkpoint": None,
        "seed": spec.seed,
        "threads": spec.threads,
        "inputs": {},
        "quality": None,
        "env": {},
        "started_utc": "1970-01-01T00:00:00Z",
        "duration_s": 0.0,
    }
