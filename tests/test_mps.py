"""The MPS path, checked without an Apple GPU: device checks, memory, autocast, process policy.

What runs on a real M-series GPU is stated in the README ("What has run where"); these tests
hold the code to torch's documented MPS API by patching the few calls a Linux build cannot make.
"""

from __future__ import annotations

import types

import pytest
import torch

from jetprof.errors import JetprofError
from jetprof.profiling import memory
from jetprof.profiling.backends import autocast
from jetprof.profiling.cli import check_device, mps_problem, process_mode


def test_mps_on_a_machine_without_it_is_one_line_saying_what_to_do():
    if torch.backends.mps.is_available():
        pytest.skip("this machine has MPS")
    with pytest.raises(JetprofError) as err:
        check_device("mps")
    line = str(err.value)
    assert "\n" not in line and "--device cpu" in line and "macOS 14" in line


def test_mps_problem_tells_a_torch_without_mps_from_a_mac_without_it(monkeypatch):
    fake = types.SimpleNamespace(__version__="2.13.0", backends=types.SimpleNamespace(
        mps=types.SimpleNamespace(is_built=lambda: False, is_available=lambda: False)))
    assert "built without MPS" in mps_problem(fake)
    fake.backends.mps.is_built = lambda: True
    monkeypatch.setattr("platform.mac_ver", lambda: ("13.6", ("", "", ""), "arm64"))
    assert "this is macOS 13.6" in mps_problem(fake)
    fake.backends.mps.is_available = lambda: True
    assert mps_problem(fake) is None


def test_mps_groups_are_spawned_never_forked():
    assert process_mode("auto", "mps", "Darwin") == "spawn"
    with pytest.raises(JetprofError):
        process_mode("fork", "mps", "Darwin")


class FakeMps:
    """torch.mps's allocator calls, counting bytes as a Metal driver would."""

    def __init__(self):
        self.driver, self.allocated, self.synced, self.emptied = 1000, 0, 0, 0

    def synchronize(self):
        self.synced += 1

    def driver_allocated_memory(self):
        return self.driver

    def current_allocated_memory(self):
        return self.allocated

    def empty_cache(self):
        self.emptied += 1


def test_mps_memory_without_peak_statistics_is_the_drivers_growth(monkeypatch):
    fake = FakeMps()
    monkeypatch.setattr(torch, "mps", fake)
    monkeypatch.delattr(torch, "accelerator", raising=False)

    def forward():
        fake.driver += 4096  # the forward's heaps
        return object()

    peak, reserved, method = memory.mps_bytes(forward)
    assert (peak, reserved, method) == (4096, 5096, "mps_driver_growth")
    assert fake.emptied == 1 and fake.synced >= 2  # cache emptied first, the forward waited for


def test_mps_memory_with_peak_statistics_is_the_peak_over_what_was_there(monkeypatch):
    fake = FakeMps()
    state = {"allocated": 100, "peak": 100}

    def forward():
        state["peak"] = 100 + 8192
        return object()

    acc = types.SimpleNamespace(
        reset_peak_memory_stats=lambda: state.update(peak=state["allocated"]),
        memory_stats=lambda: {"allocated_bytes.all.peak": state["peak"]},
        memory_allocated=lambda: state["allocated"], max_memory_allocated=lambda: state["peak"])
    monkeypatch.setattr(torch, "mps", fake)
    monkeypatch.setattr(torch, "accelerator", acc)
    assert memory.mps_bytes(forward) == (8192, 1000, "mps_max_memory_allocated")


def test_an_autocast_dtype_the_device_refuses_is_an_error_not_a_silent_fp32_run():
    # torch only warns "Disabling autocast" and runs fp32 (float64 on CPU shows the same path as an
    # unsupported dtype on MPS)
    with pytest.raises(RuntimeError, match="Disabling autocast"):
        with autocast(torch, "cpu", torch.float64):
            pass
    with autocast(torch, "cpu", torch.bfloat16):
        assert torch.get_autocast_dtype("cpu") == torch.bfloat16


def test_the_flop_counter_knows_mps_attention():
    op = getattr(torch.ops.aten, "_scaled_dot_product_attention_math_for_mps", None)
    if op is None:
        pytest.skip("this torch registers no MPS attention op")
    from jetprof.model.flops import custom_flops

    formula = custom_flops()[op]
    # Q·Kᵀ and P·V of 2 jets, 8 heads, 30 particles, 16 dims: 2·(2·8·30·30·16) each
    assert formula((2, 8, 30, 16), (2, 8, 30, 16), (2, 8, 30, 16)) == 2 * 2 * (2 * 8 * 30 * 30 * 16)
