"""``onnxruntime_noopt``: ONNX Runtime with its graph optimisations off.

A rung of the CPU deployment ladder below ``onnxruntime``: the same export, fed the
same trimmed batch, in a session at ``ORT_DISABLE_ALL`` (no constant folding, no node
fusions, no layout changes). Measured in one group beside ``onnxruntime``, the two
paired ratios against eager fp32 (same jets, same rounds) say what ONNX Runtime's
graph optimiser buys on this model. int8 runs the dynamically
quantised export unoptimised too. The record's ``onnx.graph_optimization_level`` says
the level (``ORT_ENABLE_ALL`` on the other ONNX Runtime backends).

Its registry entry (:data:`jetprof.registry.BACKENDS`) names :func:`runner`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from jetprof.profiling.backends import OrtRunner, ort_graph
from jetprof.records import PointRecord

if TYPE_CHECKING:  # torch stays imported lazily
    import torch


class NoOptOrtRunner(OrtRunner):
    """An ONNX Runtime session that runs the graph as exported, node by node."""

    graph_optimization = "ORT_DISABLE_ALL"


def runner(backend: str, precision: str, onnx_path: str, device: torch.device, threads: int,
           arrays: dict[str, np.ndarray], trim: bool, cache_dir: str, rec: PointRecord,
           min_length: int = 1) -> NoOptOrtRunner:
    """The runner of an ``onnxruntime_noopt`` variant (the exported backends' factory signature)."""
    made = NoOptOrtRunner(ort_graph(precision, onnx_path, cache_dir, rec), device, threads, arrays, trim,
                          min_length)
    if rec.onnx is not None:
        rec.onnx.graph_optimization_level = made.graph_optimization
    return made
