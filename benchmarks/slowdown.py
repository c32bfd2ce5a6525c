"""A benchmark's hook (``jetprof.profiling.hooks``): a slowdown of known size, for measuring
the comparisons' power (``bench_comparison.py``).

``JETPROF_SLOWDOWN=WEIGHTS=FRACTION``: after each timed forward of the variants with those
weights (not the control replica), spin for FRACTION of the forward's time, inside its timing.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve()


def env(weights: str, fraction: float) -> dict[str, str]:
    """The environment that slows the variants with ``weights`` down by ``fraction``."""
    return {"JETPROF_HOOKS": f"{HERE}:slowdown", "JETPROF_SLOWDOWN": f"{weights}={fraction}"}


def slowdown(point: str, slot: Any = None, seconds: float = 0.0, **_context: Any) -> None:
    weights, _, fraction = os.environ.get("JETPROF_SLOWDOWN", "").partition("=")
    if point != "call_end" or not fraction or slot.spec.weights != weights or slot.spec.replica:
        return
    until = time.perf_counter() + float(fraction) * seconds
    while time.perf_counter() < until:
        pass
