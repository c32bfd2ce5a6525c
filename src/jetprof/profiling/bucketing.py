"""Sub-batching by multiplicity: how a ``*_bucketed`` backend cuts a batch of jets.

A batch padded (or trimmed) to its longest jet spends most of its work on padding when
multiplicities vary (real jets: about 10 to 120 particles): ParT's cost per jet grows
about as L² in attention and pair features, L the padded length. A bucketed variant
sorts the batch's jets by particle count, cuts the sorted batch into sub-batches, trims
each to its own longest jet (never below the model's fewest slots, ParticleNet's 17),
runs them one after the other and puts the outputs back in the original order. All of
that is inside the timed call (counting the particles from the mask, the sort, the
plan, the gathers, every sub-batch and the reordering).

The plan (:func:`plan`) is the contiguous cut of the sorted jets that minimises a cost
model of the forwards, found exactly by dynamic programming over the cut points
(O(B²) for B jets; about 0.5 ms in Python at B = 32, against 100+ ms of forwards):

    cost(sub-batch of n jets padded to L) = OVERHEAD_SLOTS + n · (L + L² / QUADRATIC_SCALE)

in units of one particle slot's linear work. The constants come from a fit of
``t(n, L) = a + n (b L + c L²)`` to the CPU time of ParT fp32 forwards on this machine
(1 thread, n ∈ {1, 4, 16, 32}, L ∈ {16, 32, 64, 96}, synthetic jets of exactly L
particles): eager PyTorch a/b ≈ 75, b/c ≈ 73; ONNX Runtime a/b ≈ 23, b/c ≈ 126. The
round middle (50, 100) is used for every backend: on the real batch of 32 the plans the
two fits give differ by under 3 % in either fit's predicted time. With a per-call
overhead the optimum is neither one sub-batch (all padding) nor one jet per call (all
overhead): 5 to 8 sub-batches for a batch of 32 real jets.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from jetprof.records import Bucketing

#: per-sub-batch cost of a forward call, in particle slots of linear work
OVERHEAD_SLOTS = 50.0
#: the length at which a jet's quadratic work (attention, pair features) equals its linear work
QUADRATIC_SCALE = 100.0
RULE = (f"jets sorted by particle count, cut into the sub-batches that minimise "
        f"sum({OVERHEAD_SLOTS:g} + n*(L + L^2/{QUADRATIC_SCALE:g})) (exact, dynamic programming), "
        "each trimmed to its longest jet")


def particle_counts(mask: Any) -> np.ndarray:
    """Real particles per jet from a ``(jets, 1, slots)`` mask (numpy array or tensor)."""
    counts = mask.reshape(mask.shape[0], -1).sum(1)
    if hasattr(counts, "cpu"):
        counts = counts.cpu().numpy()
    return np.asarray(counts).astype(np.int64)


def plan(counts: np.ndarray, min_length: int = 1) -> tuple[np.ndarray, list[tuple[int, int, int]]]:
    """How to cut a batch: (the jets' order by particle count, [(start, stop, length)] of
    each sub-batch in that order), lengths never below ``min_length`` (nor 1).

    The cut minimises the cost model of the module docstring over every contiguous cut
    of the sorted jets (dynamic programming: ``best[j]`` is the cheapest cut of the ``j``
    shortest jets).
    """
    order = np.argsort(counts, kind="stable")
    lengths = np.maximum(np.asarray(counts)[order], max(int(min_length), 1)).astype(np.int64)
    b = len(lengths)
    if b <= 1:
        return order, [(0, b, int(lengths[-1]))] if b else []
    per_jet = lengths + lengths.astype(float) ** 2 / QUADRATIC_SCALE
    best = np.zeros(b + 1)
    cut = np.zeros(b + 1, dtype=np.int64)
    starts = np.arange(b)
    for j in range(1, b + 1):
        cost = best[:j] + OVERHEAD_SLOTS + (j - starts[:j]) * per_jet[j - 1]
        i = int(np.argmin(cost))
        best[j], cut[j] = cost[i], i
    parts = []
    j = b
    while j > 0:
        parts.append((int(cut[j]), j, int(lengths[j - 1])))
        j = int(cut[j])
    return order, parts[::-1]


def inverse(order: np.ndarray) -> np.ndarray:
    """The permutation that puts rows computed in ``order`` back in the original order."""
    inv = np.empty_like(order)
    inv[order] = np.arange(len(order))
    return inv


def describe(counts: np.ndarray, min_length: int = 1) -> Bucketing:
    """The record's ``bucketing`` block for a batch: its sub-batches and padded slots."""
    _, parts = plan(counts, min_length)
    slots = sum((stop - start) * length for start, stop, length in parts)
    longest = max(int(np.max(counts)), int(min_length), 1)
    return Bucketing(rule=RULE, sub_batches=[[stop - start, length] for start, stop, length in parts],
                     slots=int(slots), slots_trimmed=int(len(counts) * longest), min_length=int(min_length))


def bucketed_flops(model: Any, tensors: list[Any], mask_at: int, min_length: int = 1) -> int:
    """FLOPs of ``model`` run the bucketed way on ``tensors`` (padded or trimmed): the sum
    over the plan's sub-batches (see :mod:`jetprof.model.flops`)."""
    import torch

    from jetprof.model.flops import count_flops

    order, parts = plan(particle_counts(tensors[mask_at]), min_length)
    total = 0
    for start, stop, length in parts:
        rows = torch.as_tensor(order[start:stop], device=tensors[0].device)
        total += count_flops(model, [x[rows, :, :length] for x in tensors])
    return total
