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


@pytest.mark.parametrize("process", ["fork", "spawn"])
def test_sweep_goes_on_after_crash_and_oom(tmp_path, process):
    out = tmp_path / "sweep"
    # test hooks: bs 2 kills its child with SIGKILL; bs 3 raises an injected OutOfMemoryError;
    # bs 64 caps the child's address space at +200 MB so torch's CPU allocator really fails
    faults = "crash@2,oom@3,memcap@64=200000000"
    proc = _jetprof(["--device", "cpu", "--batch-sizes", "1,2,3,64", "--particles", "128",
                     "--repeats", "3", "--no-profiler-pass", "--config-hash", "abc123", "--out", str(out),
                     "--process", process],
                    env={"JETPROF_TEST_FAULT": faults})
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    recs = {bs: json.loads((out / f"bs{bs}.json").read_text()) for bs in (1, 2, 3, 64)}
    for rec in recs.values():
        validate_record(rec)
        assert rec["env"]["config_hash"] == "abc123"
    assert recs[1]["status"] == "ok" and len(recs[1]["latency_ms_samples"]) == 3
    assert recs[1]["process"] == process
    assert recs[1]["flops_per_jet"] == pytest.approx(683.12e6, rel=0.05)
    assert recs[2]["status"] == "error" and "SIGKILL" in recs[2]["error"]
    assert recs[3]["status"] == "oom" and "injected" in recs[3]["error"]
    assert recs[64]["status"] == "oom" and "allocat" in recs[64]["error"].lower()
    assert not list(out.glob(".*tmp"))  # no half-written files left


def test_bad_input_subprocess_has_no_traceback(tmp_path):
    proc = _jetprof(["--device", "cpu", "--precision", "fp16", "--particles", "8", "--out", str(tmp_path / "o")])
    assert proc.returncode == 1
    assert proc.stderr.strip().count("\n") == 0 and "fp16" in proc.stderr and "Traceback" not in proc.stderr


def test_sweep_over_particles_forks_each_point_and_exports_onnx_once(tmp_path):
    out = tmp_path / "ort"
    proc = _jetprof(["--device", "cpu", "--backend", "onnxruntime", "--particles", "16,64", "--batch-sizes", "1,3",
                     "--repeats", "2", "--no-profiler-pass", "--out", str(out / "p{particles}")])
    assert proc.returncode == 0, proc.stderr
    recs = {(n, bs): json.loads((out / f"p{n}" / f"bs{bs}.json").read_text()) for n in (16, 64) for bs in (1, 3)}
    for (n, bs), rec in recs.items():
        validate_record(rec)
        assert rec["status"] == "ok", rec["error"]
        assert rec["process"] == "fork" and rec["particles"] == n and rec["batch_size"] == bs
        # the exported graph has no trimmer: no model warm-up, the configured 1 call only
        assert rec["model_warmup_calls"] == 0 and rec["warmup_calls"] == 1
        # every point checks ONNX Runtime against eager on its own jets
        assert rec["onnx"]["max_abs_diff_vs_eager"] < 1e-4
    # the first point exported; the other three ran that same file
    assert [rec["onnx"]["exported_by_this_point"] for rec in recs.values()] == [True, False, False, False]


def test_several_particle_counts_need_a_placeholder(tmp_path):
    proc = _jetprof(["--device", "cpu", "--particles", "16,64", "--out", str(tmp_path / "o")])
    assert proc.returncode == 1 and "{particles}" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "o").exists()


def test_checkpoint_that_does_not_fit_stops_a_forked_sweep_with_one_line(tmp_path):
    torch = pytest.importorskip("torch")
    bad = tmp_path / "bad.pt"
    torch.save({"mod.cls_token": torch.zeros(3)}, bad)
    out = tmp_path / "o"
    proc = _jetprof(["--device", "cpu", "--weights", "trained", "--checkpoint", str(bad), "--particles", "8,16",
                     "--batch-sizes", "1,2", "--out", str(out / "p{particles}")])
    assert proc.returncode == 1, proc.stderr
    err = proc.stderr.strip()
    assert len(err.splitlines()) == 1 and err.startswith("jetprof profile: error:"), err
    assert str(bad) in err and "does not fit the model" in err
    assert not out.exists()  # nothing written, not even a folder


def test_forked_child_past_its_time_limit_is_killed_and_recorded(tmp_path):
    out = tmp_path / "t"
    proc = _jetprof(["--device", "cpu", "--particles", "16", "--batch-sizes", "1,2", "--repeats", "2",
                     "--no-profiler-pass", "--timeout-s", "8", "--out", str(out)], env={"JETPROF_TEST_FAULT": "hang@1"})
    assert proc.returncode == 0, proc.stderr
    hung, fine = (json.loads((out / f"bs{bs}.json").read_text()) for bs in (1, 2))
    assert hung["status"] == "error" and "timed out after 8.0 s" in hung["error"]
    assert fine["status"] == "ok" and fine["process"] == "fork"
