"""The device's measured matrix-product ceiling (``jetprof profile --peak``).

Square ``n×n @ n×n`` products (2·n³ FLOP each), timed after warm-up with device
synchronisation; the best of several timed rounds is reported as the ceiling
that ParT's achieved FLOP/s are compared against. fp32 always (TF32 off, as
torch's default); bf16 too on GPUs.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any


def matmul_flops_per_s(device: Any, dtype: Any, n: int, min_time_s: float = 0.5, rounds: int = 5) -> dict[str, Any]:
    """Best-of-``rounds`` FLOP/s of an ``n``-sized matmul on ``device``."""
    import torch

    from jetprof.profiling.backends import synchronize

    g = torch.Generator(device="cpu").manual_seed(0)
    a = torch.randn(n, n, generator=g).to(device=device, dtype=dtype)
    b = torch.randn(n, n, generator=g).to(device=device, dtype=dtype)
    for _ in range(3):
        torch.mm(a, b)
    synchronize(device)
    t = time.perf_counter()
    torch.mm(a, b)
    synchronize(device)
    one = max(time.perf_counter() - t, 1e-6)
    per_round = max(1, int(min_time_s / rounds / one))
    rates = []
    for _ in range(rounds):
        synchronize(device)
        t = time.perf_counter()
        for _ in range(per_round):
            torch.mm(a, b)
        synchronize(device)
        dt = time.perf_counter() - t
        rates.append(2.0 * n**3 * per_round / dt)
    return {"matmul_flops_per_s": max(rates), "matrix_size": n, "rounds_flops_per_s": rates,
            "calls_per_round": per_round}


def measure_peak(device_name: str, threads: int, config_hash: str | None = None,
                 matrix_size: int | None = None) -> dict[str, Any]:
    """The peak record: fp32 (and bf16 on CUDA) matmul FLOP/s with the environment."""
    import torch

    from jetprof.profiling.env import environment

    torch.set_num_threads(threads)
    device = torch.device(device_name)
    started = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    gpu = device.type in ("cuda", "mps")
    n = matrix_size or (8192 if gpu else 1024)
    by_dtype = {"fp32": matmul_flops_per_s(device, torch.float32, n)}
    if device.type == "cuda":
        by_dtype["bf16"] = matmul_flops_per_s(device, torch.bfloat16, n)
        by_dtype["fp16"] = matmul_flops_per_s(device, torch.float16, n)
    return {
        "device": device_name, "dtype": "fp32",
        "matmul_flops_per_s": by_dtype["fp32"]["matmul_flops_per_s"], "matrix_size": n,
        "by_dtype": by_dtype, "threads": threads, "tf32": bool(torch.backends.cuda.matmul.allow_tf32),
        "env": environment(device_name, config_hash), "started_utc": started,
    }
