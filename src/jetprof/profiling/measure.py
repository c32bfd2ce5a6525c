"""Measure one comparison group inside the child process; write its records and rounds.

A group is every variant (model, weights, backend, precision) to be compared at one
device, batch size and set of jets. The child builds all of them, makes the batch
once per data config (the same jets for every variant), warms each one up, then
times them **interleaved**: each round calls every variant once, in a balanced order
(a Williams design, :func:`jetprof.profiling.rounds.round_orders`: over a cycle of
rounds each variant takes each position, and follows each other variant, equally
often), so a drift of the machine's speed within the group's few seconds falls on all
variants alike. It keeps adding rounds past ``rounds`` until every comparison of the
group is decided (see :mod:`jetprof.stats`), ``max_rounds`` is reached or
``max_group_s`` has passed.

Memory, FLOPs, subnormal counts and the profiler pass are measured per variant
after the rounds, each outside the timed calls; so are the check of every variant but
eager fp32 against eager fp32 and, with labelled test jets, its quality score
(:mod:`jetprof.profiling.quality`).

Why one process and alternating calls, not a fresh process per variant and round:
``benchmarks/bench_comparison.py`` measures both; the in-process design reaches
tighter intervals in a fraction of the time, and memory, the figure a shared
process could blur, is measured per forward from the allocator's own events.
"""

from __future__ import annotations

import gc
import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias, cast

import numpy as np

from jetprof.contract import BUCKETED_BACKENDS, ONNX_BACKENDS
from jetprof.errors import BadInputError, JetprofError
from jetprof.io import atomic_write_text
from jetprof.profiling import hooks
from jetprof.profiling.ops import profiler_pass, torch_rows, write_empty_profile, write_ops
from jetprof.profiling.record import blank_record, group_document, latency_figures, write_record
from jetprof.profiling.rounds import ORDER, build_order, interleave, placement_gap
from jetprof.profiling.spec import GroupSpec, VariantSpec
from jetprof.records import (
    JSON,
    InputsBlock,
    OnnxBlock,
    Paired,
    PointRecord,
    Subnormal,
)
from jetprof.registry import BACKENDS

if TYPE_CHECKING:
    import torch

    from jetprof.model.build import BuiltModel
    from jetprof.model.inputs import Batch
    from jetprof.profiling.backends import BucketedRunner, ForwardOutput, Runner

#: jets FLOPs, subnormals and the output check are counted on: a trimmed batch pads every jet to its
#: longest, so a few (the longest among them) give its FLOPs per jet to 0.2 % (ParT's pair embedding
#: is data-dependent) at a fraction of the counter's cost (~10 s of a batch-32 group on all 32)
FLOPS_JETS = 8
BUCKETED_FLOPS_JETS = 64



def is_oom(exc: BaseException) -> bool:
    """Out-of-memory on any device: CUDA's OutOfMemoryError, CPU/MPS RuntimeError text, MemoryError."""
    import torch

    if isinstance(exc, (torch.OutOfMemoryError, MemoryError)):
        return True
    text = str(exc).lower()
    return isinstance(exc, RuntimeError) and any(
        s in text for s in ("out of memory", "can't allocate", "cannot allocate", "failed to allocate",
                            "alloc_cpu", "allocate memory")
    )


def _failure(exc: BaseException) -> tuple[str, str]:
    if isinstance(exc, JetprofError):
        return "error", str(exc)
    msg = (str(exc).strip().splitlines() or [""])[0][:500]
    return ("oom" if is_oom(exc) else "error"), f"{type(exc).__name__}: {msg}"


@dataclass
class Slot:
    """One variant inside the child: its record, model, batch and timings."""

    spec: VariantSpec
    rec: PointRecord
    model: torch.nn.Module | None = None  # the eager module (exported variants: the for-inference one)
    built: BuiltModel | None = None
    batch: Batch | None = None
    tensors: list[torch.Tensor] = field(default_factory=list)  # what the forward is fed (CPU for ORT)
    forward: Runner | None = None
    seen: list[int] = field(default_factory=list)  # lengths at the SequenceTrimmer's output
    length: int = 0
    warm_out: ForwardOutput | None = None
    warm_ms: float | None = None  # the last warm-up call's wall ms (rounds.interleave's probe)
    calls_per_round: int = 1  # forwards per turn (rounds.interleave sets it)
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    energy: list[float] = field(default_factory=list)  # joules per call, one figure a turn
    failed: bool = False

    @property
    def ok(self) -> bool:
        return not self.failed

    def built_model(self) -> tuple[BuiltModel, torch.nn.Module]:
        """``built`` and ``model``, which _build_all sets before any later step."""
        assert self.built is not None and self.model is not None, f"{self.spec.label}: not built"
        return self.built, self.model

    def runner(self) -> Runner:
        """``forward``, which _prepare sets (a failed variant drops it and takes no later step)."""
        assert self.forward is not None, f"{self.spec.label}: no forward"
        return self.forward

    def the_batch(self) -> Batch:
        """``batch``, which _prepare sets."""
        assert self.batch is not None, f"{self.spec.label}: no batch"
        return self.batch

    def fail(self, status: str, message: str) -> None:
        self.failed = True
        self.rec.fail(status, message)
        self.forward = self.warm_out = None


#: (FLOPs, eager output on the counted jets, length counted at, subnormal counts) of a variant
FlopsCount: TypeAlias = "tuple[int, ForwardOutput, int, Subnormal]"


@dataclass
class FlopsCache:
    """The group's FLOPs counts, once per set of identical weights and inputs (see :func:`_flops`)."""

    counts: dict[tuple[str | None, ...], FlopsCount] = field(default_factory=dict)
    # eager fp32's count on jets that fill every slot: (FLOPs per jet, particles)
    padded: dict[tuple[str | None, ...], tuple[float, int]] = field(default_factory=dict)


def clear_outputs(spec: GroupSpec) -> None:
    """Remove the group's records, per-op tables, traces and rounds file from an earlier run."""
    for v in spec.variants:
        if v.replica:
            continue
        path = spec.record_path(v)
        stem = path.stem
        for old in (f"{stem}.json", f"{stem}.ops.csv", f"{stem}.trace.json.gz"):
            (path.parent / old).unlink(missing_ok=True)
    spec.group_path.unlink(missing_ok=True)


def model_warmup_calls(model: torch.nn.Module) -> int:
    """Calls before the model reaches its steady state: the untrimmed warm-up calls
    still left to an enabled SequenceTrimmer (weaver's ``warmup_steps``, 5 for ParT),
    0 for models without one and for the exported (``for_inference``) graph."""
    left = 0
    for mod in model.modules():
        if type(mod).__name__ == "SequenceTrimmer" and getattr(mod, "enabled", False):
            done = int(cast("torch.Tensor", mod._counter).item()) if hasattr(mod, "_counter") else 0
            left = max(left, int(getattr(mod, "warmup_steps", 0)) - done)
    return left


def measure_group(spec: GroupSpec) -> JSON:
    """Measure every variant of ``spec``; write their records and the group's rounds file.

    Raises:
        BadInputError: a model cannot be built or a checkpoint does not fit it (every
            group would fail alike: the caller stops with one line, nothing written).
    """
    started = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    t0 = time.perf_counter()
    _pin_torch(spec)
    hooks.call("group_start", spec=spec)
    slots = [Slot(v, blank_record(spec, v)) for v in spec.variants]
    for slot in slots:
        slot.rec.started_utc = started
    workdir = tempfile.mkdtemp(prefix="jetprof-child-", dir=spec.cache_dir)
    try:
        rounds, timing_s = _measure(spec, slots, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    from jetprof.profiling.env import environment

    env = environment(spec.device, spec.config_hash)
    duration = round(time.perf_counter() - t0, 3)
    _write_records(spec, slots, env, duration)
    first = next((s.batch for s in slots if s.batch is not None), None)
    doc = group_document(spec, [(s.spec, s.rec) for s in slots], rounds, env, started, duration,
                         first.source if first else None,
                         [[slots[i].spec.label for i in build_order(spec)]], [timing_s])
    atomic_write_text(spec.group_path, json.dumps(doc, indent=1) + "\n")
    return doc


def _pin_torch(spec: GroupSpec) -> None:
    """The group's thread counts and subnormal mode, before any torch operation."""
    import torch

    torch.set_num_threads(spec.threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass  # already set (interop pool started)
    torch.set_flush_denormal(bool(spec.flush_denormal))


def _measure(spec: GroupSpec, slots: list[Slot], workdir: str) -> tuple[list[list[str]], float]:
    """Build, prepare and warm every variant, time them in rounds, then measure the rest;
    the rounds' orders and the seconds they took."""
    prepare(spec, slots, workdir)
    t0 = time.perf_counter()
    rounds = _timed_rounds(spec, slots)
    timing_s = round(time.perf_counter() - t0, 3)
    flops_cache = FlopsCache()
    for slot in slots:
        if slot.ok:
            _guarded(slot, _finish, spec, slot, flops_cache, workdir)
    if spec.quality_data:  # accuracy next to cost: after every timed call
        from jetprof.profiling.quality import score
        references: dict[tuple[str | None, ...], object] = {}
        for slot in slots:
            if slot.ok and not slot.spec.replica:
                _guarded(slot, score, spec, slot, references)
    return rounds, timing_s


def prepare(spec: GroupSpec, slots: list[Slot], workdir: str) -> None:
    """Build every variant, make its batch and warm it up, in the process's own randomised order
    (:func:`jetprof.profiling.rounds.build_order`: where each lands in memory differs from process to
    process, so a placement bias varies between processes instead of holding for all of them)."""
    ordered = [slots[i] for i in build_order(spec)]
    rng = np.random.default_rng([spec.seed, spec.process_index, len(slots)])
    for slot in ordered:  # each after a random gap on the heap: its own placement in each process
        placement_gap(rng)
        _build_all(spec, [slot])
    if spec.process_index == 0:
        clear_outputs(spec)  # every model is good: this group's old files go now
    batches: dict[str, Batch] = {}
    for slot in ordered:
        _guarded(slot, _prepare, spec, slot, batches, workdir)
    _check_same_jets(spec, slots)
    for slot in ordered:
        _guarded(slot, _warm_up, spec, slot)


def _timed_rounds(spec: GroupSpec, slots: list[Slot]) -> list[list[str]]:
    """The interleaved rounds, with the energy counter read around every turn where there is one."""
    from jetprof.profiling.energy import idle_watts, open_meter, record_block

    meter, why = open_meter(spec.device)
    idle = idle_watts(meter) if meter is not None else None
    rounds = interleave(spec, slots, _guarded, meter)
    for slot in slots:
        slot.rec.energy = record_block(meter, why, slot.energy, spec.batch_size, idle)
    return rounds


def _write_records(spec: GroupSpec, slots: list[Slot], env: JSON, duration: float) -> None:
    """Seal every variant's record (status, environment, its place in the group) and write it."""
    labels = [v.label for v in spec.variants]
    for slot in slots:
        rec = slot.rec
        if slot.ok:
            rec.status, rec.error = "ok", None
        rec.env = env
        rec.duration_s = duration
        rec.paired = Paired(group=spec.group_path.relative_to(spec.out).as_posix(), rounds=len(slot.wall),
                            round_latency_ms=rec.latency_ms_samples, calls_per_round=slot.calls_per_round,
                            position=labels.index(slot.spec.label), order=ORDER,
                            round_process=[spec.process_index] * len(rec.latency_ms_samples), processes=1,
                            clock=spec.clock)
        if not slot.spec.replica:
            if spec.profiler_pass and not rec.ops_table:
                write_empty_profile(spec.record_path(slot.spec))
            write_record(rec, spec.record_path(slot.spec))


def _guarded(slot: Slot, step: Callable[..., object], *args: object) -> None:
    """Run one step of a variant; an OOM or failure marks the variant, the group goes on."""
    if not slot.ok:
        return
    failure = None
    try:
        step(*args)
    except BadInputError:
        raise
    except BaseException as exc:
        if isinstance(exc, KeyboardInterrupt):
            raise
        failure = _failure(exc)
    if failure is not None:
        # recover outside the except block: its traceback no longer pins tensors
        slot.fail(*failure)
        gc.collect()
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()


def _build_all(spec: GroupSpec, slots: list[Slot]) -> None:
    """Build every variant's model and load its weights (seeded: replicas are equal)."""
    import torch

    from jetprof.model.build import build_model, load_weights

    for slot in slots:
        v = slot.spec
        torch.manual_seed(spec.seed)
        np.random.seed(spec.seed)
        try:
            built = build_model(v.network_config, v.data_config, for_inference=v.backend in ONNX_BACKENDS)
            if v.checkpoint:
                slot.rec.checkpoint = load_weights(built, v.checkpoint)
        except JetprofError as exc:
            raise BadInputError(str(exc)) from None
        slot.built = built
        slot.model = built.model.eval().requires_grad_(False)
        slot.rec.params = built.num_params
        slot.rec.process = spec.process


def _batch_for(spec: GroupSpec, slot: Slot, batches: dict[str, Batch]) -> Batch:
    from jetprof.model import inputs

    key = slot.spec.data_config
    if key not in batches:
        dc = slot.built_model()[0].data_config
        if spec.particles == "real":
            batches[key] = inputs.real_batch(spec.data, dc, spec.batch_size)
        else:
            batches[key] = inputs.synthetic_batch(dc, spec.batch_size, int(spec.particles), spec.seed)
    return batches[key]


def _prepare(spec: GroupSpec, slot: Slot, batches: dict[str, Batch], workdir: str) -> None:
    """The variant's batch and a no-argument forward callable."""
    import torch

    from jetprof.model import inputs
    from jetprof.profiling import backends

    device = torch.device(spec.device)
    batch = slot.batch = _batch_for(spec, slot, batches)
    built, model = slot.built_model()
    names = built.input_names
    rec = slot.rec
    rec.particles_mean = batch.particles_mean
    # batch.source holds JetSource's keys (typed dict[str, object] where the batch is made)
    rec.inputs = InputsBlock(**cast(JSON, batch.source), particles_min=int(batch.n_particles.min()),
                             particles_max=int(batch.n_particles.max()),
                             shapes={k: list(v.shape) for k, v in batch.arrays.items()})
    hooks.call("prepare", spec=spec, slot=slot)
    slot.length = int(batch.arrays[names[0]].shape[-1])
    if slot.spec.backend in ONNX_BACKENDS:
        backends.check_exported_device(slot.spec.backend, device)
        trim = BACKENDS[slot.spec.backend].trims  # onnxruntime_padded: the padded batch
        floor = inputs.min_particles(model)  # ParticleNet's k + 1: never trimmed below
        arrays = inputs.trim_to_longest(batch.arrays, batch.n_particles, floor) if trim else batch.arrays
        slot.tensors = [torch.from_numpy(arrays[n]) for n in names]
        full = [torch.from_numpy(batch.arrays[n]) for n in names]
        onnx_path, exported = _onnx_file(spec, slot, full, workdir)
        rec.onnx = OnnxBlock(exported_by_this_point=exported, trimmed=trim)
        fed = batch.arrays if slot.spec.backend in BUCKETED_BACKENDS else arrays  # it trims each sub-batch
        slot.forward = backends.exported_runner(slot.spec.backend, slot.spec.precision, onnx_path, device,
                                                spec.threads, fed, trim, spec.cache_dir or workdir, rec, floor)
        slot.length = int(arrays[names[0]].shape[-1])
    else:
        slot.tensors = [torch.from_numpy(batch.arrays[n]).to(device) for n in names]
        model.to(device)
        slot.forward = backends.torch_runner(model, slot.spec.backend, slot.spec.precision, slot.tensors,
                                             device, names, rec)
    if slot.spec.backend in BUCKETED_BACKENDS:  # the sub-batches this batch is cut into
        rec.bucketing = cast("BucketedRunner", slot.forward).bucketing()
        slot.length = max(length for _, length in rec.bucketing.sub_batches)
    modules = {id(m): m for module in (model, getattr(slot.forward, "model", model))
               for m in module.modules()}
    for mod in modules.values():
        if type(mod).__name__ == "SequenceTrimmer":
            mod.register_forward_hook(lambda _m, _i, out, seen=slot.seen: seen.append(int(out[0].shape[-1])))


def _warm_up(spec: GroupSpec, slot: Slot) -> None:
    """The model's own warm-up calls, then ``spec.warmup`` calls in the steady state.

    The trimmer counts calls, not jets: outside ``torch.compile`` (which would compile
    for the wrong shape) its untrimmed calls run on the batch's first jet alone, which
    at batch 32 saves five forwards over all 128 slots per variant."""
    import torch

    from jetprof.profiling.backends import TorchRunner, synchronize

    device = torch.device(spec.device)
    own = model_warmup_calls(slot.built_model()[1]) if slot.spec.backend not in ONNX_BACKENDS else 0
    slot.rec.model_warmup_calls = own
    slot.rec.warmup_calls = own + spec.warmup
    runner = slot.runner()
    if own and slot.spec.backend != "compile" and isinstance(runner, TorchRunner) and spec.batch_size > 1:
        one = [t[:1] for t in runner.tensors]
        with torch.inference_mode(), runner._ctx():
            for _i in range(own):
                runner.model(*one)
        synchronize(device)
        slot.rec.model_warmup_batch_size = 1
        own = 0
    for _i in range(own + spec.warmup):
        t = time.perf_counter()
        out = runner()
        synchronize(device)
        slot.warm_ms = (time.perf_counter() - t) * 1e3 if _i >= own else None
        if slot.spec.backend == "compile":  # compilation, and recompilation at a new length
            slot.rec.warmup_call_s = [*(slot.rec.warmup_call_s or []), round(time.perf_counter() - t, 3)]
            slot.rec.compile_s = slot.rec.warmup_call_s[0]
        if (slot.spec.backend, slot.spec.precision) != ("eager", "fp32"):
            slot.warm_out = out  # kept to check the variant against eager fp32
        del out
    slot.rec.particles_padded = slot.seen[-1] if slot.seen else slot.length


def _check_same_jets(spec: GroupSpec, slots: list[Slot]) -> None:
    """Every variant of a group must see the same jets (else no comparison holds)."""
    sources = {json.dumps({k: v for k, v in s.batch.source.items()}, sort_keys=True, default=str)
               for s in slots if s.batch is not None}
    if len(sources) > 1:
        raise BadInputError(f"group {spec.group_path}: its variants do not share inputs "
                            f"({len(sources)} different jet sets)")


def _finish(spec: GroupSpec, slot: Slot, flops_cache: FlopsCache, workdir: str) -> None:
    """Latency figures from the rounds, then FLOPs and subnormals, the output check, memory
    and the profiler pass."""
    _latency(spec, slot)
    sub_out, idx = _flops(spec, slot, flops_cache)
    if slot.warm_out is not None:  # every variant but eager fp32, against eager fp32
        from jetprof.profiling.quality import check_outputs

        out, slot.warm_out = slot.warm_out, None
        check_outputs(slot.spec, slot.rec, out, sub_out, idx, spec.device.split(":")[0],
                      softmaxed=slot.spec.backend in ONNX_BACKENDS)
    _memory_and_profile(spec, slot, workdir)


def _latency(spec: GroupSpec, slot: Slot) -> None:
    """The record's latency, CPU time and throughput figures from the variant's rounds."""
    if not slot.wall:
        raise JetprofError("no timed round completed")
    latency_figures(spec, slot.rec, slot.wall, slot.cpu)


def _flops(spec: GroupSpec, slot: Slot, flops_cache: FlopsCache) -> tuple[ForwardOutput, np.ndarray]:
    """FLOPs per jet and subnormal counts (once per set of identical weights and inputs);
    (eager output on the counted jets, their indices)."""
    from jetprof.model.flops import FLOPS_METHOD

    rec, v = slot.rec, slot.spec
    idx = _flops_subset(slot.the_batch().n_particles,
                        BUCKETED_FLOPS_JETS if v.backend in BUCKETED_BACKENDS else FLOPS_JETS)
    key = (v.model, v.weights, v.checkpoint, v.data_config, v.backend, spec.device)
    if key not in flops_cache.counts:
        flops_cache.counts[key] = _count(slot, idx)
    total, sub_out, flops_len, subnormal = flops_cache.counts[key]
    rec.flops_per_jet, rec.flops_counted_jets, rec.flops_particles = total / len(idx), len(idx), int(flops_len)
    rec.flops_method = FLOPS_METHOD
    rec.achieved_flops_per_s = rec.flops_per_jet * (rec.throughput_jets_per_s or 0.0)
    if (v.backend, v.precision) == ("eager", "fp32"):  # the paper's unit: all slots filled
        padded_key = ("padded", v.model, v.data_config)
        if padded_key not in flops_cache.padded:
            flops_cache.padded[padded_key] = _count_padded(spec, slot)
        rec.flops_per_jet_padded, rec.flops_padded_particles = flops_cache.padded[padded_key]
    rec.subnormal = subnormal
    rec.flush_denormal = bool(spec.flush_denormal)
    return sub_out, idx


def _memory_and_profile(spec: GroupSpec, slot: Slot, workdir: str) -> None:
    """Peak memory the device's way (on CPU eager, the profiler pass in the same run), then the
    profiler pass where it did not run yet."""
    import torch

    from jetprof.profiling import memory

    rec, device = slot.rec, torch.device(spec.device)
    onnx = slot.spec.backend in ONNX_BACKENDS
    profile = spec.profiler_pass and not slot.spec.replica
    profiled = False
    if device.type == "cuda" and not onnx:
        rec.peak_memory_bytes, rec.peak_reserved_bytes = memory.cuda_peak_bytes(slot.runner(), device)
        rec.memory_method = "cuda_max_memory_allocated"
    elif device.type == "mps":
        rec.peak_memory_bytes, rec.peak_reserved_bytes, rec.memory_method = memory.mps_bytes(slot.runner())
    elif device.type == "cpu" and not onnx:
        calls = max(1, spec.profiler_calls) if profile else 1
        prof = memory.profile_cpu(slot.runner(), calls)
        rec.peak_memory_bytes = memory.cpu_peak_bytes_of(prof)
        rec.memory_method = "profiler_memory_events"
        if profile:
            write_ops(rec, spec, slot, device, torch_rows(prof, calls), calls,
                      lambda path: prof.export_chrome_trace(path), workdir, "torch.profiler")
            profiled = True
    else:
        rec.memory_method = "not_measured"
        rec.memory_note = f"{slot.spec.backend} allocates outside torch: not measured"
    if profile and not profiled:
        profiler_pass(rec, spec, slot, device, workdir)


def _count(slot: Slot, idx: np.ndarray) -> FlopsCount:
    """(FLOPs, eager output on the subset, length counted at, subnormal counts)."""
    import torch

    from jetprof.model.flops import count_flops_and_output
    from jetprof.profiling.subnormal import activation_subnormals, weight_subnormals

    cpu_or_dev = slot.tensors
    sub = [x.index_select(0, torch.as_tensor(idx, device=x.device)) for x in cpu_or_dev]
    n_seen = len(slot.seen)
    built, model = slot.built_model()
    with activation_subnormals(model) as acts:
        total, out = count_flops_and_output(model, sub)
    length = slot.seen[-1] if len(slot.seen) > n_seen else slot.rec.particles_padded or slot.length
    counts = Subnormal(**weight_subnormals(model), **acts.counts)
    if slot.spec.backend in BUCKETED_BACKENDS:  # the work the sub-batches do, not the trimmed batch's
        from jetprof.model.inputs import mask_input
        from jetprof.profiling.bucketing import bucketed_flops

        names = built.input_names
        total = bucketed_flops(model, sub, names.index(mask_input(names)),
                               cast("BucketedRunner", slot.forward).min_length)
    return total, out, length, counts


def _count_padded(spec: GroupSpec, slot: Slot) -> tuple[float, int]:
    """(FLOPs per jet, particles) on two synthetic jets that fill every slot of the data
    config: the count the paper's table gives (it pads jets to 128 particles)."""
    import torch

    from jetprof.model import inputs
    from jetprof.model.flops import count_flops

    built, model = slot.built_model()
    dc = built.data_config
    length = int(next(iter(dc.input_shapes.values()))[-1])
    batch = inputs.synthetic_batch(dc, 2, length, spec.seed)
    tensors = [torch.from_numpy(batch.arrays[n]).to(slot.tensors[0].device) for n in built.input_names]
    return count_flops(model, tensors) / 2, length


def _onnx_file(spec: GroupSpec, slot: Slot, tensors: list[torch.Tensor], workdir: str) -> tuple[str, bool]:
    """The ONNX export of the variant's model: (path, exported by this call).

    Variants with the same weights share one export in the call's ``cache_dir``
    (a child killed mid-export leaves no cache entry). The graph has dynamic batch
    and particle axes; every variant checks its outputs against eager on its own jets.
    """
    import torch

    from jetprof.model.export import export_onnx

    # traced on two jets: an export traced on one jet hard-codes a batch of 1 in a reshape
    example = [t[:2] if t.shape[0] >= 2 else torch.cat([t, t]) for t in tensors]
    v = slot.spec
    key = hashlib.sha256(json.dumps([v.model, v.weights, v.checkpoint, spec.seed, v.network_config,
                                     v.data_config]).encode()).hexdigest()[:16]
    cached = Path(spec.cache_dir or workdir) / f"{key}.onnx"
    if cached.is_file():
        return str(cached), False
    tmp = cached.with_name(f".{cached.name}.{os.getpid()}.tmp")
    try:
        export_onnx(slot.built_model()[1], slot.built_model()[0].model_info, example, str(tmp))
        os.replace(tmp, cached)
    finally:
        tmp.unlink(missing_ok=True)
    return str(cached), True


def _flops_subset(n_particles: np.ndarray, jets: int = FLOPS_JETS) -> np.ndarray:
    """Indices of at most ``jets`` jets, the longest among them (the trimmer keeps its length)."""
    n = len(n_particles)
    if n <= jets:
        return np.arange(n)
    idx = np.arange(jets)
    longest = int(np.argmax(n_particles))
    if longest >= jets:
        idx[-1] = longest
    return idx
