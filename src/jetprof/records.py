"""The study's results as types: one dataclass per record kind, and the record validator.

The contract's side of a record: ``jetprof.profiling`` makes and writes them,
``jetprof.report`` reads them, and neither imports the other for it. Each kind is
made only through its class; ``to_json`` gives the document written to disk and
``from_json`` reads one back, refusing a key the type does not know (a misspelt
field, or a record from a newer jetprof) in one line naming the source and the key.

Kinds (each that is of one rung starts with an :class:`Identity`: model, weights, device, rung):

- :class:`PointRecord`: one measured point (``results/profile/.../bsN.json``),
  checked against ``record.schema.json`` (:func:`validate_record`). Every block whose
  keys jetprof writes is a :class:`Block` dataclass (:data:`POINT_BLOCKS`): :class:`Paired`,
  :class:`OnnxBlock`, :class:`InputsBlock`, :class:`Quality` (its ``source`` a
  :class:`JetSource`), :class:`OutputCheck`, :class:`EnergyBlock`, :class:`Bucketing`,
  :class:`Subnormal`, :class:`Quantization`, :class:`ProfilerBlock`; their schema levels
  are closed. ``env`` stays the dict jetprof.profiling.env builds, its keys closed by the
  schema alone. Open maps, their keys not jetprof's: ``openvino`` (the plugin's settings),
  ``checkpoint`` (the checkpoint file's facts) and ``inputs.shapes`` (keyed by input names).
- :class:`GroupDocument` with one :class:`GroupVariant` per variant: a group's
  rounds file (``results/paired/{device}/p{particles}/bsN.json``; ``group.schema.json``,
  :func:`load_group`).
- :class:`ComparisonRow`: one compared pair at one point (``comparisons.csv``;
  ``comparison.schema.json``).
- :class:`WeightsAnswer`: the weight-state answer (``weights_answer.json``; ``answer.schema.json``).

:func:`validate_document` checks a document of any kind against its schema, refusing in
one line that names the source, the key path and the problem.

Fields of a point record are never renamed; new ones are added as optional fields
(absent from the JSON while None), so records written before them still load.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import MISSING, dataclass, field, fields
from functools import cache
from typing import Any, ClassVar, TypeVar, cast

from jetprof.contract import RECORD_SCHEMA
from jetprof.errors import JetprofError
from jetprof.registry import fill_schema

JSON = dict[str, Any]
#: a value of the open map ``openvino``: the plugin's settings, whose keys are OpenVINO's
Scalar = str | int | float | bool | None


def _field_names(cls: type) -> list[str]:
    return [f.name for f in fields(cls)]


def _known(cls: type, doc: object, source: str, kind: str) -> JSON:
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


def _omit_none(cls: type, obj: object, optional: frozenset[str]) -> JSON:
    """The fields of ``obj`` in declaration order; an optional one only when it is set
    (a block, or a list of blocks, as its JSON)."""
    out: JSON = {}
    for name in _field_names(cls):
        value = getattr(obj, name)
        if name in optional and value is None:
            continue
        out[name] = ([v.to_json() if isinstance(v, Block) else v for v in value] if isinstance(value, list)
                     else value.to_json() if isinstance(value, Block) else value)
    return out


class Block:
    """A record, or a nested block of one: ``to_json`` leaves out an ``OPTIONAL`` field while it
    is None; ``from_json`` refuses a key the block does not know, naming the block's path, and
    types each ``NESTED`` field (a block, or a list of blocks)."""

    KIND: ClassVar[str] = "block"  # how an error names it: its path in the record
    OPTIONAL: ClassVar[frozenset[str]] = frozenset()
    NESTED: ClassVar[dict[str, type[Block]]] = {}  # field -> its block type (one, or a list of them)

    def to_json(self) -> JSON:
        return _omit_none(type(self), self, self.OPTIONAL)

    @classmethod
    def from_json(cls: type[B], doc: object, source: str = "record") -> B:
        doc = dict(_known(cls, doc, source, cls.KIND))
        for name, block in cls.NESTED.items():
            value = doc.get(name)
            if isinstance(value, list):
                doc[name] = [block.from_json(item, source) for item in value]
            elif value is not None:
                doc[name] = block.from_json(value, source)
        made = cast(Callable[..., B], cls)  # a dataclass subclass: its fields are the keys just checked
        return made(**doc)


B = TypeVar("B", bound=Block)


@dataclass
class Identity:
    """What a record is of, its first keys (flat in the JSON) in every kind that has them: the
    model, its weight state, the device, and the rung (backend and precision) it ran."""

    model: str
    weights: str
    device: str
    backend: str
    precision: str

    @property
    def rung(self) -> str:
        """``backend-precision``, as the results' paths and the report name a rung."""
        return f"{self.backend}-{self.precision}"


@dataclass
class Paired(Block):
    """``paired``: the comparison group a point was measured in, interleaved with its other variants."""

    group: str
    rounds: int
    round_latency_ms: list[float]
    position: int
    order: str
    calls_per_round: int | None = None
    round_process: list[int] | None = None
    processes: int | None = None
    half_width: float | None = None
    clock: str | None = None

    KIND = "paired block"
    OPTIONAL = frozenset({"calls_per_round", "round_process", "processes", "half_width", "clock"})


@dataclass
class OnnxBlock(Block):
    """``onnx``: a point that ran the ONNX export (who exported it, how it was fed, how far off eager)."""

    exported_by_this_point: bool | None = None
    trimmed: bool | None = None
    max_abs_diff_vs_eager: float | None = None
    quantized_by_this_point: bool | None = None
    graph_optimization_level: str | None = None

    KIND = "onnx block"
    OPTIONAL = frozenset({"exported_by_this_point", "trimmed", "max_abs_diff_vs_eager",
                          "quantized_by_this_point", "graph_optimization_level"})


@dataclass
class JetSource(Block):
    """``quality/source`` and a group's ``jets``: where the jets came from (synthetic with a
    seed, or real: the files and jet ranges read)."""

    kind: str
    seed: int | None = None
    files: list[str] | None = None
    repeated: bool | None = None
    distinct_jets: int | None = None
    selection: str | None = None

    KIND = "jet source block (quality/source, jets)"
    OPTIONAL = frozenset({"seed", "files", "repeated", "distinct_jets", "selection"})


@dataclass
class InputsBlock(Block):
    """``inputs``: the timed batch (its source's fields, its particle counts, and ``shapes``:
    an open map keyed by the model's input names)."""

    kind: str
    particles_min: int
    particles_max: int
    shapes: dict[str, list[int]]
    seed: int | None = None
    files: list[str] | None = None
    repeated: bool | None = None
    distinct_jets: int | None = None
    selection: str | None = None

    KIND = "inputs block"
    OPTIONAL = frozenset({"seed", "files", "repeated", "distinct_jets", "selection"})

    def to_json(self) -> JSON:  # the source's keys first, as the batch gave them
        doc = _omit_none(InputsBlock, self, self.OPTIONAL)
        tail = {k: doc.pop(k) for k in ("particles_min", "particles_max", "shapes")}
        return {"kind": doc.pop("kind"), **doc, **tail}


@dataclass
class OutputCheck(Block):
    """``output_check``: the point's softmax outputs on the timed batch against eager fp32's."""

    reference: str
    jets: int
    max_abs_diff: float
    top1_agreement: float
    tolerance: float
    passed: bool

    KIND = "output_check block"


@dataclass
class Quality(Block):
    """``quality``: the variant scored on labelled test jets against eager fp32 (``tolerance``
    is written null on eager fp32 itself)."""

    jets: int
    top1_agreement: float
    max_abs_diff: float
    auc_macro: float | None
    auc_macro_reference: float | None
    auc_note: str | None
    tolerance: float | None = None
    classes: int | None = None
    batch_size: int | None = None
    reference: str | None = None
    source: JetSource | None = None

    KIND = "quality block"
    OPTIONAL = frozenset({"classes", "batch_size", "reference", "source"})
    NESTED: ClassVar[dict[str, type[Block]]] = {"source": JetSource}


@dataclass
class EnergyBlock(Block):
    """``energy``: joules per jet where the hardware tells it, else method not_measured and why."""

    method: str
    j_per_jet: float | None
    idle_w: float | None
    note: str
    j_per_call_median: float | None = None
    j_per_call_samples: list[float] | None = None

    KIND = "energy block"
    OPTIONAL = frozenset({"j_per_call_median", "j_per_call_samples"})

    def to_json(self) -> JSON:  # in the order energy.record_block always wrote them
        doc = _omit_none(EnergyBlock, self, self.OPTIONAL)
        order = ("method", "j_per_jet", "j_per_call_median", "j_per_call_samples", "idle_w", "note")
        return {k: doc[k] for k in order if k in doc}


@dataclass
class Bucketing(Block):
    """``bucketing``: the sub-batches a bucketed point cuts its batch into."""

    rule: str
    sub_batches: list[list[int]]
    slots: int
    slots_trimmed: int
    min_length: int | None = None

    KIND = "bucketing block"
    OPTIONAL = frozenset({"min_length"})


@dataclass
class Subnormal(Block):
    """``subnormal``: subnormal values in the weights and in one forward's leaf outputs."""

    weights: int
    weight_values: int
    activations: int
    activation_values: int

    KIND = "subnormal block"


@dataclass
class Quantization(Block):
    """``quantization``: how an int8 point's model was quantised."""

    tool: str
    weights: str
    activations: str
    quantized: list[str]
    kept_fp32: list[str]
    quantize_s: float | None = None

    KIND = "quantization block"
    OPTIONAL = frozenset({"quantize_s"})


@dataclass
class ProfilerBlock(Block):
    """``profiler``: the profiler pass behind ``ops_table`` and ``trace``."""

    calls: int
    sorted_by: str
    tool: str

    KIND = "profiler block"


@dataclass
class PointRecord(Identity, Block):
    """One measured point of a model's forward pass (``record.schema.json`` says what each field means).

    Made by :meth:`blank` with every measured field still empty; the measuring code
    sets attributes as it measures. The fields after ``duration_s`` are optional:
    absent from the JSON while None.
    """

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
    checkpoint: JSON | None = None  # open: the checkpoint file's own facts (jetprof.model.export)
    inputs: InputsBlock | None = None
    quality: Quality | None = None
    env: JSON = field(default_factory=dict)  # jetprof.profiling.env's dict; the schema closes its keys
    started_utc: str = "1970-01-01T00:00:00Z"
    duration_s: float = 0.0
    # optional: absent while None
    process: str | None = None
    model_warmup_calls: int | None = None
    model_warmup_batch_size: int | None = None
    warmup_call_s: list[float] | None = None
    compile_s: float | None = None
    preempted_calls: int | None = None
    bucketing: Bucketing | None = None
    onnx: OnnxBlock | None = None
    quantization: Quantization | None = None
    openvino: dict[str, Scalar] | None = None  # open: the OpenVINO plugin's own settings
    energy: EnergyBlock | None = None
    flops_counted_jets: int | None = None
    flops_per_jet_padded: float | None = None
    flops_padded_particles: int | None = None
    subnormal: Subnormal | None = None
    flush_denormal: bool | None = None
    output_check: OutputCheck | None = None
    profiler: ProfilerBlock | None = None
    paired: Paired | None = None

    KIND = "profile record"
    #: the typed blocks by field (``env``: a dict the schema closes; ``openvino``, ``checkpoint``: open)
    NESTED: ClassVar[dict[str, type[Block]]] = {
        "inputs": InputsBlock, "quality": Quality, "bucketing": Bucketing, "onnx": OnnxBlock,
        "quantization": Quantization, "energy": EnergyBlock, "subnormal": Subnormal,
        "output_check": OutputCheck, "profiler": ProfilerBlock, "paired": Paired,
    }

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
        doc = super().to_json()
        if doc["inputs"] is None:  # a point that failed before its batch was made: {} as ever
            doc["inputs"] = {}
        return {"schema_version": doc.pop("schema_version"), **doc}

    @classmethod
    def from_json(cls, doc: object, source: str = "record") -> PointRecord:
        """A record read back: unknown keys refused, the blocks typed (no schema check: :func:`load_record`)."""
        if isinstance(doc, dict) and doc.get("inputs") == {}:
            doc = {**doc, "inputs": None}
        return super().from_json(doc, source)


POINT_BLOCKS = PointRecord.NESTED  # the point record's typed blocks by field
_NAMES = _field_names(PointRecord)
#: the point record's fields that the JSON leaves out while they are None: those after duration_s
POINT_OPTIONAL = PointRecord.OPTIONAL = frozenset(_NAMES[_NAMES.index("duration_s") + 1:])


#: the schema of each record kind, in src/jetprof/schemas/ beside record.schema.json
SCHEMA_FILES = {"profile record": "record.schema.json", "group rounds file": "group.schema.json",
                "comparison row": "comparison.schema.json", "weights answer": "answer.schema.json",
                "node record": "node.schema.json",  # jetprof.node_record
                "serving record": "serving.schema.json"}


@cache
def _validator(kind: str) -> Any:
    """The validator of ``kind``'s schema; the others' are at hand for its ``$ref``s."""
    import jsonschema
    from referencing import Registry, Resource

    docs = {name: json.loads((RECORD_SCHEMA.parent / name).read_text()) for name in SCHEMA_FILES.values()}
    docs["record.schema.json"] = fill_schema(docs["record.schema.json"])
    registry = Registry().with_resources(
        (doc["$id"], Resource.from_contents(doc)) for doc in docs.values())
    schema = docs[SCHEMA_FILES[kind]]
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema, registry=registry, format_checker=cls.FORMAT_CHECKER)


def validate_document(kind: str, doc: object, source: str) -> None:
    """Raise JetprofError, in one line naming ``source``, the key path and the problem, where
    ``doc`` breaks the schema of ``kind`` (a key of :data:`SCHEMA_FILES`)."""
    import jsonschema

    errors = sorted(_validator(kind).iter_errors(doc), key=lambda e: [str(p) for p in e.absolute_path])
    if errors:
        err = errors[0]
        if err.context:  # a oneOf/anyOf: the failure inside the branch that fits best
            err = jsonschema.exceptions.best_match(err.context)
        where = "/".join(str(p) for p in err.absolute_path) or "(top level)"
        raise JetprofError(f"{source}: invalid {kind} at {where}: {err.message}")


def validate_record(record: JSON | PointRecord, source: str = "record") -> None:
    """Raise JetprofError naming ``source`` and the first violation of ``record.schema.json``."""
    validate_document("profile record", record.to_json() if isinstance(record, PointRecord) else record, source)


def load_group(doc: object, source: str = "group") -> GroupDocument:
    """A group rounds file from its JSON: schema-checked, then typed."""
    validate_document("group rounds file", doc, source)
    return GroupDocument.from_json(doc, source)


def load_record(doc: object, source: str = "record") -> PointRecord:
    """A point record from its JSON: schema-checked, then typed."""
    validate_document("profile record", doc, source)
    return PointRecord.from_json(doc, source)


@dataclass
class GroupVariant(Block):
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
    subnormal: Subnormal | None
    round_process: list[int] | None = None
    round_cpu_ms: list[float] | None = None

    KIND = "group variant"
    OPTIONAL = frozenset({"round_process", "round_cpu_ms"})
    NESTED: ClassVar[dict[str, type[Block]]] = {"subnormal": Subnormal}


@dataclass
class GroupDocument(Block):
    """A comparison group's rounds file: the group, its round orders and every variant
    (``group.schema.json``; ``env`` is the point record's)."""

    device: str
    particles: int | str
    batch_size: int
    jets: JetSource | None
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
    processes: int | None = None
    build_orders: list[list[str]] | None = None
    clock: str | None = None
    timing_s: list[float] | None = None

    KIND = "group rounds file"
    OPTIONAL = frozenset({"processes", "build_orders", "clock", "timing_s"})
    NESTED: ClassVar[dict[str, type[Block]]] = {"jets": JetSource, "variants": GroupVariant}
    KEYS = ("schema_version", "kind", "device", "particles", "batch_size", "jets", "order", "rounds",
            "min_rounds", "max_rounds", "threshold_for_stopping", "flush_denormal", "variants", "env",
            "started_utc", "duration_s", "processes", "build_orders", "clock", "timing_s")

    def to_json(self) -> JSON:
        doc = super().to_json()
        return {k: doc[k] for k in self.KEYS if k in doc}


@dataclass
class ComparisonRow(Block):
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
    # how the interval was drawn (a key of jetprof.stats.METHODS; rows written before say nothing:
    # the bootstrap over one process's rounds), how wide it is, and where its spread lies
    method: str = "bootstrap"
    half_width: float | None = None
    processes: int = 1
    between_share: float | None = None
    clock: str = "wall"

    KIND = "comparison row"


@dataclass
class WeightsAnswer(Block):
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
    # the study's own A/A coverage: how many of its A/A controls' intervals hold 1 (answers written
    # before say nothing)
    aa_coverage: JSON | None = None

    KIND = "weights answer"


def field_names(cls: type) -> list[str]:
    """The JSON keys a record class writes (for the schema tests)."""
    return _field_names(cls)
