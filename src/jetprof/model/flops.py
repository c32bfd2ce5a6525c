"""Floating-point operations of one forward pass, counted with FlopCounterMode.

What is counted (``flops_method = "torch_flop_counter+cpu_sdpa"``): the matrix
products that torch's ``FlopCounterMode`` knows (``mm``, ``addmm``, ``bmm``,
``baddbmm``, convolutions — ParT's 1×1 ``Conv1d`` pair embedding among them —
and the fused attention kernels), 2 FLOPs per multiply-add, plus a formula we
add for the CPU attention kernel ``aten._scaled_dot_product_flash_attention_for_cpu``
(``Q·Kᵀ`` and ``P·V``: 2·B·H·L·S·(E + Ev)), which stock torch leaves out.
``nn.MultiheadAttention``'s inference fast path is switched off while counting
so its matrix products go through ops that the counter sees.

What is not counted: LayerNorm, GELU, softmax, the pair-feature arithmetic
(logs, ΔR, masks), additions, gathers and ``nonzero`` — elementwise and
bookkeeping work, a few per cent of the total. Counting runs in fp32 on the
point's own batch after the SequenceTrimmer's warm-up, so it sees the same
(possibly trimmed) sequence length as the timed forwards; the count does not
depend on the precision. For ParT_full at 128 particles this gives
669.5 MFLOP per jet, against 2 × 341.56 MMac = 683.1 MFLOP from weaver's log.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

FLOPS_METHOD = "torch_flop_counter+cpu_sdpa"


def _cpu_sdpa_flops(query_shape: Sequence[int], key_shape: Sequence[int], value_shape: Sequence[int],
                    *args: object, out_shape: object = None, **kwargs: object) -> int:
    """2·B·H·L·S·E for Q·Kᵀ plus 2·B·H·L·S·Ev for P·V (shapes are (B, H, L|S, E))."""
    b, h, lq, e = query_shape
    s = key_shape[-2]
    ev = value_shape[-1]
    return 2 * b * h * lq * s * e + 2 * b * h * lq * s * ev


def custom_flops() -> dict[object, Callable[..., int]]:
    """The attention kernels stock torch's FlopCounterMode leaves out, with their formula.

    CPU's flash kernel, and MPS's math kernel (query, key and value come first in both):
    without it an MPS point would count no attention at all.
    """
    import torch

    custom: dict[object, Callable[..., int]] = {
        torch.ops.aten._scaled_dot_product_flash_attention_for_cpu: _cpu_sdpa_flops
    }
    mps_sdpa = getattr(torch.ops.aten, "_scaled_dot_product_attention_math_for_mps", None)
    if mps_sdpa is not None:
        custom[mps_sdpa] = _cpu_sdpa_flops
    return custom


def count_flops(model: torch.nn.Module, inputs: Sequence[torch.Tensor]) -> int:
    """Total FLOPs of ``model(*inputs)`` (one forward, fp32, no autocast)."""
    return count_flops_and_output(model, inputs)[0]


def count_flops_and_output(model: torch.nn.Module, inputs: Sequence[torch.Tensor]) -> tuple[int, Any]:
    """(total FLOPs, output) of one fp32 forward ``model(*inputs)`` (the output as the model gives it)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    custom = custom_flops()
    was_fastpath = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)
    try:
        model.requires_grad_(False)
        counter = FlopCounterMode(display=False, custom_mapping=custom)
        with torch.inference_mode(), counter:
            out = model(*inputs)
        return int(counter.get_total_flops()), out
    finally:
        torch.backends.mha.set_fastpath_enabled(was_fastpath)
