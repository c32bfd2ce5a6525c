"""Profile records on the measuring side: the empty record of a variant and the atomic write.

The record's type and its schema check are the contract's (:mod:`jetprof.records`).
"""

from __future__ import annotations

import json
import os

from jetprof.io import atomic_write_text
from jetprof.profiling.spec import GroupSpec, VariantSpec
from jetprof.records import PointRecord, validate_record


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
