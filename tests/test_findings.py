"""The report's opening page (jetprof findings): each line read from the summary it names."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd

from jetprof.report.findings import HEADER, findings_markdown

ANSWER = {"verdict": "same", "reasons": ["trained ÷ random pooled over 4 points: 1.004 [0.991, 1.017]"]}
DEPLOYMENT = {"auc_loss": 0.001, "fastest": [
    {"model": "ParT_full", "device": "cpu", "particles": "real", "batch_size": 1, "variant": "onnxruntime-fp32",
     "weights": "trained", "speedup": 2.03, "speedup_ci95": [1.95, 2.11], "delta_auc": -0.0001},
    {"model": "ParT_full", "device": "cpu", "particles": "real", "batch_size": 32, "variant": "eager-fp32",
     "speedup": 1.0, "note": "no variant is faster than eager fp32 within the AUC threshold"}]}
MODELS = pd.DataFrame([
    {"model": "A", "device": "cpu", "auc_macro": 0.90, "latency_ms_p50_bs1": 8.0},
    {"model": "B", "device": "cpu", "auc_macro": 0.85, "latency_ms_p50_bs1": 1.0},
    {"model": "C", "device": "cpu", "auc_macro": 0.80, "latency_ms_p50_bs1": 5.0},  # dominated by B
    {"model": "D", "device": "cpu", "auc_macro": float("nan"), "latency_ms_p50_bs1": 0.2}])  # not trained
NODE = pd.DataFrame([
    {"model": "ParT_full", "backend": "eager", "precision": "fp32", "processes": 1, "threads": 1,
     "jets_per_s": 150.0, "jets_per_s_per_core": 150.0, "rss_peak_bytes": 600 * 2**20},
    {"model": "ParT_full", "backend": "eager", "precision": "fp32", "processes": 2, "threads": 1,
     "jets_per_s": 280.0, "jets_per_s_per_core": 140.0, "rss_peak_bytes": 610 * 2**20}])
COST = pd.DataFrame([{"model": "ParT_full", "backend": "eager", "precision": "fp32",
                      "core_hours_per_1e9_jets": 1852.0, "ms_per_event": 106.7, "budget_share": 0.1067}])
SERVING = pd.DataFrame([
    {"model": "ParT_full", "backend": "onnxruntime", "precision": "fp32", "scenario": "SingleStream",
     "p90_ms": 3.2, "achieved_qps": 300.0, "max_qps": float("nan"), "latency_bound_ms": 50.0, "reason": ""},
    {"model": "ParT_full", "backend": "onnxruntime", "precision": "fp32", "scenario": "Offline",
     "p90_ms": float("nan"), "achieved_qps": 410.0, "max_qps": float("nan"), "latency_bound_ms": 50.0, "reason": ""},
    {"model": "ParT_full", "backend": "onnxruntime", "precision": "fp32", "scenario": "Server",
     "p90_ms": 9.0, "achieved_qps": 250.0, "max_qps": 256.0, "latency_bound_ms": 50.0, "reason": ""}])


def test_the_opening_page_states_every_answer_and_names_its_figure():
    page = findings_markdown(ANSWER, DEPLOYMENT, MODELS, NODE, COST, SERVING)
    lines = [line for line in page.splitlines() if line.startswith("- ")]
    assert page.startswith(HEADER) and len(lines) == 5
    weights, rung, front, node, served = lines
    assert "no (`same`)" in weights and "1.004 [0.991, 1.017]" in weights and "weights_comparison.png" in weights
    assert "batch 1: `onnxruntime-fp32`, 2.03× [1.95, 2.11]" in rung and "batch 32: eager-fp32 (no variant" in rung
    assert "B (AUC 0.850, 1.00 ms)" in front and "A (AUC 0.900" in front and "C (" not in front
    assert "of 3 trained model(s)" in front and "accuracy_vs_cost.png" in front
    assert "280 jets/s (2×1" in node and "1852 core-hours" in node and "10.7 % of the budget" in node
    assert "at most 256 QPS with p99 within 50 ms" in served and "SingleStream: p90 3.20 ms" in served
    assert "Offline: 410 jets/s" in served and "served_latency.png" in served


def test_what_the_study_did_not_run_is_said_with_the_key_that_turns_it_on():
    unmet = SERVING[SERVING.scenario == "Server"].assign(max_qps=0.0, reason="p99 latency above the bound")
    page = findings_markdown(None, {"fastest": []}, MODELS.iloc[3:], pd.DataFrame(), None, unmet)
    assert "not compared" in page and "no rung was scored" in page and "no model both trained and timed" in page
    assert "not run (node.plans is empty)" in page
    assert "no rate met the 50 ms p99 bound (max QPS 0: p99 latency above the bound)" in page
    page = findings_markdown(ANSWER, None, None, None, None, None)
    assert "not run (serving.scenarios is empty, or results/serving/ was not copied)" in page


def test_findings_cli_writes_the_page_and_names_an_unreadable_input(tmp_path):
    answer = tmp_path / "weights_answer.json"
    answer.write_text(json.dumps(ANSWER))
    node = tmp_path / "node.csv"
    NODE.to_csv(node, index=False)
    out = tmp_path / "findings.md"
    done = subprocess.run([sys.executable, "-m", "jetprof.cli", "findings", "--answer", str(answer), "--node",
                           str(node), "--out-md", str(out)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert out.read_text().startswith(HEADER) and "280 jets/s" in out.read_text()
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    done = subprocess.run([sys.executable, "-m", "jetprof.cli", "findings", "--answer", str(broken), "--out-md",
                           str(tmp_path / "x.md")], capture_output=True, text=True)
    assert done.returncode == 1 and f"{broken}: not readable" in done.stderr and not (tmp_path / "x.md").exists()
