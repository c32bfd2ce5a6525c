"""int8 variants: dynamic quantisation of eager's Linear layers and of the ONNX export.

Both are *dynamic* quantisation (no calibration data): the weights are stored as int8
once, and each call quantises its activations on the fly (one scale per tensor and
call), multiplies in int8 and dequantises the result. Both run on CPU only.

* ``eager-int8``: ``torch.ao.quantization.quantize_dynamic`` on a copy of the eager
  model, every ``torch.nn.Linear`` except the attention's ``in_proj``: weaver's
  ``Attention.forward`` reads ``self.in_proj.weight`` as a tensor, which a quantised
  Linear does not have (its ``weight`` is a method), so the Q/K/V projection stays
  fp32. The pair embedding (``Conv1d``) and the attention products stay fp32 too.
* ``onnxruntime-int8``: ``onnxruntime.quantization.quantize_dynamic`` of the fp32 ONNX
  export, its ``MatMul``/``Gemm`` nodes with constant weights only, int8 weights with
  one scale per output channel (42 of the graph's 66 MatMuls; the quantiser leaves the
  24 activation-by-activation products of attention fp32). Measured on ParT, 1 thread,
  40 particles: quantising ``Conv`` too (the quantiser's default, as ``ConvInteger``)
  gave 80 ms at batch 32 against 59 ms without it (fp32 ONNX Runtime: 86 ms).
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path
from typing import Any

from jetprof.records import Quantization

#: the options of ONNX Runtime's quantiser used for onnxruntime-int8 (see the module docstring)
ORT_OPTIONS: dict[str, Any] = {
    "op_types_to_quantize": ["MatMul", "Gemm"],
    "per_channel": True,
}
#: Linear layers that must stay fp32 in eager-int8 (read as tensors by weaver's attention)
EAGER_KEEP = ("in_proj",)


def eager_int8(model: Any) -> tuple[Any, Quantization]:
    """A dynamically quantised copy of ``model`` (int8 Linear layers) and what was done."""
    import torch
    from torch.ao.quantization import default_dynamic_qconfig, quantize_dynamic

    t0 = time.perf_counter()
    linears = [(name, mod) for name, mod in model.named_modules() if type(mod) is torch.nn.Linear]
    keep = [name for name, _ in linears if name.rsplit(".", 1)[-1] in EAGER_KEEP]
    spec = {name: default_dynamic_qconfig for name, _ in linears if name not in keep}
    with warnings.catch_warnings():
        # torch 2.13 announces the move of eager quantisation to torchao; the API still works
        warnings.simplefilter("ignore")
        quantized = quantize_dynamic(model, spec, dtype=torch.qint8, inplace=False)
    # the copy shares each SequenceTrimmer's call counter with the original, so warming the
    # copy up warms the fp32 original too (the reference of the output check and the FLOPs)
    originals = {name: mod for name, mod in model.named_modules() if type(mod).__name__ == "SequenceTrimmer"}
    for name, mod in quantized.named_modules():
        if name in originals and "_counter" in mod._buffers:
            mod._buffers["_counter"] = originals[name]._buffers["_counter"]
    return quantized.eval(), Quantization(
        tool=f"torch.ao.quantization.quantize_dynamic (torch {torch.__version__}, "
             f"engine {torch.backends.quantized.engine})",
        weights="qint8, one scale per tensor",
        activations="quint8, scale per tensor computed at each call",
        quantized=[f"torch.nn.Linear x{len(spec)}"],
        kept_fp32=[f"Linear {name}" for name in keep][:3] + (["..."] if len(keep) > 3 else [])
        + ["Conv1d (pair embedding)", "attention products"],
        quantize_s=round(time.perf_counter() - t0, 3),
    )


def onnx_int8(src: str, cache_dir: str) -> tuple[str, bool, Quantization]:
    """The int8 version of the ONNX file ``src``, cached beside it in ``cache_dir``:
    (path, quantised by this call, what was done)."""
    import os

    import onnxruntime
    from onnxruntime.quantization import QuantType, quantize_dynamic

    info = Quantization(
        tool=f"onnxruntime.quantization.quantize_dynamic (onnxruntime {onnxruntime.__version__})",
        weights="int8, one scale per output channel",
        activations="uint8, scale per tensor computed at each call (DynamicQuantizeLinear)",
        quantized=[*list(ORT_OPTIONS["op_types_to_quantize"]), "(constant weights only)"],
        kept_fp32=["Conv (pair embedding)", "attention products", "LayerNormalization", "Softmax"],
    )
    out = Path(cache_dir) / (Path(src).stem + ".int8.onnx")
    if out.is_file():
        info.quantize_s = 0.0
        return str(out), False, info
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp.onnx")
    t0 = time.perf_counter()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            quantize_dynamic(src, str(tmp), weight_type=QuantType.QInt8, **ORT_OPTIONS)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    info.quantize_s = round(time.perf_counter() - t0, 3)
    return str(out), True, info
