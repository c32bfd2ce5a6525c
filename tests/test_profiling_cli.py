"""``jetprof profile`` end to end: one child process per batch size, failures recorded."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from jetprof.profiling.record import validate_record


def _jetprof(args: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "jetprof.cli", "profile", *args], capture_output=True,
                          text=True, env={**os.environ, **(env or {})}, timeout=900)


def test_sweep_goes_on_after_crash_and_oom(tmp_path):
    out = tmp_path / "sweep"
    # test hooks: bs 2 kills its child with SIGKILL; bs 3 raises an injected OutOfMemoryError;
    # bs 64 caps the child's address space at +200 MB so torch's CPU allocator really fails
    faults = "crash@2,oom@3,memcap@64=200000000"
    proc = _jetprof(["--device", "cpu", "--batch-sizes", "1,2,3,64", "--particles", "128",
                     "--repeats", "3", "--no-profiler-pass", "--config-hash", "abc123", "--out", str(out)],
                    env={"JETPROF_TEST_FAULT": faults})
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    recs = {bs: json.loads((out / f"bs{bs}.json").read_text()) for bs in (1, 2, 3, 64)}
    for rec in recs.values():
        validate_record(rec)
        assert rec["env"]["config_hash"] == "abc123"
    assert recs[1]["status"] == "ok" and len(recs[1]["latency_ms_samples"]) == 3
    assert recs[1]["flops_per_jet"] == pytest.approx(683.12e6, rel=0.05)
    assert recs[2]["status"] == "error" and "SIGKILL" in recs[2]["error"]
    assert recs[3]["status"] == "oom" and "injected" in recs[3]["error"]
    assert recs[64]["status"] == "oom" and "allocat" in recs[64]["error"].lower()
    assert not list(out.glob(".*tmp"))  # no half-written files left


def test_bad_input_subprocess_has_no_traceback(tmp_path):
    proc = _jetprof(["--device", "cpu", "--precision", "fp16", "--particles", "8", "--out", str(tmp_path / "o")])
    assert proc.returncode == 1
    assert proc.stderr.strip().count("\n") == 0 and "fp16" in proc.stderr and "Traceback" not in proc.stderr
