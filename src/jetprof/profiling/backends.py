"""How a point calls the model: eager / torch.compile (with autocast) or ONNX Runtime."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from jetprof.errors import JetprofError

AUTOCAST_DTYPES = {"bf16": "bfloat16", "fp16": "float16"}


def synchronize(device: Any) -> None:
    """Wait for the device's queued work (no-op on CPU)."""
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def torch_forward(model: Any, tensors: list[Any], device: Any, precision: str) -> Callable[[], Any]:
    """A no-argument callable running one inference forward (autocast for bf16/fp16)."""
    import torch

    if precision == "fp32":
        def ctx() -> Any:
            return contextlib.nullcontext()
    else:
        dtype = getattr(torch, AUTOCAST_DTYPES[precision])

        def ctx() -> Any:
            return torch.autocast(device_type=device.type, dtype=dtype)

    def forward() -> Any:
        with torch.inference_mode(), ctx():
            return model(*tensors)

    return forward


def check_ort_device(device: Any) -> None:
    """Fail early (before the export) when ONNX Runtime cannot run on ``device``."""
    import onnxruntime as ort

    if device.type == "cuda" and "CUDAExecutionProvider" not in ort.get_available_providers():
        raise JetprofError("CUDA provider not available in this onnxruntime build")
    if device.type not in ("cpu", "cuda"):
        raise JetprofError(f"onnxruntime backend does not run on {device.type}")


class OrtRunner:
    """An ONNX Runtime session fed only the inputs the exported graph kept.

    Note: the exported graph is built with ``for_inference=True``, which turns
    ParT's SequenceTrimmer off, so it always computes on the padded length.
    """

    def __init__(self, onnx_path: str, device: Any, threads: int, arrays: dict[str, np.ndarray]) -> None:
        import onnxruntime as ort

        self.ort = ort
        self.path = onnx_path
        self.threads = threads
        if device.type == "cuda":
            if "CUDAExecutionProvider" not in ort.get_available_providers():
                raise JetprofError("CUDA provider not available in this onnxruntime build")
            self.providers: list[Any] = [("CUDAExecutionProvider", {"device_id": device.index or 0})]
        elif device.type == "cpu":
            self.providers = ["CPUExecutionProvider"]
        else:
            raise JetprofError(f"onnxruntime backend does not run on {device.type}")
        self.session = self._session()
        self.feed = {i.name: arrays[i.name] for i in self.session.get_inputs()}

    def _session(self, profile_prefix: str | None = None) -> Any:
        opts = self.ort.SessionOptions()
        opts.intra_op_num_threads = self.threads
        opts.inter_op_num_threads = 1
        opts.execution_mode = self.ort.ExecutionMode.ORT_SEQUENTIAL
        if profile_prefix:
            opts.enable_profiling = True
            opts.profile_file_prefix = profile_prefix
        return self.ort.InferenceSession(self.path, sess_options=opts, providers=self.providers)

    def __call__(self) -> Any:
        return self.session.run(None, self.feed)

    def profile(self, calls: int, workdir: str) -> tuple[list[dict[str, Any]], str]:
        """Run ``calls`` forwards under ORT's own profiler; (per-op rows, trace JSON path)."""
        sess = self._session(os.path.join(workdir, "ort_profile"))
        sess.run(None, self.feed)  # warm
        for _ in range(calls):
            sess.run(None, self.feed)
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
        rows = [
            {"name": op, "calls": r["calls"] / n, "self_cpu_ms": r["self_cpu_us"] / 1e3 / n,
             "cpu_total_ms": r["self_cpu_us"] / 1e3 / n, "self_device_ms": 0.0, "device_total_ms": 0.0}
            for op, r in per_op.items()
        ]
        return rows, trace


def make_temp_dir(prefix: str) -> tempfile.TemporaryDirectory:
    return tempfile.TemporaryDirectory(prefix=prefix)
