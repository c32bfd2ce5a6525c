"""``jetprof node`` with real processes: a 1x1 and a 2x1 plan of a small model (PFN) on real
ROOT jets, end to end; a plan larger than the machine refused in one line, before any job."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from jetprof.config import node_plan_problems
from jetprof.contract import WEAVER_CONFIGS
from jetprof.node_record import Plan, available_cores, load_node_record, node_path, plan_problem
from jetprof.profiling.node import window_jets

NETWORK = str(WEAVER_CONFIGS / "PFN.py")
DATA = str(WEAVER_CONFIGS / "JetClass_full.yaml")


def _jetprof(args: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "jetprof.cli", "node", *args], capture_output=True, text=True,
                          env=dict(os.environ), timeout=600)


@pytest.fixture(scope="module")
def jets(tmp_path_factory) -> Path:
    """80 real-format jets (5 to 60 particles) in one JetClass-layout ROOT file."""
    uproot = pytest.importorskip("uproot")
    from jetprof.model import inputs
    from jetprof.model.build import load_data_config

    dc = load_data_config(DATA)
    counts = np.random.default_rng(3).integers(5, 60, 80)
    raw = inputs.synthetic_raw_jets(len(counts), counts, sorted(dc.test_load_branches), 7)
    raw = {k: (v.astype(np.float32) if isinstance(v, np.ndarray) else v) for k, v in raw.items()}
    folder = tmp_path_factory.mktemp("jets")
    with uproot.recreate(folder / "val_000.root") as f:
        f.mktree("tree", {k: v.type.content if hasattr(v, "layout") else v.dtype for k, v in raw.items()})
        f["tree"].extend(raw)
    return folder


@pytest.mark.skipif(available_cores() < 2, reason="a 2x1 plan needs two cores")
def test_a_1x1_and_a_2x1_plan_run_end_to_end_with_whole_process_memory(tmp_path, jets):
    out = tmp_path / "results"
    done = _jetprof(["--model", "PFN_full", "--network-config", NETWORK, "--data-config", DATA,
                     "--plan", "1x1", "--plan", "2x1", "--batch-size", "16", "--duration-s", "0.5",
                     "--data", str(jets / "*.root"), "--out", str(out)])
    assert done.returncode == 0, done.stderr
    records = {}
    for plan in (Plan(1, 1), Plan(2, 1)):
        path = node_path("PFN_full", "cpu", "eager", "fp32", plan, root=str(out))
        records[plan.name] = rec = load_node_record(json.loads(Path(path).read_text()), path)
        assert (rec.processes, rec.threads, rec.cores) == (plan.processes, plan.threads, plan.cores)
        assert len(rec.per_process) == plan.processes
        assert rec.jets_per_s > 0 and rec.jets_per_s_per_core == pytest.approx(rec.jets_per_s / plan.cores)
        assert rec.jets_per_s == pytest.approx(sum(p.jets_in_window for p in rec.per_process) / rec.window_s)
        # the whole process: the interpreter and torch alone are well over 100 MB resident
        assert all(p.rss_peak_bytes > 100e6 for p in rec.per_process)
        assert rec.rss_peak_bytes == max(p.rss_peak_bytes for p in rec.per_process)
        assert rec.fits_slot == (rec.rss_peak_bytes <= 2e9 * plan.threads)
        assert rec.env["threads"] == 1 and rec.env["interop_threads"] == 1
        assert rec.process_mode == "spawn"  # fresh interpreters: the whole process's pages counted
    two = records["2x1"].per_process
    assert len({p.pid for p in two}) == 2 and [p.first_jet for p in two] == [0, 16]  # own processes, own jets
    assert two[0].particles_mean != two[1].particles_mean


def test_a_plan_larger_than_the_machine_is_refused_in_one_line_before_any_process(tmp_path, jets):
    too_many = f"{available_cores() + 1}x1"
    done = _jetprof(["--model", "PFN_full", "--network-config", NETWORK, "--data-config", DATA,
                     "--plan", "1x1", "--plan", too_many, "--data", str(jets / "*.root"), "--out", str(tmp_path)])
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and f"needs {available_cores() + 1} x 1" in lines[0], done.stderr
    assert not (tmp_path / "node").exists()  # not even the plan that fits ran


def test_a_process_that_fails_stops_the_plan_in_one_line_naming_it(tmp_path, jets):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a state dict")
    done = _jetprof(["--model", "PFN_full", "--network-config", NETWORK, "--data-config", DATA, "--checkpoint",
                     str(bad), "--plan", "1x1", "--duration-s", "0.2", "--data", str(jets / "*.root"),
                     "--out", str(tmp_path)])
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    last = lines[-1]
    assert len(lines) == 1, done.stderr  # a bad input is one line, no traceback
    assert last.startswith("jetprof node: error: plan 1x1: process 0: ") and str(bad) in last, done.stderr
    assert not (tmp_path / "node").exists()


def test_the_config_check_refuses_an_oversubscribing_plan_naming_the_key():
    config = {"node": {"plans": [[1, 1], [2, 2], [1, 2]], "backends": ["eager-fp32"]}}
    assert node_plan_problems(config, cores=2) == [plan_problem(Plan(2, 2), 2, "node.plans[1]")]
    assert node_plan_problems(config, cores=4) == []
    assert "needs 2 x 2 = 4 cores, this machine has 2" in node_plan_problems(config, cores=2)[0]
    assert node_plan_problems({"node": {"plans": [[1, 1]], "backends": ["eager-fp16"]}}, cores=2)
    zoo = {"weaver": {"model_name": "ParT_full"}, "profile": {"models": [{"name": "PFN_full"}]}}
    assert node_plan_problems({**zoo, "node": {"models": ["PFN_full", "ParT_full"]}}, cores=2) == []
    assert "'PCNN_full' is not a model of profile.models" in node_plan_problems(
        {**zoo, "node": {"models": ["PCNN_full"]}}, cores=2)[0]


def test_jets_in_the_window_count_the_part_of_each_call_inside_it():
    starts, ends = [0.0, 1.0, 2.0], [1.0, 2.0, 3.0]
    assert window_jets(starts, ends, 0.5, 2.5, 10) == pytest.approx(20.0)
    assert window_jets(starts, ends, 0.0, 3.0, 10) == pytest.approx(30.0)
    assert window_jets(starts, ends, 3.5, 4.0, 10) == 0.0
