"""``jetprof cost``: the cost arithmetic against hand-computed values from a hand-made node.csv,
SONIC's clients per GPU from hand-made cuda rows, and the node figure from the same table."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from jetprof.errors import JetprofError
from jetprof.report.cost import COST_COLUMNS, NODE_COLUMNS, cost_rows, node_throughput, read_node_table

NODE_CSV = """model,weights,device,backend,precision,processes,threads,cores,batch_size,jets_per_s,jets_per_s_per_core,\
client_jets_per_s,rss_peak_bytes,slot_bytes,memory_per_core_gb,fits_slot,window_s,latency_ms_p50,process_mode,cpu_model,\
record_path
A,trained,cpu,eager,fp32,1,1,1,32,1000,1000,1000,500000000,2000000000,2,True,2,32,fork,cpu X,a/1x1.json
A,trained,cpu,eager,fp32,2,1,2,32,1800,900,900,510000000,2000000000,2,True,2,35,fork,cpu X,a/2x1.json
A,trained,cpu,onnxruntime,fp32,1,2,2,32,3000,1500,3000,600000000,4000000000,2,True,2,10,fork,cpu X,a/1x2.json
B,trained,cpu,eager,int8,2,1,2,32,400,200,200,2500000000,2000000000,2,False,2,160,fork,cpu X,b/2x1.json
C,trained,cpu,eager,fp32,1,1,1,32,50,50,50,300000000,2000000000,2,True,2,640,fork,cpu X,c/1x1.json
"""

POINTS_CSV = """model,weights,device,backend,precision,particles,batch_size,status,throughput_jets_per_s
A,trained,cuda:0,eager,fp32,real,32,ok,20000
A,trained,cuda:0,eager,fp32,real,256,ok,60000
A,trained,cuda:0,eager,fp32,real,1024,oom,
A,trained,cuda:0,onnxruntime,fp32,real,256,ok,90000
A,trained,cpu,eager,fp32,real,32,ok,1100
B,trained,cuda:0,eager,fp16,real,512,ok,8000
B,trained,cuda:0,eager,fp32,real,512,ok,5000
B,random,cuda:0,eager,fp16,128,4096,ok,9000
"""


@pytest.fixture
def tables(tmp_path) -> tuple[pd.DataFrame, pd.DataFrame]:
    (tmp_path / "node.csv").write_text(NODE_CSV)
    (tmp_path / "points.csv").write_text(POINTS_CSV)
    return read_node_table(tmp_path / "node.csv"), pd.read_csv(tmp_path / "points.csv", dtype={"particles": str})


def test_the_cost_of_a_billion_jets_and_of_an_event_by_hand(tables):
    node, points = tables
    rows = {(r.model, r.backend, r.precision): r for r in cost_rows(node, points, 16, 1000)}
    a = rows[("A", "eager", "fp32")]
    assert a.best_plan == "1x1"  # 1000 jets/s per core beats the 2x1 plan's 900
    assert a.core_hours_per_1e9_jets == pytest.approx(1e9 / 1000 / 3600)  # 277.8 core-hours
    assert a.ms_per_jet_per_core == pytest.approx(1.0)
    assert a.ms_per_event == pytest.approx(16.0) and a.budget_share == pytest.approx(0.016)
    ort = rows[("A", "onnxruntime", "fp32")]
    assert ort.core_hours_per_1e9_jets == pytest.approx(1e9 / 1500 / 3600)
    assert ort.ms_per_event == pytest.approx(16 / 1.5) and ort.budget_share == pytest.approx(16 / 1.5 / 1000)
    c = rows[("C", "eager", "fp32")]
    assert c.ms_per_event == pytest.approx(320.0) and c.budget_share == pytest.approx(0.32)
    other = {r.model: r for r in cost_rows(node, points, 10, 500)}["C"]
    assert other.ms_per_event == pytest.approx(200.0) and other.budget_share == pytest.approx(0.4)


def test_clients_per_gpu_divide_the_gpu_s_best_batch_by_one_client(tables):
    node, points = tables
    rows = {(r.model, r.backend, r.precision): r for r in cost_rows(node, points, 16, 1000)}
    a = rows[("A", "eager", "fp32")]  # best GPU batch 256 (60000 jets/s), one 1x1 process: 1000 jets/s
    assert (a.gpu_device, a.gpu_backend, a.gpu_batch_size, a.gpu_particles, a.gpu_jets_per_s) == (
        "cuda:0", "eager", 256, "real", 60000)
    assert a.client_jets_per_s == pytest.approx(1000) and a.clients_per_gpu == pytest.approx(60.0)
    ort = rows[("A", "onnxruntime", "fp32")]  # the same rung on the GPU; the client is the 1x2 process
    assert ort.clients_per_gpu == pytest.approx(90000 / 3000)
    b = rows[("B", "eager", "int8")]  # no int8 GPU point: the model's fastest GPU rung, named
    assert (b.gpu_backend, b.gpu_precision) == ("eager", "fp16")  # on real jets: the p128 point is not the node's jets
    assert b.client_jets_per_s == pytest.approx(200) and b.clients_per_gpu == pytest.approx(40.0)
    assert rows[("C", "eager", "fp32")].clients_per_gpu is None
    synthetic = points[points["particles"] == "128"]  # no GPU point on real jets: the one there is, named
    b128 = {r.model: r for r in cost_rows(node, synthetic, 16, 1000)}["B"]
    assert (b128.gpu_particles, b128.gpu_batch_size, b128.clients_per_gpu) == ("128", 4096, pytest.approx(45.0))
    assert all(r.clients_per_gpu is None for r in cost_rows(node, None, 16, 1000))


def test_bad_cost_settings_are_refused(tables):
    with pytest.raises(JetprofError, match="must be > 0"):
        cost_rows(tables[0], None, 0, 1000)


def test_the_node_figure_draws_each_plan_its_ideal_and_its_slot(tables):
    plot = node_throughput(tables[0])
    data = plot.data.set_index(["model", "backend", "precision", "plan"])
    assert data.loc[("A", "eager", "fp32", "2x1"), "ideal_jets_per_s"] == pytest.approx(2000)  # 1x1 x 2 cores
    assert data.loc[("A", "onnxruntime", "fp32", "1x2"), "ideal_jets_per_s"] == pytest.approx(3000)
    assert not data.loc[("B", "eager", "int8", "2x1"), "fits_slot"]
    assert len(plot.data) == 5
    assert node_throughput(tables[0].iloc[0:0]).data.empty


def test_the_command_writes_the_tables_from_real_records(tmp_path):
    from test_records import _node

    doc = _node()
    path = tmp_path / "node" / "ParT_full" / "cpu" / "eager-fp32" / "2x1.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(doc))
    (tmp_path / "points.csv").write_text(POINTS_CSV.replace("A,", "ParT_full,"))
    out = {k: tmp_path / f"{k}.{ext}" for k, ext in (("node", "csv"), ("cost", "csv"), ("md", "md"))}
    done = subprocess.run([sys.executable, "-m", "jetprof.cli", "cost", "--out-node", str(out["node"]),
                           "--out-csv", str(out["cost"]), "--out-md", str(out["md"]),
                           "--points", str(tmp_path / "points.csv"), str(tmp_path / "node")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    node, cost = pd.read_csv(out["node"]), pd.read_csv(out["cost"])
    assert list(node.columns) == list(NODE_COLUMNS) and list(cost.columns) == list(COST_COLUMNS)
    assert node.loc[0, "jets_per_s"] == pytest.approx(1590.5) and node.loc[0, "rss_peak_bytes"] == 400_000_001
    assert cost.loc[0, "core_hours_per_1e9_jets"] == pytest.approx(1e9 / 795.25 / 3600)
    assert cost.loc[0, "clients_per_gpu"] == pytest.approx(60000 / (1590.5 / 2))
    assert "| ParT_full | eager-fp32 | 2x1 |" in out["md"].read_text()
    doc["per_process"][0]["rss_peak"] = 1
    path.write_text(json.dumps(doc))
    bad = subprocess.run([sys.executable, "-m", "jetprof.cli", "cost", "--out-node", str(out["node"]),
                          "--out-csv", str(out["cost"]), "--out-md", str(out["md"]), str(path)],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 1 and len(bad.stderr.strip().splitlines()) == 1
    assert str(path) in bad.stderr and "per_process/0" in bad.stderr


def test_a_study_without_node_runs_writes_empty_tables(tmp_path):
    out = [tmp_path / "node.csv", tmp_path / "cost.csv", tmp_path / "cost.md"]
    done = subprocess.run([sys.executable, "-m", "jetprof.cli", "cost", "--out-node", str(out[0]),
                           "--out-csv", str(out[1]), "--out-md", str(out[2])], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert read_node_table(out[0]).empty and pd.read_csv(out[1]).empty
    assert "No node record" in Path(out[2]).read_text()
