"""Energy per jet, where the hardware tells it.

* CPU: Intel/AMD RAPL through ``/sys/class/powercap`` (``intel-rapl:N/energy_uj``, the
  package domains summed; the counter wraps at ``max_energy_range_uj``). It counts the
  whole package, every process on it: the figure is the energy the machine spent while
  the variant ran, idle draw included (the record gives the idle power measured just
  before the rounds, so that the forward's share can be told).
* CUDA: NVML's total-energy counter (``nvidia-ml-py``, millijoules, updated every few
  tens of milliseconds: each turn of a round lasts long enough only at larger batches).
* Elsewhere (a VM without powercap, MPS, no NVML): ``not_measured``, and why.

``JETPROF_POWERCAP_ROOT`` points the RAPL reader at another folder (tests).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from jetprof.records import EnergyBlock

POWERCAP = "/sys/class/powercap"
IDLE_S = 0.5


class Meter:
    """A cumulative energy counter in joules."""

    method = "not_measured"
    note = ""

    def joules(self) -> float:  # pragma: no cover - overridden
        raise NotImplementedError


class Rapl(Meter):
    method = "rapl"
    note = "RAPL package energy: the whole CPU package, idle draw and other processes included"

    def __init__(self, domains: list[Path]) -> None:
        self.domains = domains
        self.ranges = [int((d / "max_energy_range_uj").read_text()) if (d / "max_energy_range_uj").is_file()
                       else 2**32 for d in domains]
        self.last = [self._read(d) for d in domains]
        self.total_uj = 0

    @staticmethod
    def _read(domain: Path) -> int:
        return int((domain / "energy_uj").read_text())

    def joules(self) -> float:
        for i, domain in enumerate(self.domains):
            now = self._read(domain)
            step = now - self.last[i]
            if step < 0:  # the counter wrapped
                step += self.ranges[i]
            self.total_uj += step
            self.last[i] = now
        return self.total_uj / 1e6


class Nvml(Meter):
    method = "nvml"
    note = "NVML total energy of the GPU (updated every few tens of ms)"

    def __init__(self, index: int) -> None:
        import pynvml

        pynvml.nvmlInit()
        self.nvml = pynvml
        self.handle = pynvml.nvmlDeviceGetHandleByIndex(index)
        self.joules()  # fails here, not mid-measurement, where the counter is not supported

    def joules(self) -> float:
        return self.nvml.nvmlDeviceGetTotalEnergyConsumption(self.handle) / 1e3


def open_meter(device: str) -> tuple[Meter | None, str]:
    """A meter for ``device``, or (None, why not)."""
    kind = device.split(":")[0]
    if kind == "cpu":
        root = Path(os.environ.get("JETPROF_POWERCAP_ROOT", POWERCAP))
        domains = sorted(d for d in root.glob("intel-rapl:*") if ":" not in d.name.split("intel-rapl:", 1)[1])
        if not domains:
            return None, f"no RAPL package domain under {root} (a VM or a CPU without powercap)"
        try:
            return Rapl(domains), ""
        except (OSError, ValueError) as exc:
            return None, f"RAPL not readable: {exc}"
    if kind == "cuda":
        try:
            index = int(device.split(":")[1]) if ":" in device else 0
            return Nvml(index), ""
        except Exception as exc:  # no nvidia-ml-py, or a GPU without the counter
            return None, f"NVML energy counter not available ({type(exc).__name__}: {exc})"
    return None, f"no energy counter on {kind}"


def idle_watts(meter: Meter, seconds: float = IDLE_S) -> float:
    """The draw while this process sleeps (the package's idle and everyone else's)."""
    e0, t0 = meter.joules(), time.perf_counter()
    time.sleep(seconds)
    return (meter.joules() - e0) / (time.perf_counter() - t0)


def record_block(meter: Meter | None, why: str, per_call_j: list[float], batch_size: int,
                 idle_w: float | None) -> EnergyBlock:
    """The record's ``energy``: joules per jet (median of the per-turn figures) or why not."""
    if meter is None or not per_call_j:
        return EnergyBlock(method="not_measured", j_per_jet=None, idle_w=None,
                           note=why or "no energy counter was read")
    per_call = sorted(per_call_j)[len(per_call_j) // 2]
    return EnergyBlock(method=meter.method, j_per_jet=per_call / batch_size, j_per_call_median=per_call,
                       j_per_call_samples=[round(x, 6) for x in per_call_j], idle_w=idle_w, note=meter.note)
