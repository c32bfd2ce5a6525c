"""Energy per jet: RAPL read through powercap (a fake tree here), NVML on CUDA, else said."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from jetprof.profiling.energy import Rapl, open_meter, record_block


def _domain(root: Path, name: str, uj: int, max_uj: int = 1000) -> Path:
    d = root / name
    d.mkdir(parents=True)
    (d / "energy_uj").write_text(str(uj))
    (d / "max_energy_range_uj").write_text(str(max_uj))
    return d


def test_rapl_sums_package_domains_and_survives_a_wrap(tmp_path, monkeypatch):
    a = _domain(tmp_path, "intel-rapl:0", 900)
    _domain(tmp_path, "intel-rapl:0:0", 5)  # a sub-domain (cores): inside package 0, not added again
    b = _domain(tmp_path, "intel-rapl:1", 100)
    monkeypatch.setenv("JETPROF_POWERCAP_ROOT", str(tmp_path))
    meter, why = open_meter("cpu")
    assert isinstance(meter, Rapl) and why == "" and len(meter.domains) == 2
    assert meter.joules() == 0.0
    (a / "energy_uj").write_text("50")  # wrapped: 900 -> 1000 -> 50, i.e. 150 uJ
    (b / "energy_uj").write_text("350")  # 250 uJ
    assert meter.joules() == pytest.approx(400e-6)


def test_without_a_counter_the_record_says_not_measured_and_why(tmp_path, monkeypatch):
    monkeypatch.setenv("JETPROF_POWERCAP_ROOT", str(tmp_path / "none"))
    meter, why = open_meter("cpu")
    assert meter is None and "no RAPL package domain" in why
    block = record_block(meter, why, [], 8, None)
    assert block == {"method": "not_measured", "j_per_jet": None, "idle_w": None, "note": why}
    assert open_meter("mps") == (None, "no energy counter on mps")


def test_a_group_records_joules_per_jet_from_the_counter(tmp_path, monkeypatch):
    from jetprof.contract import DEFAULT_DATA_CONFIG, DEFAULT_NETWORK_CONFIG
    from jetprof.profiling.measure import measure_group
    from jetprof.profiling.spec import GroupSpec, VariantSpec
    from jetprof.records import validate_record

    _domain(tmp_path / "powercap", "intel-rapl:0", 10, max_uj=2**40)
    monkeypatch.setenv("JETPROF_POWERCAP_ROOT", str(tmp_path / "powercap"))
    v = VariantSpec("ParT_full", "random", "eager", "fp32", str(DEFAULT_NETWORK_CONFIG), str(DEFAULT_DATA_CONFIG))
    spec = GroupSpec("cpu", 16, 2, [v], out=str(tmp_path / "r"), rounds=2, max_rounds=2, profiler_pass=False)
    measure_group(spec)
    rec = json.loads(spec.record_path(v).read_text())
    validate_record(rec)
    energy = rec["energy"]
    # the fake counter stands still: zero joules, but every turn was read
    assert energy["method"] == "rapl" and energy["j_per_jet"] == 0.0 and len(energy["j_per_call_samples"]) == 2
    assert energy["idle_w"] == 0.0 and "package" in energy["note"]
