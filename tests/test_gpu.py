"""The CUDA path of the profiler, for real: timing with CUDA events, memory, autocast, OOM.

Skipped (with the reason) where torch sees no CUDA device. On a GPU machine:
``python -m pytest tests/test_gpu.py``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device visible to torch"),
]

SRC = Path(__file__).resolve().parents[1] / "src"


def profile(out: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]))
    cmd = [sys.executable, "-m", "jetprof.cli", "profile", "--device", "cuda:0", "--out", str(out), *args]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)


def load(out: Path, bs: int) -> dict:
    return json.loads((out / f"bs{bs}.json").read_text())


@pytest.mark.parametrize("precision", ["fp32", "bf16", "fp16"])
def test_cuda_point_records_events_timing_and_memory(tmp_path, precision):
    proc = profile(
        tmp_path, "--batch-sizes", "1,64", "--particles", "128", "--precision", precision,
        "--repeats", "10", "--no-profiler-pass",
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    small, large = load(tmp_path, 1), load(tmp_path, 64)
    for rec in (small, large):
        assert rec["status"] == "ok", rec["error"]
        assert rec["device"] == "cuda:0" and rec["env"]["gpu_name"]
        assert rec["memory_method"].startswith("cuda")
        assert rec["peak_reserved_bytes"] >= rec["peak_memory_bytes"] > 0
        assert len(rec["latency_ms_samples"]) == 10 and rec["latency_ms_p50"] > 0
    # activations scale with the batch: 64 jets need clearly more than 1
    assert large["peak_memory_bytes"] > 8 * small["peak_memory_bytes"]


def test_cuda_out_of_memory_is_recorded_and_the_sweep_goes_on(tmp_path):
    free, _ = torch.cuda.mem_get_info()
    # ~6.5 MiB of fp32 activations per jet at 128 particles: ask for 4x the free memory
    huge = int(4 * free / (6.5 * 2**20))
    proc = profile(
        tmp_path, "--batch-sizes", f"{huge},2", "--particles", "128",
        "--repeats", "3", "--no-profiler-pass",
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    assert load(tmp_path, huge)["status"] == "oom"
    assert load(tmp_path, 2)["status"] == "ok"
