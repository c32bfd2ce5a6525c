"""The one contract between the stages: where shipped files live and which values every
axis of the study may take.

Everything that names an axis value (the CLI's choices, the Snakemake wildcard
constraints, the config and record schemas, the report's orderings) takes it from
here, or is checked against it by the tests (``tests/test_backends.py``: the schemas'
backends and precisions; ``tests/test_docs.py``: the map of the package).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from jetprof import registry
from jetprof.registry import pair_problem
from jetprof.study_config import StudyConfig

#: the installed package; its data files travel with it (``pip install .`` works anywhere)
PACKAGE = Path(__file__).resolve().parent
SCHEMAS = PACKAGE / "schemas"
CONFIG_SCHEMA = SCHEMAS / "config.schema.yaml"
RECORD_SCHEMA = SCHEMAS / "record.schema.json"
#: the weaver network and data configs shipped with jetprof (``workflow/weaver/`` links here)
WEAVER_CONFIGS = registry.WEAVER_CONFIGS
DEFAULT_NETWORK_CONFIG = WEAVER_CONFIGS / "ParT.py"
DEFAULT_DATA_CONFIG = WEAVER_CONFIGS / "JetClass_full.yaml"


#: results live under this folder, at deterministic paths (never timestamps)
RESULTS = "results"
#: what the workflow hands every job through the environment rather than its command, so that
#: a change to them re-plans no measurement: the whole config's hash (recorded in each record's
#: environment block) and the comparison threshold at which a group stops adding rounds
#: (verdicts are decided again from the stored rounds by `jetprof compare`)
ENV_CONFIG_HASH = "JETPROF_CONFIG_HASH"
ENV_COMPARE_THRESHOLD = "JETPROF_COMPARE_THRESHOLD"
#: the Snakemake resource ``measure_slot``, in units: a measurement (and training, which fills
#: the cores) takes the whole of it; prediction and export, which time nothing, take half each,
#: so the two share the CPU with each other and never with a measurement
WHOLE_SLOT = 2
HALF_SLOT = 1

# ---------------------------------------------------------------------------
# the axes of the study and the values each may take

WEIGHTS: tuple[str, ...] = ("random", "trained", "pretrained")
#: the backends and precisions: one entry each in :data:`jetprof.registry.BACKENDS` and
#: :data:`~jetprof.registry.PRECISIONS` (what runs it, where, what it needs, how it is drawn)
BACKENDS: tuple[str, ...] = tuple(registry.BACKENDS)
PRECISIONS: tuple[str, ...] = tuple(registry.PRECISIONS)
DEVICE_PATTERN = r"cpu|mps|cuda(:[0-9]+)?"
STATUSES: tuple[str, ...] = ("ok", "oom", "error")
#: how a record's ``peak_memory_bytes`` was measured (see jetprof.profiling.memory)
MEMORY_METHODS: tuple[str, ...] = (
    "profiler_memory_events", "cuda_max_memory_allocated", "mps_max_memory_allocated", "mps_driver_growth",
    "mps_current_allocated", "not_measured",
)
#: what a comparison changes between its two sides; ``control`` is the A/A check;
#: ``deployment`` a rung of the deployment ladder that changes backend and precision at
#: once (onnxruntime-int8, compile-bf16) against eager fp32
AXES: tuple[str, ...] = ("weights", "backend", "precision", "model", "control", "deployment")
#: the side every comparison along an axis is measured against
BASELINE = {"weights": "random", "backend": "eager", "precision": "fp32"}
VERDICTS: tuple[str, ...] = ("same", "different", "inconclusive")
#: the study's figures (``results/figures/{name}.png``), each drawn by ``jetprof plot NAME``
#: (:data:`jetprof.registry.FIGURES`)
FIGURES: tuple[str, ...] = tuple(registry.FIGURES)
#: backends that run the ONNX export of the model (built ``for_inference``: softmax output,
#: no SequenceTrimmer), not the torch module
ONNX_BACKENDS = registry.backends_where(graph="onnx")
#: backends that cut each batch into sub-batches by particle count (eager's rules for
#: precisions hold for eager_bucketed, ONNX Runtime's for onnxruntime_bucketed)
BUCKETED_BACKENDS = registry.backends_where(bucketed=True)


def split_pair(pair: str) -> tuple[str, str]:
    """``"onnxruntime-fp32"`` -> ``("onnxruntime", "fp32")``; ValueError for an unknown pair."""
    backend, sep, precision = pair.rpartition("-")
    if not sep or backend not in BACKENDS or precision not in PRECISIONS:
        raise ValueError(f"{pair!r}: not a backend-precision pair ({'|'.join(BACKENDS)})-"
                         f"({'|'.join(PRECISIONS)})")
    return backend, precision


# ---------------------------------------------------------------------------
# points, variants and comparison groups


@dataclass(frozen=True, order=True)
class Variant:
    """What is compared inside a group: a model with weights, run by a backend at a precision.

    ``replica`` 1 is a second, independent instance of the same variant (same seed or
    checkpoint): the A/A control, which has no record of its own.
    """

    model: str
    weights: str
    backend: str
    precision: str
    replica: int = 0

    @property
    def label(self) -> str:
        text = f"{self.model}/{self.weights}/{self.backend}-{self.precision}"
        return text + (f"#{self.replica + 1}" if self.replica else "")


@dataclass(frozen=True, order=True)
class Point:
    """One measured point of the grid: one record."""

    model: str
    weights: str
    device: str
    backend: str
    precision: str
    particles: str  # "real" or a particle count, as text
    batch_size: int

    @property
    def record(self) -> str:
        """The record's path under the results folder."""
        return record_path(self.model, self.weights, self.device, self.backend, self.precision,
                           self.particles, self.batch_size)

    @property
    def variant(self) -> Variant:
        return Variant(self.model, self.weights, self.backend, self.precision)

    @classmethod
    def of_record(cls, record: dict[str, Any]) -> Point:
        return cls(str(record["model"]), str(record["weights"]), str(record["device"]),
                   str(record["backend"]), str(record["precision"]), str(record["particles"]),
                   int(record["batch_size"]))


def record_path(model: str, weights: str, device: str, backend: str, precision: str,
                particles: str | int, batch_size: int | str, root: str = RESULTS) -> str:
    """``results/profile/{model}/{weights}/{device}/{backend}-{precision}/p{particles}/bs{N}.json``."""
    return (f"{root}/profile/{model}/{weights}/{device}/{backend}-{precision}/"
            f"p{particles}/bs{batch_size}.json")


def train_dir(model: str, root: str = RESULTS) -> str:
    """``results/train/{model}``: weaver's checkpoints, log, data config and tensorboard."""
    return f"{root}/train/{model}"


def checkpoint_path(model: str, root: str = RESULTS) -> str:
    """The best epoch's state dict weaver wrote for ``model``: its ``trained`` weights."""
    return f"{train_dir(model, root)}/net_best_epoch_state.pt"


def evaluate_dir(model: str, root: str = RESULTS) -> str:
    """``results/evaluate/{model}``: the test split's predictions and their metrics."""
    return f"{root}/evaluate/{model}"


def metrics_path(model: str, root: str = RESULTS) -> str:
    return f"{evaluate_dir(model, root)}/metrics.json"


def group_path(device: str, particles: str | int, batch_size: int | str, root: str = RESULTS) -> str:
    """``results/paired/{device}/p{particles}/bs{N}.json``: the rounds of one comparison group."""
    return f"{root}/paired/{device}/p{particles}/bs{batch_size}.json"


@dataclass(frozen=True)
class Pair:
    """Two variants of a group compared along one axis: ``variant`` ÷ ``baseline``."""

    axis: str
    baseline: Variant
    variant: Variant

    @property
    def control(self) -> bool:
        return self.axis == "control"


@dataclass(frozen=True)
class Group:
    """Variants measured together at one (device, particles, batch size): the same jets,
    one process, interleaved in time over rounds. Every comparison the study states is
    between two variants of one group."""

    device: str
    particles: str
    batch_size: int
    variants: tuple[Variant, ...]

    @property
    def path(self) -> str:
        return group_path(self.device, self.particles, self.batch_size)

    @property
    def points(self) -> list[Point]:
        """The measured points (the control replica has no record)."""
        return [Point(v.model, v.weights, self.device, v.backend, v.precision, self.particles,
                      self.batch_size) for v in self.variants if not v.replica]

    def pairs(self, main_model: str | None = None) -> list[Pair]:
        return compared_pairs(self.variants, main_model)


def compared_pairs(variants: tuple[Variant, ...] | list[Variant],
                   main_model: str | None = None) -> list[Pair]:
    """The comparisons a group's variants allow.

    Two variants are compared when they differ along exactly one axis and one of them
    holds that axis's baseline: weights against ``random``, backends against ``eager``,
    precisions against ``fp32``, models against ``main_model`` (the first variant's model
    by default); a replica against its original is the A/A control. A variant that
    changes both backend and precision (``onnxruntime-int8``) is compared with eager fp32
    of its model and weights along the ``deployment`` axis.
    """
    if not variants:
        return []
    main = main_model or variants[0].model
    pairs: list[Pair] = []
    originals = [v for v in variants if not v.replica]
    for v in variants:
        if v.replica:
            base = Variant(v.model, v.weights, v.backend, v.precision)
            if base in originals:
                pairs.append(Pair("control", base, v))
    for b in originals:
        for v in originals:
            if b == v:
                continue
            diff = [a for a in ("model", "weights", "backend", "precision")
                    if getattr(b, a) != getattr(v, a)]
            if diff == ["backend", "precision"] and (b.backend, b.precision) == ("eager", "fp32"):
                pairs.append(Pair("deployment", b, v))
                continue
            if len(diff) != 1:
                continue
            axis = diff[0]
            reference = main if axis == "model" else BASELINE[axis]
            if getattr(b, axis) == reference:
                pairs.append(Pair(axis, b, v))
    return pairs


def variants_of(model: str, weights: list[str] | tuple[str, ...], pairs: list[str] | tuple[str, ...],
                extras: Sequence[Variant] = (), control: bool = True) -> list[Variant]:
    """The variants of a group: ``model`` under every weight state and backend-precision
    pair, then ``extras`` (the other models' variants: :func:`extra_variants`), and, with
    ``control``, a replica of the first variant (the A/A control)."""
    out = [Variant(model, w, *split_pair(pair)) for w in weights for pair in pairs]
    out = list(dict.fromkeys([*out, *extras]))
    if control and out:
        first = out[0]
        out.insert(1, Variant(first.model, first.weights, first.backend, first.precision, 1))
    return out


def trained_models(config: StudyConfig) -> list[str]:
    """The models a study trains with weaver: the main one (``weaver.model_name``) first,
    then every ``profile.models`` entry with ``train: true``."""
    extras = [m["name"] for m in config["profile"].get("models", []) if m.get("train", False)]
    return list(dict.fromkeys([config["weaver"]["model_name"], *extras]))


def extra_variants(config: StudyConfig) -> list[Variant]:
    """``profile.models`` as the main grid's groups measure them: a trained one under the
    study's weight states but ``pretrained`` (its official checkpoint is the main model's),
    the others with random weights; each under its own ``backends`` or ``profile.backends``."""
    weights = tuple(w for w in study_weights(config) if w != "pretrained") or ("random",)
    out = []
    for m in config["profile"].get("models", []):
        for w in weights if m.get("train", False) else ("random",):
            for pair in m.get("backends") or config["profile"]["backends"]:
                out.append(Variant(m["name"], w, *split_pair(pair)))
    return out


def study_weights(config: StudyConfig) -> list[str]:
    """``profile.weights``, without ``pretrained`` unless ``pretrained.enabled``."""
    enabled = bool(config.get("pretrained", {}).get("enabled", False))
    return [w for w in config["profile"]["weights"] if w != "pretrained" or enabled]


def _merged_groups(config: StudyConfig) -> list[Group]:
    """Every comparison group of a study, each with every variant: the main grid and the multiplicity curve.

    The main grid measures, at each device × particles × batch size, the main
    model under every weight state and backend-precision pair together with the
    extra models (``profile.models``: see :func:`extra_variants`); the multiplicity curve
    measures its weights and pairs at each particle count. Groups that meet at the same
    (device, particles, batch size) are merged, so a point is measured once. Pairs that
    cannot run on a device (``pair_problem``) are left out; the config check refuses
    them before any job (``jetprof.workflow.config_problems``).
    """
    prof = config["profile"]
    model = config["weaver"]["model_name"]
    control = bool(prof.get("compare", {}).get("control", True))
    extras = extra_variants(config)
    mult = prof["multiplicity"]
    mult_weights = mult["weights"]
    if mult_weights not in study_weights(config):
        mult_weights = "trained" if mult_weights == "pretrained" else mult_weights
    merged: dict[tuple[str, str, int], list[Variant]] = {}

    def runs_on(pairs: Sequence[str], device: str) -> list[str]:
        return [p for p in pairs if pair_problem(*split_pair(p), device) is None]

    def add(device: str, particles: str | int, bs: int, weights: list[str], pairs: list[str],
            extra: list[Variant]) -> None:
        usable = runs_on(pairs, device)
        if not usable:
            return
        extra = [v for v in extra if pair_problem(v.backend, v.precision, device) is None]
        variants = merged.setdefault((device, str(particles), int(bs)), [])
        for v in variants_of(model, weights, usable, extra, control):
            if v not in variants:
                variants.append(v)

    for device in prof["devices"]:
        for particles in prof["particles"]:
            for bs in prof["batch_sizes"]:
                add(device, particles, bs, study_weights(config), prof["backends"], extras)
        for n in mult["particles"]:
            add(device, n, mult["batch_size"], [mult_weights], mult["backends"], [])
    groups = []
    for (device, label, bs), variants in merged.items():
        originals = [v for v in variants if not v.replica]
        replicas = [v for v in variants if v.replica][:1]  # one control per group
        ordered = originals[:1] + replicas + originals[1:]
        groups.append(Group(device, label, bs, tuple(ordered)))
    return groups


#: a model's own batch sizes (``profile.models[].batch_sizes``), as (model, sizes) pairs: at
#: the main grid's other batch sizes its variants are left out of the group
Limits = tuple[tuple[str, tuple[int, ...]], ...]


def model_batch_sizes(config: StudyConfig) -> Limits:
    """The ``profile.models`` entries that name their own batch sizes."""
    return tuple((m["name"], tuple(m["batch_sizes"])) for m in config["profile"].get("models", [])
                 if m.get("batch_sizes"))


def limited(variants: tuple[Variant, ...], batch_size: int, limits: Limits) -> tuple[Variant, ...]:
    """``variants`` without those of a model whose own batch sizes leave ``batch_size`` out."""
    own = dict(limits)
    return tuple(v for v in variants if v.model not in own or batch_size in own[v.model])


def study_groups(config: StudyConfig) -> list[Group]:
    """Every comparison group of a study (:func:`_merged_groups`), each without the variants of a
    model whose own batch sizes leave the group's out (:func:`model_batch_sizes`)."""
    limits = model_batch_sizes(config)
    return [replace(g, variants=limited(g.variants, g.batch_size, limits))
            for g in _merged_groups(config)]


def study_points(config: StudyConfig) -> list[Point]:
    return [p for g in study_groups(config) for p in g.points]


@dataclass(frozen=True)
class Job:
    """The groups one ``jetprof profile`` call measures (one Snakemake job): the product
    of ``particles`` and ``batch_sizes`` on one device with the same variants."""

    device: str
    variants: tuple[Variant, ...]
    particles: tuple[str, ...]
    batch_sizes: tuple[int, ...]
    #: models measured at some of the batch sizes only (:func:`model_batch_sizes`)
    limits: Limits = ()

    @property
    def groups(self) -> list[Group]:
        return [Group(self.device, n, bs, limited(self.variants, bs, self.limits)) for n in self.particles
                for bs in self.batch_sizes]

    def batch_sizes_of(self, model: str) -> tuple[int, ...] | None:
        """The job's batch sizes ``model`` runs at, where it runs at only some of them (else None)."""
        own = dict(self.limits).get(model)
        return None if own is None else tuple(b for b in self.batch_sizes if b in own)

    @property
    def records(self) -> list[str]:
        return [p.record for g in self.groups for p in g.points]

    @property
    def group_files(self) -> list[str]:
        return [g.path for g in self.groups]

    @property
    def tag(self) -> str:
        """``p16_32_64_128`` / ``preal``: the particle counts, for rule, log and benchmark names."""
        return "p" + "_".join(self.particles)

    @property
    def name(self) -> str:
        return f"{self.device.replace(':', '')}_{self.tag}_bs{'_'.join(map(str, self.batch_sizes))}"

    @property
    def reads_real_jets(self) -> bool:
        return "real" in self.particles

    @property
    def weights(self) -> list[str]:
        return list(dict.fromkeys(v.weights for v in self.variants))

    @property
    def models(self) -> list[str]:
        return list(dict.fromkeys(v.model for v in self.variants))


def study_jobs(config: StudyConfig) -> list[Job]:
    """The study's groups in as few ``jetprof profile`` calls as they allow: groups with
    the same device and variants, as products of particle counts × batch sizes."""
    by_variants: dict[tuple[str, tuple[Variant, ...]], dict[str, list[int]]] = {}
    limits = model_batch_sizes(config)
    for g in _merged_groups(config):
        sizes = by_variants.setdefault((g.device, g.variants), {}).setdefault(g.particles, [])
        sizes.append(g.batch_size)
    jobs = []
    for (device, variants), by_particles in by_variants.items():
        by_sizes: dict[tuple[int, ...], list[str]] = {}
        for particles, batch_sizes in by_particles.items():
            by_sizes.setdefault(tuple(sorted(set(batch_sizes))), []).append(particles)
        for batch_tuple, counts in by_sizes.items():
            own = tuple((m, sizes) for m, sizes in limits if any(v.model == m for v in variants))
            jobs.append(Job(device, variants, tuple(counts), batch_tuple, own))
    return jobs


def to_json(obj: Any) -> str:
    """Canonical JSON (sorted keys): the same value always gives the same text."""
    return json.dumps(obj if not hasattr(obj, "__dataclass_fields__") else asdict(obj),
                      sort_keys=True, separators=(",", ":"), default=str)


def iter_axis_values() -> Iterator[tuple[str, tuple[str, ...]]]:
    yield "weights", WEIGHTS
    yield "backend", BACKENDS
    yield "precision", PRECISIONS
    yield "status", STATUSES
    yield "memory_method", MEMORY_METHODS
    yield "axis", AXES
    yield "verdict", VERDICTS
