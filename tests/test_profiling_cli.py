"""``jetprof profile`` end to end: one child process per comparison group, failures handled.

Transient failures (a signal, a timeout) are retried and, when they persist, fail the
call naming the group with nothing written for it; out-of-memory (torch's, or the
kernel's kill) is a final, recorded outcome.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from faults import env as fault_env

from jetprof.records import validate_record


def _jetprof(args: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "jetprof.cli", "profile", *args], capture_output=True,
                          text=True, env={**os.environ, **(env or {})}, timeout=900)


def _rec(out: Path, bs: int, particles=128, weights="random", pair="eager-fp32", model="ParT_full") -> Path:
    return out / "profile" / model / weights / "cpu" / pair / f"p{particles}" / f"bs{bs}.json"


# spawn pays a fresh interpreter per group (17 s): in the full suite only
@pytest.mark.parametrize("process", ["fork", pytest.param("spawn", marks=pytest.mark.slow)])
def test_out_of_memory_is_recorded_and_the_sweep_goes_on(tmp_path, process):
    out = tmp_path / "sweep"
    # faults through the hook seam (tests/faults.py): bs 3 raises an injected OutOfMemoryError;
    # bs 64 caps the child's address space at +200 MB so torch's CPU allocator really fails
    proc = _jetprof(["--device", "cpu", "--batch-sizes", "1,3,64", "--particles", "128", "--rounds", "2",
                     "--max-rounds", "2", "--processes", "1",
                     "--max-processes", "1", "--no-profiler-pass", "--config-hash", "abc123", "--out", str(out),
                     "--process", process],
                    env=fault_env("oom@3,memcap@64=200000000"))
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    recs = {bs: json.loads(_rec(out, bs).read_text()) for bs in (1, 3, 64)}
    for rec in recs.values():
        validate_record(rec)
        assert rec["env"]["config_hash"] == "abc123"
    assert recs[1]["status"] == "ok" and len(recs[1]["latency_ms_samples"]) == 2
    assert recs[1]["process"] == process
    assert recs[1]["flops_per_jet"] == pytest.approx(683.12e6, rel=0.05)
    assert recs[3]["status"] == "oom" and "injected" in recs[3]["error"]
    assert recs[64]["status"] == "oom" and "allocat" in recs[64]["error"].lower()
    # the control replica of each group failed alike and is in the rounds file, not a record
    group = json.loads((out / "paired" / "cpu" / "p128" / "bs64.json").read_text())
    assert [v["status"] for v in group["variants"]] == ["oom", "oom"]
    assert not list(out.rglob(".*tmp")) and not (out / ".tmp").exists()  # no half-written or scratch files


def test_a_transient_kill_is_retried_in_place(tmp_path):
    out = tmp_path / "flaky"
    proc = _jetprof(["--device", "cpu", "--batch-sizes", "1,2", "--particles", "16", "--rounds", "2",
                     "--max-rounds", "2", "--processes", "1",
                     "--max-processes", "1", "--no-profiler-pass", "--out", str(out)],
                    env=fault_env("flaky@2"))
    assert proc.returncode == 0, proc.stderr
    assert "group cpu p16 bs2: measuring process killed by SIGTERM; measuring it again" in proc.stderr
    assert json.loads(_rec(out, 2, 16).read_text())["status"] == "ok"


# a hang waits out two timeouts (17 s): in the full suite only
@pytest.mark.parametrize("fault", ["crash@2", pytest.param("hang@2", marks=pytest.mark.slow)])
def test_a_persistent_transient_failure_fails_the_call_naming_the_group(tmp_path, fault):
    out = tmp_path / "dies"
    proc = _jetprof(["--device", "cpu", "--batch-sizes", "1,2", "--particles", "16", "--rounds", "2",
                     "--max-rounds", "2", "--processes", "1",
                     "--max-processes", "1", "--no-profiler-pass", "--retries", "1", "--timeout-s", "6",
                     "--out", str(out)], env=fault_env(fault))
    assert proc.returncode == 1, proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("jetprof profile: error: group cpu p16 bs2") and "2 time(s)" in last
    assert ("SIGKILL" if fault.startswith("crash") else "timed out after 6.0 s") in last
    assert "rerun to measure it again" in last and "Traceback" not in proc.stderr
    assert json.loads(_rec(out, 1, 16).read_text())["status"] == "ok"
    assert not _rec(out, 2, 16).exists() and not (out / "paired" / "cpu" / "p16" / "bs2.json").exists()


def test_a_kernel_style_kill_for_memory_is_recorded_as_oom(tmp_path):
    out = tmp_path / "killed"
    hog = 600_000_000
    proc = _jetprof(["--device", "cpu", "--batch-sizes", "1", "--particles", "16", "--no-profiler-pass",
                     "--out", str(out)],
                    env={**fault_env(f"oomkill@1={hog}"), "JETPROF_MEMORY_LIMIT_BYTES": str(hog)})
    assert proc.returncode == 0, proc.stderr
    rec = json.loads(_rec(out, 1, 16).read_text())
    validate_record(rec)
    assert rec["status"] == "oom" and "killed by the kernel for memory" in rec["error"]


def test_bad_input_subprocess_has_no_traceback(tmp_path):
    proc = _jetprof(["--device", "cpu", "--backends", "eager-fp16", "--particles", "8", "--out", str(tmp_path / "o")])
    assert proc.returncode == 1
    assert proc.stderr.strip().count("\n") == 0 and "fp16" in proc.stderr and "Traceback" not in proc.stderr


def test_groups_over_particles_fork_each_group_and_export_onnx_once(tmp_path):
    out = tmp_path / "ort"
    proc = _jetprof(["--device", "cpu", "--backends", "eager-fp32,onnxruntime-fp32", "--particles", "16,64",
                     "--batch-sizes", "1,3", "--rounds", "2", "--max-rounds", "2", "--processes", "1",
                     "--max-processes", "1", "--no-profiler-pass",
                     "--out", str(out)])
    assert proc.returncode == 0, proc.stderr
    recs = {(n, bs): json.loads(_rec(out, bs, n, pair="onnxruntime-fp32").read_text())
            for n in (16, 64) for bs in (1, 3)}
    for (n, bs), rec in recs.items():
        validate_record(rec)
        assert rec["status"] == "ok", rec["error"]
        assert rec["process"] == "fork" and rec["particles"] == n and rec["batch_size"] == bs
        # the exported graph has no trimmer: no model warm-up, the configured 1 call only
        assert rec["model_warmup_calls"] == 0 and rec["warmup_calls"] == 1
        # fed the batch trimmed to its longest jet, and checked against eager on its own jets
        assert rec["onnx"]["trimmed"] and rec["particles_padded"] == n
        assert rec["onnx"]["max_abs_diff_vs_eager"] < 1e-4
    # the first group exported; the other three ran that same file
    assert [rec["onnx"]["exported_by_this_point"] for rec in recs.values()] == [True, False, False, False]
    group = json.loads((out / "paired" / "cpu" / "p64" / "bs3.json").read_text())
    labels = [v["label"] for v in group["variants"]]
    assert labels == ["ParT_full/random/eager-fp32", "ParT_full/random/eager-fp32#2",
                      "ParT_full/random/onnxruntime-fp32"]
    assert all(len(v["round_latency_ms"]) == 2 for v in group["variants"])
    assert sorted(map(sorted, group["rounds"])) == [sorted(labels)] * 2  # every round times every variant


def test_checkpoint_that_does_not_fit_stops_a_forked_call_with_one_line(tmp_path):
    torch = pytest.importorskip("torch")
    bad = tmp_path / "bad.pt"
    torch.save({"mod.cls_token": torch.zeros(3)}, bad)
    out = tmp_path / "o"
    proc = _jetprof(["--device", "cpu", "--weights", "random,trained", "--checkpoint", str(bad),
                     "--particles", "8,16", "--batch-sizes", "1,2", "--out", str(out)])
    assert proc.returncode == 1, proc.stderr
    err = proc.stderr.strip()
    assert len(err.splitlines()) == 1 and err.startswith("jetprof profile: error:"), err
    assert str(bad) in err and "does not fit the model" in err
    assert not out.exists()  # nothing written, not even a folder


def test_every_file_of_a_point_follows_the_umask(tmp_path):
    """Under umask 077 the record, its per-op table and its trace are all 0600 (the trace was 0644),
    for a measured point (bs 1) and for one that failed (bs 3: an injected OOM, an empty profile)."""
    out = tmp_path / "private"
    proc = subprocess.run([sys.executable, "-m", "jetprof.cli", "profile", "--device", "cpu", "--batch-sizes",
                           "1,3", "--particles", "16", "--rounds", "2", "--max-rounds", "2", "--processes", "1",
                           "--max-processes", "1", "--out", str(out)],
                          capture_output=True, text=True, timeout=900, preexec_fn=lambda: os.umask(0o077),
                          env={**os.environ, **fault_env("oom@3")})
    assert proc.returncode == 0, proc.stderr[-3000:]
    for bs in (1, 3):
        rec = _rec(out, bs, particles=16)
        for f in (rec, rec.with_suffix(".ops.csv"), rec.with_name(f"bs{bs}.trace.json.gz")):
            assert f.is_file(), f
            assert f.stat().st_mode & 0o777 == 0o600, (f.name, oct(f.stat().st_mode & 0o777))
    assert json.loads(_rec(out, 3, particles=16).read_text())["status"] == "oom"


def test_a_group_is_timed_in_fresh_processes_each_building_in_its_own_order(tmp_path):
    out = tmp_path / "replicated"
    proc = _jetprof(["--device", "cpu", "--batch-sizes", "2", "--particles", "32", "--rounds", "2",
                     "--max-rounds", "2", "--processes", "3", "--max-processes", "3", "--no-profiler-pass",
                     "--backends", "eager-fp32,onnxruntime-fp32", "--out", str(out)])
    assert proc.returncode == 0, proc.stderr
    group = json.loads((out / "paired" / "cpu" / "p32" / "bs2.json").read_text())
    assert group["processes"] == 3 and group["clock"] == "cpu" and len(group["timing_s"]) == 3
    labels = [v["label"] for v in group["variants"]]
    assert [sorted(order) for order in group["build_orders"]] == [sorted(labels)] * 3
    assert len(group["rounds"]) == 6
    for v in group["variants"]:
        assert v["round_process"] == [0, 0, 1, 1, 2, 2]
        assert len(v["round_latency_ms"]) == len(v["round_cpu_ms"]) == 6
    rec = json.loads(_rec(out, 2, particles=32).read_text())
    validate_record(rec)
    # the record's figures come from every process's rounds, and it states what it could detect
    assert rec["repeats"] == 6 and rec["latency_ms_samples"] == group["variants"][0]["round_latency_ms"]
    assert rec["paired"]["processes"] == 3 and rec["paired"]["round_process"] == [0, 0, 1, 1, 2, 2]
    assert rec["paired"]["clock"] == "cpu" and rec["paired"]["half_width"] > 0
    csv_path = tmp_path / "comparisons.csv"
    done = subprocess.run([sys.executable, "-m", "jetprof.cli", "compare", "--out-csv", str(csv_path),
                           str(out / "paired")], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    import pandas as pd

    rows = pd.read_csv(csv_path)
    assert set(rows["method"]) == {"processes-t"} and set(rows["processes"]) == {3}
    assert set(rows["clock"]) == {"cpu"} and (rows["half_width"] > 0).all()
    assert ((rows["between_share"] >= 0) & (rows["between_share"] <= 1)).all()


def test_a_timing_process_that_dies_leaves_the_group_with_the_processes_before_it(tmp_path):
    out = tmp_path / "crashed"
    proc = _jetprof(["--device", "cpu", "--batch-sizes", "2", "--particles", "32", "--rounds", "2",
                     "--max-rounds", "2", "--processes", "3", "--max-processes", "3", "--no-profiler-pass",
                     "--out", str(out)], env=fault_env("crashreplica@2"))
    assert proc.returncode == 0, proc.stderr
    assert "process 1 not used: its process ended with status -9" in proc.stderr
    group = json.loads((out / "paired" / "cpu" / "p32" / "bs2.json").read_text())
    assert group["processes"] == 1 and all(v["round_process"] == [0, 0] for v in group["variants"])
    rec = json.loads(_rec(out, 2, particles=32).read_text())
    validate_record(rec)
    assert rec["repeats"] == 2 and rec["paired"]["processes"] == 1
    # two rounds in one process: no distribution-free interval exists, so the point states none
    assert rec["paired"].get("half_width") is None and rec["paired"]["clock"] == "cpu"


@pytest.mark.parametrize(("max_group_s", "more"), [(30.0, 2), (0.01, 0)])
def test_the_job_s_timing_budget_goes_to_the_groups_still_open(tmp_path, max_group_s, more):
    out = tmp_path / "shared"
    # a target of ±0.1 % leaves every comparison open: with budget left, each group gets processes up to its
    # maximum, one at a time; with the budget spent by the first two processes, none more
    proc = _jetprof(["--device", "cpu", "--batch-sizes", "1,2", "--particles", "16", "--rounds", "2",
                     "--max-rounds", "2", "--processes", "2", "--max-processes", "4", "--target-half-width", "0.001",
                     "--max-group-s", str(max_group_s), "--no-profiler-pass", "--out", str(out)])
    assert proc.returncode == 0, proc.stderr
    added = [line for line in proc.stderr.splitlines() if "one more process" in line]
    assert len(added) == 2 * more, proc.stderr
    for bs in (1, 2):
        group = json.loads((out / "paired" / "cpu" / "p16" / f"bs{bs}.json").read_text())
        assert group["processes"] == 2 + more and len(group["timing_s"]) == 2 + more
        rec = json.loads(_rec(out, bs, particles=16).read_text())
        assert rec["paired"]["processes"] == 2 + more and rec["repeats"] == 2 * (2 + more)
