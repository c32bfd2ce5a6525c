"""The study's results as types: one dataclass per record kind, and the record validator.

The contract's side of a record: ``jetprof.profiling`` makes and writes them,
``jetprof.report`` reads them, and neither imports the other for it. Each kind is
made only through its class; ``to_json`` gives the document written to disk and
``from_json`` reads one back, refusing a key the type does not know (a misspelt
field, or a record from a newer jetprof) in one line naming the source and the key.

Kinds:

- :class:`PointRecord`: one measured point (``results/profile/.../bsN.json``),
  checked against ``record.schema.json`` (:func:`validate_record`); its blocks
  :class:`Paired` (the comparison group it was measured in) and :class:`OnnxBlock`.
- :class:`GroupDocument` with one :class:`GroupVariant` per variant: a group's
  rounds file (``results/paired/{device}/p{particles}/bsN.json``).
- :class:`ComparisonRow`: one compared pair at one point (``comparisons.csv``).
- :class:`WeightsAnswer`: the weight-state answer (``weights_answer.json``).

Fields of a point record are never renamed; new ones are added as optional fields
(absent from the JSON while None), so records written before them still load.
"""

from __future__ import annotations

import json
from dataclasses import MISSING, asdict, dataclass, field, fields
from functools import lru_cache
from typing import Any, TypeVar

from jetprof.contract import RECORD_SCHEMA
from jetprof.errors import JetprofError
from jetprof.registry import fill_schema

T = TypeVar("T")
JSON = dict[str, Any]


def _field_names(cls: type) -> list[str]:
    return [f.name for f in fields(cls)]


def _known(cls: type, doc: Any, source: str, kind: str) -> JSON:
    """``doc`` as a dict whose keys all are fields of ``cls``; else one line saying which is not."""
    if not isinstance(doc, dict):
        raise JetprofError(f"{source}: a {kind} must be a JSON object, not {type(doc).__name__}")
    unknown = sorted(set(doc) - set(_field_names(cls)))
    if unknown:
        raise JetprofError(f"{source}: {kind} has unknown field(s) {', '.join(unknown)} "
                           "(misspelt, or written by a newer jetprof)")
    missing = [f.name for f in fields(cls)
               if f.default is MISSING and f.default_factory is MISSING and f.name not in doc]
    if missing:
        raise JetprofError(f"{source}: {kind} lacks field(s) {', '.join(missing)}")
    return doc


def _omit_none(cls: type, obj: Any, optional: frozenset[str]) -> JSON:
    """The fields of ``obj`` in declaration order; an optional one only when it is set."""
    out: JSON = {}
    for name in _field_names(cls):
        value = getattr(obj, name)
        if name in optional and value is None:
            continue
        out[name] = value.to_json() if hasattr(value, "to_json") else value
    return out


@dataclass
class Paired:
    """``paired``: the comparison group a point was measured in, interleaved with its other variants."""

    group: str
    rounds: int
    round_latency_ms: list[float]
    position: int
    order: str
    calls_per_round: int | None = None

    OPTIONAL = frozenset({"calls_per_round"})

    def to_json(self) -> JSON:
        return _omit_none(Paired, self, self.OPTIONAL)

    @classmethod
    def from_json(cls, doc: Any, source: str = "record") -> Paired:
        return cls(**_known(cls, doc, source, "paired block"))


@dataclass
class OnnxBlock:
    """``onnx``: a point that ran the ONNX export (who exported it, how it was fed, how far off eager)."""

    exported_by_this_point: bool | None = None
    trimmed: bool | None = None
    max_abs_diff_vs_eager: float | None = None
    quantized_by_this_point: bool | None = None
    graph_optimization_level: str | None = None

    OPTIONAL = frozenset({"exported_by_this_point", "trimmed", "max_abs_diff_vs_eager",
                          "quantized_by_this_point", "graph_optimization_level"})

    def to_json(self) -> JSON:
        return _omit_none(OnnxBlock, self, self.OPTIONAL)

    @classmethod
    def from_json(cls, doc: Any, source: str = "record") -> OnnxBlock:
        return cls(**_known(cls, doc, source, "onnx block"))


@dataclass
class PointRecord:
    """One measured point of a model's forward pass (``record.schema.json`` says what each field means).

    Made by :meth:`blank` with every measured field still empty; the measuring code
    sets attributes as it measures. The fields after ``duration_s`` are optional:
    absent from the JSON while None.
    """

    model: str
    weights: str
    device: str
    backend: str
    precision: str
    batch_size: int
    particles: int | str
    seed: int
    threads: int
    warmup_calls: int
    schema_version: int = 1
    particles_mean: float | None = None
    particles_padded: int | None = None
    status: str = "error"
    error: str | None = "not measured"
    latency_ms_p5: float | None = None
    latency_ms_p50: float | None = None
    latency_ms_p95: float | None = None
    latency_ms_mean: float | None = None
    latency_ms_samples: list[float] = field(default_factory=list)
    cpu_ms_p50: float | None = None
    cpu_ms_samples: list[float] = field(default_factory=list)
    wall_over_cpu: float | None = None
    contention_suspect: bool | None = None
    repeats: int = 0
    throughput_jets_per_s: float | None = None
    peak_memory_bytes: int | None = None
    peak_reserved_bytes: int | None = None
    memory_method: str = "not_measured"
    memory_note: str | None = None
    flops_per_jet: float | None = None
    flops_particles: int | None = None
    flops_method: str = "not_counted"
    params: int | None = None
    achieved_flops_per_s: float | None = None
    ops_table: str | None = None
    trace: str | None = None
    top_ops: list[JSON] = field(default_factory=list)
    checkpoint: JSON | None = None
    inputs: JSON = field(default_factory=dict)
    quality: JSON | None = None
    env: JSON = field(default_factory=dict)
    started_utc: str = "1970-01-01T00:00:00Z"
    duration_s: float = 0.0
    # optional: absent while None
    process: str | None = None
    model_warmup_calls: int | None = None
    model_warmup_batch_size: int | None = None
    warmup_call_s: list[float] | None = None
    compile_s: float | None = None
    preempted_calls: int | None = None
    bucketing: JSON | None = None
    onnx: OnnxBlock | None = None
    quantization: JSON | None = None
    openvino: JSON | None = None
    energy: JSON | None = None
    flops_counted_jets: int | None = None
    flops_per_jet_padded: float | None = None
    flops_padded_particles: int | None = None
    subnormal: JSON | None = None
    flush_denormal: bool | None = None
    output_check: JSON | None = None
    profiler: JSON | None = None
    paired: Paired | None = None

    @classmethod
    def blank(cls, *, model: str, weights: str, device: str, backend: str, precision: str,
              batch_size: int, particles: int | str, seed: int, threads: int, warmup_calls: int) -> PointRecord:
        """A record with every measured field still empty (status ``error``, "not measured")."""
        return cls(model=model, weights=weights, device=device, backend=backend, precision=precision,
                   batch_size=batch_size, particles=particles, seed=seed, threads=threads,
                   warmup_calls=warmup_calls)

    def fail(self, status: str, message: str) -> None:
        self.status, self.error = status, message

    def to_json(self) -> JSON:
        doc = _omit_none(PointRecord, self, POINT_OPTIONAL)
        return {"schema_version": doc.pop("schema_version"), **doc}

    @classmethod
    def from_json(cls, doc: Any, source: str = "record") -> PointRecord:
        """A record read back: unknown keys refused, the blocks typed (no schema check: :func:`load_record`)."""
        doc = dict(_known(cls, doc, source, "profile record"))
        if doc.get("paired") is not None:
            doc["paired"] = Paired.from_json(doc["paired"], source)
        if doc.get("onnx") is not None:
            doc["onnx"] = OnnxBlock.from_json(doc["onnx"], source)
        return cls(**doc)


#: the point record's fields that the JSON leaves out while they are None
POINT_OPTIONAL = frozenset(_field_names(PointRecord)[_field_names(PointRecord).index("duration_s") + 1:])


@lru_cache(maxsize=1)
def _validator() -> Any:
    import jsonschema

    schema = fill_schema(json.loads(RECORD_SCHEMA.read_text()))
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def validate_record(record: JSON | PointRecord, source: str = "record") -> None:
    """Raise JetprofError naming ``source`` and the first violation of ``record.schema.json``."""
    doc = record.to_json() if isinstance(record, PointRecord) else record
    errors = sorted(_validator().iter_errors(doc), key=lambda e: list(e.absolute_path))
    if errors:
        err = errors[0]
        where = "/".join(str(p) for p in err.absolute_path) or "(top level)"
        raise JetprofError(f"{source}: invalid profile record at {where}: {err.message}")


def load_record(doc: Any, source: str = "record") -> PointRecord:
    """A point record from its JSON: schema-checked, then typed."""
    validate_record(doc, source)
    return PointRecord.from_json(doc, source)


@dataclass
class GroupVariant:
    """One variant's entry in a group's rounds file: its per-round latencies and exact figures."""

    label: str
    model: str
    weights: str
    backend: str
    precision: str
    replica: int
    record: str | None
    status: str
    error: str | None
    round_latency_ms: list[float]
    peak_memory_bytes: int | None
    flops_per_jet: float | None
    subnormal: JSON | None

    def to_json(self) -> JSON:
        return asdict(self)

    @classmethod
    def from_json(cls, doc: Any, source: str = "group") -> GroupVariant:
        return cls(**_known(cls, doc, source, "group variant"))


@dataclass
class GroupDocument:
    """A comparison group's rounds file: the group, its round orders and every variant."""

    device: str
    particles: int | str
    batch_size: int
    jets: JSON | None
    order: str
    rounds: list[list[str]]
    min_rounds: int
    max_rounds: int
    threshold_for_stopping: float
    flush_denormal: bool
    variants: list[GroupVariant]
    env: JSON
    started_utc: str
    duration_s: float
    schema_version: int = 1
    kind: str = "jetprof paired group"

    KEYS = ("schema_version", "kind", "device", "particles", "batch_size", "jets", "order", "rounds",
            "min_rounds", "max_rounds", "threshold_for_stopping", "flush_denormal", "variants", "env",
            "started_utc", "duration_s")

    def to_json(self) -> JSON:
        doc = {**asdict(self), "variants": [v.to_json() for v in self.variants]}
        return {k: doc[k] for k in self.KEYS}

    @classmethod
    def from_json(cls, doc: Any, source: str = "group") -> GroupDocument:
        doc = dict(_known(cls, doc, source, "group rounds file"))
        doc["variants"] = [GroupVariant.from_json(v, source) for v in doc["variants"]]
        return cls(**doc)


@dataclass
class ComparisonRow:
    """One compared pair at one point (a row of ``comparisons.csv``): the ratio variant/baseline of
    their per-round latencies, its 95 % interval and verdict, and the memory and FLOPs ratios."""

    axis: str
    baseline: str
    variant: str
    model: str
    weights: str
    device: str
    backend: str
    precision: str
    particles: str
    batch_size: int
    threshold: float
    control: bool
    group: str
    ratio: float
    ci95_low: float
    ci95_high: float
    rounds: int
    verdict: str
    baseline_ms: float
    variant_ms: float
    memory_ratio: float
    flops_ratio: float

    def to_json(self) -> JSON:
        return asdict(self)

    @classmethod
    def from_json(cls, doc: Any, source: str = "comparisons") -> ComparisonRow:
        return cls(**_known(cls, doc, source, "comparison row"))


@dataclass
class WeightsAnswer:
    """The answer to "does the weight state change forward-pass cost?" (``weights_answer.json``)."""

    question: str
    verdict: str
    reasons: list[str]
    threshold: float
    method: str
    comparisons: list[JSON]
    control: list[JSON]
    pooled: list[JSON]
    by_model: list[JSON]
    memory_identical: bool
    flops_identical: bool
    subnormal: JSON
    flush_denormal: bool | None
    cpu: JSON

    def to_json(self) -> JSON:
        return asdict(self)

    @classmethod
    def from_json(cls, doc: Any, source: str = "answer") -> WeightsAnswer:
        return cls(**_known(cls, doc, source, "weights answer"))


def field_names(cls: type) -> list[str]:
    """The JSON keys a record class writes (for the schema tests)."""
    return _field_names(cls)
