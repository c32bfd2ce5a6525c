"""Peak memory of one forward pass, per device kind.

* CUDA (``cuda_max_memory_allocated``): after warm-up the peak statistics are
  reset; ``peak_memory_bytes`` = ``max_memory_allocated()`` during one forward
  minus ``memory_allocated()`` just before it (weights, inputs and the cuBLAS
  workspace excluded: what the forward itself needs on top);
  ``peak_reserved_bytes`` = ``max_memory_reserved()`` (what the caching
  allocator held from the driver, everything included).
* CPU (``profiler_memory_events``): torch keeps no CPU allocator statistics, so
  one warm forward runs under ``torch.profiler`` with ``profile_memory=True``;
  its allocation/free events (sizes, in time order) are summed and the maximum
  of the running sum is the peak: the bytes the forward held at its busiest
  moment on top of what existed before it (weights and inputs excluded,
  the output included). It does not see memory that libraries allocate outside
  torch's allocator (oneDNN scratch, ONNX Runtime arenas) nor allocator slack,
  so it is below the RSS growth of a fresh process.
* MPS: ``torch.mps`` has no peak API. Where this torch's MPS allocator reports peak
  statistics through ``torch.accelerator`` (``mps_max_memory_allocated``) the figure is
  built as on CUDA: peak allocated during one forward minus allocated before it. Elsewhere
  (``mps_driver_growth``) the cache is emptied, and the figure is the growth of
  ``driver_allocated_memory()`` over one forward: the Metal heaps the forward made the
  driver hand out, an upper bound on its peak at heap granularity (it includes MPSGraph's
  own buffers). ``peak_reserved_bytes`` is ``driver_allocated_memory()`` after it. Records
  made before that carry ``mps_current_allocated`` (allocated after the forward minus before:
  under inference mode roughly the output alone, not a peak).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, cast

if TYPE_CHECKING:
    import torch
    from torch._C._profiler import _ExtraFields_Allocation, _ProfilerEvent


def _walk(nodes: Iterable[_ProfilerEvent]) -> Iterator[_ProfilerEvent]:
    stack = list(nodes)
    while stack:
        node = stack.pop()
        yield node
        stack.extend(node.children)


def cpu_peak_bytes(forward: Callable[[], object]) -> int:
    """Max of the running sum of CPU allocation events during one ``forward()``."""
    return cpu_peak_bytes_of(profile_cpu(forward, 1))


def profile_cpu(forward: Callable[[], object], calls: int = 1) -> torch.profiler.profile:
    """``calls`` forwards under torch.profiler with memory events (the output of each
    freed before the next): one run gives the memory peak, the per-op table and the trace."""
    import torch

    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU], profile_memory=True) as prof:
        for _ in range(calls):
            out = forward()
            del out
    return prof


def cpu_peak_bytes_of(prof: torch.profiler.profile) -> int:
    """Max of the running sum of a profiler run's CPU allocation events (frees are negative)."""
    from torch._C._profiler import _EventType

    # set once the profiler's context has exited, as profile_cpu's has
    assert prof.profiler is not None and prof.profiler.kineto_results is not None, "the profiler run is not over"
    allocs = []
    for node in _walk(prof.profiler.kineto_results.experimental_event_tree()):
        if node.tag == _EventType.Allocation:
            extra = cast("_ExtraFields_Allocation", node.extra_fields)  # what an Allocation event carries
            if str(extra.device).startswith("cpu"):
                allocs.append((node.start_time_ns, extra.alloc_size))
    allocs.sort()
    running = itertools.accumulate(size for _, size in allocs)
    return max(0, max(running, default=0))


def cuda_peak_bytes(forward: Callable[[], object], device: torch.device) -> tuple[int, int]:
    """(peak allocated during one forward minus allocated before, max reserved)."""
    import torch

    torch.cuda.synchronize(device)
    torch.cuda.reset_peak_memory_stats(device)
    before = torch.cuda.memory_allocated(device)
    out = forward()
    torch.cuda.synchronize(device)
    peak = torch.cuda.max_memory_allocated(device) - before
    reserved = torch.cuda.max_memory_reserved(device)
    del out
    return int(peak), int(reserved)


def mps_bytes(forward: Callable[[], object]) -> tuple[int, int, str]:
    """(peak bytes of one forward, bytes the driver holds, the memory method) on MPS."""
    import torch

    torch.mps.synchronize()
    acc = getattr(torch, "accelerator", None)
    try:
        if acc is None:
            raise AttributeError("no torch.accelerator")
        acc.reset_peak_memory_stats()
        if "allocated_bytes.all.peak" not in acc.memory_stats():
            raise RuntimeError("the MPS allocator keeps no peak statistics in this torch")
        before = acc.memory_allocated()
        out = forward()
        torch.mps.synchronize()
        peak, method = acc.max_memory_allocated() - before, "mps_max_memory_allocated"
    except (AttributeError, RuntimeError, NotImplementedError):
        torch.mps.empty_cache()
        before = torch.mps.driver_allocated_memory()
        out = forward()
        torch.mps.synchronize()
        peak, method = torch.mps.driver_allocated_memory() - before, "mps_driver_growth"
    driver = torch.mps.driver_allocated_memory()
    del out
    return int(max(0, peak)), int(driver), method
