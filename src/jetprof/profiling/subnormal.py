"""Subnormal (denormal) floating-point values in a model's weights and activations.

Weight values do not change a dense forward's operator count, but they can change
its speed: on x86 CPUs arithmetic on subnormal float32 values (0 < |x| < 1.18e-38)
takes a slow microcode path, many times slower per operation. They can come from a
checkpoint (heavy weight decay, pruning towards zero, a badly dequantised file) or
arise in activations (e.g. GELU of a large negative input). ``torch.set_flush_denormal``
(``profile.flush_denormal``) makes the CPU treat them as zero.

The counts go into each record (``subnormal``): the weights' count per checkpoint
and the count in the floating-point outputs of every leaf module during one forward.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch


def _count(t: object) -> tuple[int, int]:
    import torch

    if not isinstance(t, torch.Tensor) or not t.is_floating_point() or t.numel() == 0:
        return 0, 0
    tiny = torch.finfo(t.dtype).tiny
    a = t.detach().abs()
    return int(((a > 0) & (a < tiny)).sum().item()), int(t.numel())


def weight_subnormals(model: torch.nn.Module) -> dict[str, int]:
    """``{"weights": subnormal values, "weight_values": all values}`` over the state dict."""
    sub = total = 0
    for value in model.state_dict().values():
        s, n = _count(value)
        sub, total = sub + s, total + n
    return {"weights": sub, "weight_values": total}


@dataclass
class ActivationCounts:
    counts: dict[str, int] = field(default_factory=lambda: {"activations": 0, "activation_values": 0})


@contextmanager
def activation_subnormals(model: torch.nn.Module) -> Iterator[ActivationCounts]:
    """Count subnormal values in every leaf module's floating-point outputs meanwhile."""
    result = ActivationCounts()

    def hook(_module: torch.nn.Module, _inputs: tuple[object, ...], output: object) -> None:
        outs = output if isinstance(output, (tuple, list)) else (output,)
        for o in outs:
            s, n = _count(o)
            result.counts["activations"] += s
            result.counts["activation_values"] += n

    handles = [m.register_forward_hook(hook) for m in model.modules() if not list(m.children())]
    try:
        yield result
    finally:
        for h in handles:
            h.remove()
