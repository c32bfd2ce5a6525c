"""How a point calls the model: eager / torch.compile (with autocast, or int8), ONNX
Runtime or OpenVINO, whole or sub-batched by multiplicity (``eager_bucketed``,
``onnxruntime_bucketed``: :mod:`jetprof.profiling.bucketing`), and how far each may
differ from eager fp32. Which factory makes a backend's runner, where it runs and the
packages it needs are its entry in :data:`jetprof.registry.BACKENDS`; a backend with
a module of its own (its factory named there) needs no branch here.

Every runner is a no-argument callable (one forward on the point's batch: what is
timed) with a ``predict(arrays)`` method giving the softmax outputs on any other batch
(what the quality score uses, after the timed rounds): ``predict`` is given the padded
batch and its real particle counts, and trims it as the timed batch was (the torch
module's SequenceTrimmer trims anyway; ONNX Runtime and OpenVINO are fed the batch cut
to its longest jet, except ``onnxruntime_padded``; the bucketed runners cut and trim
the padded batch themselves, in the timed call and in ``predict``). No trimming cuts below the model's
minimum particle count (:func:`jetprof.model.inputs.min_particles`: 17 for ParticleNet).
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias, TypedDict

import numpy as np

from jetprof import registry
from jetprof.contract import BUCKETED_BACKENDS
from jetprof.errors import JetprofError
from jetprof.records import Bucketing, PointRecord, Scalar

if TYPE_CHECKING:  # torch and onnxruntime stay imported lazily, where they run
    import onnxruntime as ort
    import torch

#: one forward's output: a torch module's (a tensor, or a tuple or list led by it) or an
#: exported graph's (its list of output arrays)
ForwardOutput: TypeAlias = "torch.Tensor | Sequence[torch.Tensor] | Sequence[np.ndarray]"
#: an OpenVINO object (core, compiled model, request, result): openvino ships no type hints
OpenVinoObject = Any


class OpRow(TypedDict):
    """One op of the per-op table (a row of :data:`jetprof.profiling.ops.OPS_COLUMNS`): per timed call."""

    name: str
    calls: float
    self_cpu_ms: float
    cpu_total_ms: float
    self_device_ms: float
    device_total_ms: float


class Runner(Protocol):
    """What a backend's factory makes: one timed forward on the point's batch when called,
    and the softmax outputs on another batch (padded, with its real particle counts)."""

    def __call__(self) -> ForwardOutput: ...

    def predict(self, arrays: dict[str, np.ndarray], n_particles: np.ndarray) -> np.ndarray: ...


class BucketedRunner(Protocol):
    """What a bucketed backend's runner adds (BucketedTorchRunner, BucketedOrtRunner)."""

    min_length: int

    def bucketing(self) -> Bucketing: ...


#: the factory of an exported backend's runner, as the registry names it (``module:function``):
#: (backend, precision, onnx_path, device, threads, arrays, trim, cache_dir, record, min_length)
RunnerFactory: TypeAlias = Callable[
    [str, str, str, "torch.device", int, dict[str, np.ndarray], bool, str, PointRecord, int], Runner]

#: the torch dtype each autocast precision runs under (from the registry)
AUTOCAST_DTYPES = {p.name: p.autocast for p in registry.PRECISION_LIST if p.autocast}

#: the largest |Δ softmax| from eager fp32 (same weights, same jets) a variant may show, by
#: (backend or "*", precision, device kind); above it the point is an ``error``, never a
#: number. A bound catches a broken variant (wrong inputs, a failed export or quantisation:
#: differences of order 0.5), not rounding; what rounding costs in accuracy is the
#: ``quality`` block. Measured here (trained ParT, 600 test jets, batches of 1 and 32, CPU,
#: max over jets and classes): onnxruntime fp32 2.2e-5, openvino fp32 3.4e-6, eager bf16
#: 0.019, onnxruntime int8 0.036, eager int8 0.073 (top-1 agreement ≥ 0.985, |ΔAUC| ≤ 5e-4).
#: Sub-batched variants compute the same jets in other batches (500 test jets, batches of 1
#: and 32): eager_bucketed fp32 5.1e-7, onnxruntime_bucketed fp32 7.1e-5, eager_bucketed bf16
#: 0.013 and int8 0.037, onnxruntime_bucketed int8 0.025: the same bounds hold.
#: The tagger zoo (config/zoo.yaml: nine trained models, 500 test jets, batches of 1 and
#: 32) showed fp32 exports differing by more: onnxruntime fp32 2.0e-4 for ParT on the kin and
#: kinpid features, 4.1e-4 to 2.0e-3 for ParticleNet at batch 1 (jets of fewer than k + 1
#: particles: ties among the padded points of its k-nearest-neighbour search), with ΔAUC
#: below 5e-6: rounding, not a broken export.
#: fp32: 1e-2 (5x that largest; a broken variant differs by ~0.5); CUDA/MPS matmuls may run
#: in TF32 (10-bit mantissa): 1e-2; bf16 0.1 (5x its maximum); int8 0.25 (3.4x eager
#: int8's); fp16 (GPU only, not measured here; 2 more mantissa bits than bf16) 0.05.
TOLERANCES: dict[tuple[str, str, str], float] = {
    ("*", "fp32", "cpu"): 1e-2,
    ("*", "fp32", "cuda"): 1e-2,
    ("*", "fp32", "mps"): 1e-2,
    ("*", "bf16", "*"): 0.1,
    ("*", "fp16", "*"): 0.05,
    ("*", "int8", "cpu"): 0.25,
}


def tolerance(backend: str, precision: str, device_kind: str) -> float | None:
    """The stated bound on max |Δ softmax| from eager fp32; None for eager fp32 itself."""
    if backend == "eager" and precision == "fp32":
        return None
    for key in ((backend, precision, device_kind), ("*", precision, device_kind), ("*", precision, "*")):
        if key in TOLERANCES:
            return TOLERANCES[key]
    raise JetprofError(f"{backend}-{precision} on {device_kind}: no stated tolerance against eager fp32")


def missing_package(backend: str, precision: str) -> str | None:
    """Why ``backend``-``precision`` cannot run in this environment (a package is missing),
    without importing anything heavy; None if it can."""
    import importlib.util

    for package in registry.packages_for(backend, precision):
        try:
            found = importlib.util.find_spec(package.module) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            return f"{backend}-{precision}: the {package.module} package is not installed ({package.install})"
    return None


def require(module: str, backend: str) -> ModuleType:
    """Import an optional backend's package; JetprofError saying how to install it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        entry = registry.BACKENDS.get(backend)
        known = {p.module: p.install for p in entry.packages} if entry else {}
        how = known.get(module, f"pip install {module}")
        raise JetprofError(f"{backend}: the {module} package is not installed ({how})") from None


def probabilities(out: ForwardOutput | np.ndarray, softmaxed: bool) -> np.ndarray:
    """A forward's output as a float64 array of probabilities (jets × classes)."""
    first = out[0] if isinstance(out, (list, tuple)) else out
    if hasattr(first, "detach"):  # a torch tensor (torch is not imported here to ask isinstance)
        first = first.detach().float().cpu().numpy()
    x = np.asarray(first, dtype=np.float64)
    if not softmaxed:
        x = np.exp(x - x.max(axis=1, keepdims=True))
        x /= x.sum(axis=1, keepdims=True)
    return x


def synchronize(device: torch.device) -> None:
    """Wait for the device's queued work (no-op on CPU)."""
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def autocast(torch: ModuleType, device_type: str, dtype: torch.dtype) -> torch.autocast:
    """``torch.autocast``, but an error where torch would only warn and run in fp32.

    torch answers a dtype a device cannot autocast to with the warning "... Disabling
    autocast" and runs the forward in fp32: the point would be labelled bf16 and measure
    fp32. Here that is a RuntimeError (the point's record: ``error``).
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*[Dd]isabling autocast")
        try:
            return torch.autocast(device_type=device_type, dtype=dtype)
        except UserWarning as exc:
            raise RuntimeError(f"autocast {dtype} on {device_type}: {exc}") from None


class TorchRunner:
    """One inference forward of a torch module (eager, compiled or quantised) on the
    point's tensors, under autocast for bf16/fp16; ``softmaxed``: the module's output is
    already a softmax (built ``for_inference``), else logits."""

    def __init__(self, model: torch.nn.Module, tensors: list[torch.Tensor], device: torch.device,
                 precision: str, softmaxed: bool = False, names: list[str] | None = None) -> None:
        import torch

        from jetprof.model.inputs import min_particles

        self.model, self.tensors, self.device, self.softmaxed = model, tensors, device, softmaxed
        self.names = names
        self.min_length = min_particles(model)
        self.torch = torch
        self.dtype: torch.dtype | None = (getattr(torch, AUTOCAST_DTYPES[precision])
                                          if precision in AUTOCAST_DTYPES else None)

    def _ctx(self) -> contextlib.AbstractContextManager[None]:
        if self.dtype is None:
            return contextlib.nullcontext()
        return autocast(self.torch, self.device.type, self.dtype)

    def __call__(self) -> torch.Tensor:
        with self.torch.inference_mode(), self._ctx():
            out: torch.Tensor = self.model(*self.tensors)
            return out

    def predict(self, arrays: dict[str, np.ndarray], n_particles: np.ndarray) -> np.ndarray:
        """Softmax outputs on another batch (cut to its longest jet, as the trimmer does)."""
        if self.names is None:
            raise JetprofError("TorchRunner.predict needs the input names")
        arrays = _trimmed(arrays, n_particles, True, self.min_length)
        xs = [self.torch.from_numpy(arrays[n]).to(self.device) for n in self.names]
        with self.torch.inference_mode(), self._ctx():
            out = self.model(*xs)
        return probabilities(out, self.softmaxed)


def torch_forward(model: torch.nn.Module, tensors: list[torch.Tensor], device: torch.device, precision: str,
                  softmaxed: bool = False, names: list[str] | None = None) -> TorchRunner:
    """A no-argument callable running one inference forward (autocast for bf16/fp16)."""
    return TorchRunner(model, tensors, device, precision, softmaxed, names)


def _trimmed(arrays: dict[str, np.ndarray], n_particles: np.ndarray, trim: bool,
             min_length: int = 1) -> dict[str, np.ndarray]:
    from jetprof.model.inputs import trim_to_longest

    return trim_to_longest(arrays, n_particles, min_length) if trim else arrays


def check_ort_device(device: torch.device) -> None:
    """Fail early (before the export) when this onnxruntime build lacks ``device``'s provider
    (where ONNX Runtime runs at all is the registry's rule: :func:`check_exported_device`)."""
    import onnxruntime as ort

    if device.type == "cuda" and "CUDAExecutionProvider" not in ort.get_available_providers():
        raise JetprofError("CUDA provider not available in this onnxruntime build")


def check_exported_device(backend: str, device: torch.device) -> None:
    """Fail early (before the export) when the backend cannot run on ``device`` or its
    package is missing (the registry's device kinds and packages)."""
    entry = registry.BACKENDS[backend]
    if device.type not in entry.devices:
        raise JetprofError(f"{backend} backend does not run on {device.type} ({'/'.join(entry.devices)} only)")
    for package in entry.packages:
        require(package.module, backend)
    if any(p.module == "onnxruntime" for p in entry.packages):
        check_ort_device(device)


def _refuse_pair(backend: str, precision: str, device: torch.device) -> None:
    """JetprofError where the registry's capability rule says the pair cannot run here."""
    problem = registry.pair_problem(backend, precision, device.type)
    if problem:
        raise JetprofError(problem)


def runner_factory(backend: str) -> RunnerFactory:
    """The factory the registry names for ``backend`` (``"module:function"``), imported now."""
    import importlib

    module, _, name = registry.BACKENDS[backend].runner.partition(":")
    factory: RunnerFactory = getattr(importlib.import_module(module), name)
    return factory


def torch_runner(model: torch.nn.Module, backend: str, precision: str, tensors: list[torch.Tensor],
                 device: torch.device,
                 names: list[str], rec: PointRecord) -> TorchRunner:
    """The runner of an eager or compile variant: int8 runs a quantised copy of ``model``
    (``model`` stays the fp32 reference), compile wraps it in ``torch.compile``."""
    import torch

    _refuse_pair(backend, precision, device)
    run_model = model
    if precision == "int8":
        from jetprof.profiling.quantize import eager_int8

        run_model, rec.quantization = eager_int8(model)
    if backend == "compile":
        run_model = torch.compile(run_model)  # type: ignore[assignment]  # compile's stub returns a callable, not the Module it wraps
    if backend in BUCKETED_BACKENDS:
        return BucketedTorchRunner(run_model, tensors, device, precision, names=names)
    return torch_forward(run_model, tensors, device, precision, names=names)


def exported_runner(backend: str, precision: str, onnx_path: str, device: torch.device, threads: int,
                    arrays: dict[str, np.ndarray], trim: bool, cache_dir: str, rec: PointRecord,
                    min_length: int = 1) -> Runner:
    """The runner of a variant of the ONNX export, made by the factory the registry names
    for ``backend`` (same arguments); ``min_length``: the model's fewest particle slots."""
    _refuse_pair(backend, precision, device)
    factory = runner_factory(backend)
    return factory(backend, precision, onnx_path, device, threads, arrays, trim, cache_dir, rec, min_length)


def openvino_runner(backend: str, precision: str, onnx_path: str, device: torch.device, threads: int,
                    arrays: dict[str, np.ndarray], trim: bool, cache_dir: str, rec: PointRecord,
                    min_length: int = 1) -> OvRunner:
    """``openvino``: OpenVINO's CPU plugin on the fp32 export."""
    runner = OvRunner(onnx_path, device, threads, arrays, trim, min_length)
    rec.openvino = runner.settings
    return runner


def ort_graph(precision: str, onnx_path: str, cache_dir: str, rec: PointRecord) -> str:
    """The graph an ONNX Runtime variant runs: the export, or (int8) its dynamically
    quantised copy (cached in ``cache_dir``; the record says which point made it)."""
    if precision != "int8":
        return onnx_path
    from jetprof.profiling.quantize import onnx_int8

    onnx_path, quantized, rec.quantization = onnx_int8(onnx_path, cache_dir)
    if rec.onnx is not None:
        rec.onnx.quantized_by_this_point = quantized
    return onnx_path


def ort_runner(backend: str, precision: str, onnx_path: str, device: torch.device, threads: int,
               arrays: dict[str, np.ndarray], trim: bool, cache_dir: str, rec: PointRecord,
               min_length: int = 1) -> OrtRunner:
    """``onnxruntime``, ``onnxruntime_padded``, ``onnxruntime_bucketed``: ONNX Runtime with
    its graph optimisations on (fp32 or the dynamically quantised int8 graph)."""
    graph = ort_graph(precision, onnx_path, cache_dir, rec)
    runner_cls: type[OrtRunner] = BucketedOrtRunner if backend in BUCKETED_BACKENDS else OrtRunner
    runner = runner_cls(graph, device, threads, arrays, trim, min_length)
    if rec.onnx is not None:
        rec.onnx.graph_optimization_level = runner.graph_optimization
    return runner


class OrtRunner:
    """An ONNX Runtime session fed only the inputs the exported graph kept.

    Note: the exported graph is built with ``for_inference=True``, which turns
    ParT's SequenceTrimmer off, so it always computes on the padded length.
    """

    tool = "onnxruntime"
    #: ``onnxruntime.GraphOptimizationLevel`` the session runs at (ORT's own default)
    graph_optimization = "ORT_ENABLE_ALL"

    def __init__(self, onnx_path: str, device: torch.device, threads: int, arrays: dict[str, np.ndarray],
                 trim: bool = False, min_length: int = 1) -> None:
        import onnxruntime as ort

        self.ort = ort
        self.trim, self.min_length = trim, min_length
        self.path = onnx_path
        self.threads = threads
        if device.type == "cuda":
            if "CUDAExecutionProvider" not in ort.get_available_providers():
                raise JetprofError("CUDA provider not available in this onnxruntime build")
            self.providers: list[str | tuple[str, dict[str, int]]] = [
                ("CUDAExecutionProvider", {"device_id": device.index or 0})]
        elif device.type == "cpu":
            self.providers = ["CPUExecutionProvider"]
        else:
            raise JetprofError(f"onnxruntime backend does not run on {device.type}")
        self.session = self._session()
        self.feed = {i.name: arrays[i.name] for i in self.session.get_inputs()}

    def predict(self, arrays: dict[str, np.ndarray], n_particles: np.ndarray) -> np.ndarray:
        """Softmax outputs on another batch (the exported graph ends in a softmax)."""
        arrays = _trimmed(arrays, n_particles, self.trim, self.min_length)
        return probabilities(self.session.run(None, {k: arrays[k] for k in self.feed}), True)

    def _session(self, profile_prefix: str | None = None) -> ort.InferenceSession:
        opts = self.ort.SessionOptions()
        opts.intra_op_num_threads = self.threads
        opts.inter_op_num_threads = 1
        opts.execution_mode = self.ort.ExecutionMode.ORT_SEQUENTIAL
        opts.graph_optimization_level = getattr(self.ort.GraphOptimizationLevel, self.graph_optimization)
        if profile_prefix:
            opts.enable_profiling = True
            opts.profile_file_prefix = profile_prefix
        return self.ort.InferenceSession(self.path, sess_options=opts, providers=self.providers)

    def __call__(self) -> list[np.ndarray]:
        out: list[np.ndarray] = self.session.run(None, self.feed)
        return out

    def _run_with(self, session: ort.InferenceSession) -> list[np.ndarray]:
        """One timed call's forwards, with another session (the profiler's)."""
        out: list[np.ndarray] = session.run(None, self.feed)
        return out

    def profile(self, calls: int, workdir: str) -> tuple[list[OpRow], str]:
        """Run ``calls`` forwards under ORT's own profiler; (per-op rows, trace JSON path)."""
        sess = self._session(os.path.join(workdir, "ort_profile"))
        self._run_with(sess)  # warm
        for _ in range(calls):
            self._run_with(sess)
        trace = sess.end_profiling()
        events = json.loads(Path(trace).read_text())
        per_op: dict[str, dict[str, float]] = {}
        for ev in events:
            if ev.get("cat") != "Node" or not str(ev.get("name", "")).endswith("_kernel_time"):
                continue
            op = ev.get("args", {}).get("op_name", ev["name"])
            row = per_op.setdefault(op, {"self_cpu_us": 0.0, "calls": 0})
            row["self_cpu_us"] += float(ev.get("dur", 0))
            row["calls"] += 1
        n = calls + 1
        rows: list[OpRow] = [
            {"name": op, "calls": r["calls"] / n, "self_cpu_ms": r["self_cpu_us"] / 1e3 / n,
             "cpu_total_ms": r["self_cpu_us"] / 1e3 / n, "self_device_ms": 0.0, "device_total_ms": 0.0}
            for op, r in per_op.items()
        ]
        return rows, trace


class BucketedTorchRunner(TorchRunner):
    """``eager_bucketed``: the torch module run sub-batch by sub-batch, jets grouped by
    particle count (:mod:`jetprof.profiling.bucketing`); the timed call is given the
    padded batch and does all of it (counts, sort, plan, gathers, forwards, reordering)."""

    def __init__(self, model: torch.nn.Module, tensors: list[torch.Tensor], device: torch.device,
                 precision: str, softmaxed: bool = False, names: list[str] | None = None) -> None:
        from jetprof.model.inputs import mask_input

        super().__init__(model, tensors, device, precision, softmaxed, names)
        if names is None:
            raise JetprofError("eager_bucketed needs the input names")
        self.mask_at = names.index(mask_input(names))

    def _forward(self, xs: list[torch.Tensor]) -> torch.Tensor:
        from jetprof.profiling.bucketing import inverse, particle_counts, plan

        torch = self.torch
        order, parts = plan(particle_counts(xs[self.mask_at]), self.min_length)
        outs = []
        for start, stop, length in parts:
            rows = torch.as_tensor(order[start:stop], device=xs[0].device)
            outs.append(self.model(*[x[rows, :, :length] for x in xs]))
        out = torch.cat(outs) if len(outs) > 1 else outs[0]
        return out[torch.as_tensor(inverse(order), device=out.device)]

    def __call__(self) -> torch.Tensor:
        with self.torch.inference_mode(), self._ctx():
            return self._forward(self.tensors)

    def predict(self, arrays: dict[str, np.ndarray], n_particles: np.ndarray) -> np.ndarray:
        """Softmax outputs on another (padded) batch, bucketed as the timed call is."""
        xs = [self.torch.from_numpy(arrays[n]).to(self.device) for n in self.names or []]
        with self.torch.inference_mode(), self._ctx():
            return probabilities(self._forward(xs), self.softmaxed)

    def bucketing(self) -> Bucketing:
        from jetprof.profiling.bucketing import describe, particle_counts

        return describe(particle_counts(self.tensors[self.mask_at]), self.min_length)


class BucketedOrtRunner(OrtRunner):
    """``onnxruntime_bucketed``: the exported graph run sub-batch by sub-batch, jets
    grouped by particle count (:mod:`jetprof.profiling.bucketing`); ``arrays`` is the
    padded batch, which the timed call counts, sorts, cuts, trims and reorders itself
    (``trim`` is ignored: every sub-batch is trimmed to its own longest jet)."""

    def __init__(self, onnx_path: str, device: torch.device, threads: int, arrays: dict[str, np.ndarray],
                 trim: bool = True, min_length: int = 1) -> None:
        from jetprof.model.inputs import mask_input

        super().__init__(onnx_path, device, threads, arrays, False, min_length)
        self.arrays, self.mask = arrays, mask_input(list(arrays))

    def _bucketed(self, session: ort.InferenceSession, arrays: dict[str, np.ndarray]) -> list[np.ndarray]:
        from jetprof.profiling.bucketing import inverse, particle_counts, plan

        order, parts = plan(particle_counts(arrays[self.mask]), self.min_length)
        outs: list[np.ndarray] = []
        for start, stop, length in parts:
            rows = order[start:stop]
            feed = {k: np.ascontiguousarray(arrays[k][rows, :, :length]) for k in self.feed}
            outs.append(session.run(None, feed)[0])
        out = np.concatenate(outs) if len(outs) > 1 else outs[0]
        return [out[inverse(order)]]

    def __call__(self) -> list[np.ndarray]:
        return self._bucketed(self.session, self.arrays)

    def _run_with(self, session: ort.InferenceSession) -> list[np.ndarray]:
        return self._bucketed(session, self.arrays)

    def predict(self, arrays: dict[str, np.ndarray], n_particles: np.ndarray) -> np.ndarray:
        return probabilities(self._bucketed(self.session, arrays), True)

    def bucketing(self) -> Bucketing:
        from jetprof.profiling.bucketing import describe, particle_counts

        return describe(particle_counts(self.arrays[self.mask]), self.min_length)


class OvRunner:
    """OpenVINO's CPU plugin running the ONNX export, fed only the inputs the graph kept.

    fp32 inference is asked for explicitly (``INFERENCE_PRECISION_HINT f32``): on a CPU
    with bf16 instructions (AVX512-BF16, AMX) the plugin would otherwise compute in bf16.
    One stream, ``threads`` threads, no CPU pinning (as torch and ONNX Runtime here).
    """

    tool = "openvino"

    def __init__(self, onnx_path: str, device: torch.device, threads: int, arrays: dict[str, np.ndarray],
                 trim: bool = True, min_length: int = 1) -> None:
        self.trim, self.min_length = trim, min_length  # cpu only: the registry's rule, checked before
        ov = require("openvino", "openvino")
        self.version = ov.get_version()
        self.path, self.threads = onnx_path, threads
        self.config: dict[str, Scalar] = {"INFERENCE_NUM_THREADS": threads, "INFERENCE_PRECISION_HINT": "f32",
                       "PERFORMANCE_HINT": "LATENCY", "NUM_STREAMS": 1, "ENABLE_CPU_PINNING": False}
        self.core: OpenVinoObject = ov.Core()
        self.compiled: OpenVinoObject = self.core.compile_model(self.core.read_model(onnx_path), "CPU", self.config)
        self.request: OpenVinoObject = self.compiled.create_infer_request()
        self.names = [i.get_any_name() for i in self.compiled.inputs]
        self.output = self.compiled.outputs[0]
        self.feed = {n: arrays[n] for n in self.names}

    @property
    def settings(self) -> dict[str, Scalar]:
        return {"version": self.version, "device": "CPU", **{k: v for k, v in self.config.items()}}

    def __call__(self) -> list[np.ndarray]:
        return [self.request.infer(self.feed, share_inputs=True)[self.output]]

    def predict(self, arrays: dict[str, np.ndarray], n_particles: np.ndarray) -> np.ndarray:
        arrays = _trimmed(arrays, n_particles, self.trim, self.min_length)
        request = self.compiled.create_infer_request()
        return probabilities(request.infer({n: arrays[n] for n in self.names})[self.output], True)

    def profile(self, calls: int, workdir: str) -> tuple[list[OpRow], str]:
        """``calls`` forwards with the plugin's per-node counters; (per-op rows, trace JSON path)."""
        compiled = self.core.compile_model(self.core.read_model(self.path), "CPU",
                                           {**self.config, "PERF_COUNT": True})
        request = compiled.create_infer_request()
        request.infer(self.feed)  # warm
        per_op: dict[str, dict[str, float]] = {}
        events: list[dict[str, object]] = []
        ts = 0.0
        for _ in range(calls):
            request.infer(self.feed)
            for info in request.profiling_info:
                us = info.real_time.total_seconds() * 1e6
                if str(info.status).endswith("NOT_RUN"):
                    continue
                row = per_op.setdefault(info.node_type, {"us": 0.0, "cpu_us": 0.0, "calls": 0})
                row["us"] += us
                row["cpu_us"] += info.cpu_time.total_seconds() * 1e6
                row["calls"] += 1
                events.append({"name": info.node_type, "cat": "Node", "ph": "X", "ts": ts, "dur": us,
                               "pid": 0, "tid": 0, "args": {"node": info.node_name, "exec_type": info.exec_type}})
                ts += us
        trace = os.path.join(workdir, "openvino_profile.json")
        Path(trace).write_text(json.dumps({"traceEvents": events}))
        rows: list[OpRow] = [
            {"name": op, "calls": r["calls"] / calls, "self_cpu_ms": r["us"] / 1e3 / calls,
             "cpu_total_ms": r["us"] / 1e3 / calls, "self_device_ms": 0.0, "device_total_ms": 0.0}
            for op, r in per_op.items()
        ]
        return rows, trace


def make_temp_dir(prefix: str) -> tempfile.TemporaryDirectory[str]:
    return tempfile.TemporaryDirectory(prefix=prefix)
