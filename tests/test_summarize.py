"""Tests of ``jetprof summarize``: records -> one table (CSV + Markdown).

The record factory here follows the "Profile record" contract of
docs/architecture.md; tests/test_plots.py reuses it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from jetprof.cli import main
from jetprof.errors import JetprofError
from jetprof.records import load_record
from jetprof.report.summarize import build_table, load_records, markdown_table, summarize

TOP_OPS = ["aten::addmm", "aten::_scaled_dot_product_flash_attention_for_cpu", "aten::gelu",
           "aten::native_layer_norm", "aten::bmm", "aten::mul", "aten::add", "aten::copy_",
           "aten::softmax", "aten::cat", "aten::nonzero"]


def make_record(
    *,
    weights: str = "trained",
    device: str = "cpu",
    backend: str = "eager",
    precision: str = "fp32",
    batch_size: int = 8,
    particles: int | str = "real",
    status: str = "ok",
    latency_ms: float | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """A realistic profile record (values in the range measured on this machine)."""
    n = 30 if particles == "real" else int(particles)
    if latency_ms is None:
        # ~22 ms at batch 1, 128 particles on one thread; roughly linear in batch and N
        latency_ms = (2.0 + 0.16 * n * batch_size) * (0.6 if backend == "onnxruntime" else 1.0)
        if backend == "onnxruntime":  # no trimming: always 128 particles
            latency_ms = (2.0 + 0.16 * 128 * batch_size) * 0.45
    rng = np.random.default_rng(seed + batch_size + n)
    samples = [float(v) for v in latency_ms * (1 + 0.02 * rng.standard_normal(15))]
    flops = 0.670e9 * n / 128
    record: dict[str, Any] = {
        "schema_version": 1, "model": "ParT_full", "weights": weights, "device": device,
        "backend": backend, "precision": precision, "batch_size": batch_size,
        "particles": particles, "particles_mean": 29.7 if particles == "real" else n,
        "particles_padded": 64 if particles == "real" else n,
        "status": status, "error": None,
        "latency_ms_p5": float(np.percentile(samples, 5)),
        "latency_ms_p50": float(np.percentile(samples, 50)),
        "latency_ms_p95": float(np.percentile(samples, 95)),
        "latency_ms_mean": float(np.mean(samples)), "latency_ms_samples": samples,
        "cpu_ms_p50": float(np.percentile(samples, 50)) * 0.99, "cpu_ms_samples": samples,
        "wall_over_cpu": 1.01, "contention_suspect": False, "warmup_calls": 6, "repeats": 15,
        "throughput_jets_per_s": batch_size * 1e3 / float(np.percentile(samples, 50)),
        "peak_memory_bytes": None if backend == "onnxruntime" else int(6.5 * 2**20 * batch_size * n / 128),
        "peak_reserved_bytes": None,
        "memory_method": "not_measured" if backend == "onnxruntime" else "profiler_memory_events",
        "memory_note": None, "flops_per_jet": flops, "flops_particles": n,
        "flops_method": "FlopCounterMode+sdpa", "params": 2143486,
        "achieved_flops_per_s": flops * batch_size * 1e3 / float(np.percentile(samples, 50)),
        "ops_table": None, "trace": None,
        "top_ops": [{"name": name, "self_ms": float(40.0 / (i + 1) * batch_size ** (1 - 0.05 * i)),
                     "calls": 10 * (i + 1)} for i, name in enumerate(TOP_OPS)],
        "checkpoint": None, "seed": 1, "threads": 1,
        "inputs": {"kind": "real", "files": ["val/a.root:0-8"], "repeated": False, "distinct_jets": 8,
                   "particles_min": 1, "particles_max": n, "shapes": {"pf_mask": [batch_size, 1, n]}},
        "env": {"host": "testhost", "platform": "Linux", "python": "3.11.7",
                "cpu_model": "Test CPU @ 2.0GHz", "gpu_name": None if device == "cpu" else "NVIDIA H100",
                "gpu_driver": None, "cuda_version": None, "torch": "2.13.0+cpu",
                "weaver": "0.5.3", "onnxruntime": "1.32.0", "numpy": "2.4.6", "jetprof": "0.1.0",
                "threads": 1, "interop_threads": 1, "parallel_info": "ATen/Parallel:\n at::get_num_threads() : 1",
                "git_revision": "abc123", "config_hash": "deadbeef"},
        "started_utc": "2025-01-01T00:00:00Z", "duration_s": 3.2,
    }
    if status != "ok":
        for key in ("latency_ms_p5", "latency_ms_p50", "latency_ms_p95", "latency_ms_mean",
                    "cpu_ms_p50", "throughput_jets_per_s", "peak_memory_bytes",
                    "achieved_flops_per_s"):
            record[key] = None
        record["latency_ms_samples"] = []
        record["top_ops"] = []
        record["error"] = "RuntimeError: DefaultCPUAllocator: can't allocate memory" if status == "oom" else "boom"
    return record


def record_path(root: Path, rec: dict[str, Any]) -> Path:
    """Where the profiler puts a record (architecture.md layout)."""
    return (root / rec["model"] / rec["weights"] / rec["device"]
            / f"{rec['backend']}-{rec['precision']}" / f"p{rec['particles']}"
            / f"bs{rec['batch_size']}.json")


def write_study(root: Path, *, oom_at: int | None = 64) -> list[dict[str, Any]]:
    """A small study: 2 weights × 2 backends × 4 batch sizes + multiplicity + peak."""
    records = []
    for weights in ("random", "trained"):
        for backend in ("eager", "onnxruntime"):
            for batch in (1, 8, 32, 64):
                status = "oom" if (oom_at == batch and backend == "eager") else "ok"
                records.append(make_record(weights=weights, backend=backend, batch_size=batch,
                                           status=status, seed=7 if weights == "random" else 3))
    for backend in ("eager", "onnxruntime"):
        for n in (16, 32, 64, 128):
            records.append(make_record(backend=backend, particles=n, batch_size=8))
    for rec in records:
        path = record_path(root, rec)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(rec))
    peak = root / "peak" / "cpu.json"
    peak.parent.mkdir(parents=True, exist_ok=True)
    peak.write_text(json.dumps({"device": "cpu", "dtype": "float32", "matmul_flops_per_s": 9.0e10,
                                "matrix_size": 2048, "env": {}}))
    return records


def test_summarize_directory_one_row_per_point(tmp_path: Path) -> None:
    records = write_study(tmp_path / "profile")
    table = summarize([tmp_path / "profile"], tmp_path / "out" / "points.csv",
                      tmp_path / "out" / "points.md")
    assert len(table) == len(records)  # the peak record was skipped
    csv = pd.read_csv(tmp_path / "out" / "points.csv", dtype={"particles": str})
    assert len(csv) == len(records)
    # values in the table are the records' values
    rec = next(r for r in records if r["weights"] == "random" and r["backend"] == "eager"
               and r["batch_size"] == 8 and r["particles"] == "real")
    row = csv[(csv.weights == "random") & (csv.backend == "eager") & (csv.batch_size == 8)
              & (csv.particles == "real")]
    assert len(row) == 1
    assert row.latency_ms_p50.iloc[0] == pytest.approx(rec["latency_ms_p50"])
    assert row.peak_memory_bytes.iloc[0] == rec["peak_memory_bytes"]
    assert row.env_cpu_model.iloc[0] == "Test CPU @ 2.0GHz"
    assert row.env_torch.iloc[0] == "2.13.0+cpu"
    assert row.env_threads.iloc[0] == 1
    assert row.latency_samples_n.iloc[0] == 15
    assert "latency_ms_samples" not in csv.columns and "top_ops" not in csv.columns
    assert "env_parallel_info" not in csv.columns
    assert row.record_path.iloc[0].endswith("ParT_full/random/cpu/eager-fp32/preal/bs8.json")
    # the oom point is a row with its status and error message
    oom = csv[csv.status == "oom"]
    assert len(oom) == 2 and set(oom.batch_size) == {64}
    assert oom.latency_ms_p50.isna().all()
    assert oom.error.str.contains("can't allocate").all()


def test_sort_order_is_deterministic(tmp_path: Path) -> None:
    write_study(tmp_path / "p")
    table = summarize([tmp_path / "p"], tmp_path / "a.csv")
    keys = list(zip(table.weights, table.backend, table.particles, table.batch_size))
    # random before trained, eager before onnxruntime, real before N, N and batch numeric
    assert keys[0] == ("random", "eager", "real", 1)
    assert keys[3] == ("random", "eager", "real", 64)
    trained_eager = [k for k in keys if k[0] == "trained" and k[1] == "eager"]
    assert [k[2] for k in trained_eager] == ["real"] * 4 + ["16", "32", "64", "128"]
    # same output from the same records given in another order
    files = sorted((tmp_path / "p").rglob("bs*.json"))
    again = summarize(list(reversed(files)), tmp_path / "b.csv")
    assert (tmp_path / "a.csv").read_text().replace(str(tmp_path / "p"), "") == \
        (tmp_path / "b.csv").read_text().replace(str(tmp_path / "p"), "")
    assert list(again.batch_size) == list(table.batch_size)


def test_markdown_table_content(tmp_path: Path) -> None:
    records = write_study(tmp_path / "p")
    table = build_table(load_records([tmp_path / "p"]))
    md = markdown_table(table)
    lines = [line for line in md.splitlines() if line.startswith("| ParT_full")]
    assert len(lines) == len(records)
    first = records[0]  # random eager bs1 real
    assert f"| {first['latency_ms_p50']:.2f} |" in lines[0]
    assert "| oom: RuntimeError: DefaultCPUAllocator" in md
    assert "cpu: Test CPU @ 2.0GHz, torch 2.13.0+cpu, 1 thread(s)" in md


def test_cli_writes_both_outputs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_study(tmp_path / "p", oom_at=None)
    rc = main(["summarize", "--out-csv", str(tmp_path / "s.csv"), "--out-md",
               str(tmp_path / "s.md"), str(tmp_path / "p")])
    assert rc == 0
    assert "24 point(s), 24 ok" in capsys.readouterr().out
    assert (tmp_path / "s.md").read_text().startswith("| model | weights |")
    assert not list(tmp_path.glob(".s.*"))  # no temporary files left


def test_bad_inputs_are_one_line_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(JetprofError, match=r"bad.json: not valid JSON"):
        load_records([bad])
    peak = tmp_path / "peak.json"
    peak.write_text(json.dumps({"device": "cpu", "matmul_flops_per_s": 1.0}))
    with pytest.raises(JetprofError, match=r"peak.json: not a profile record"):
        load_records([peak])
    partial = make_record()
    del partial["status"]
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "r.json").write_text(json.dumps(partial))
    with pytest.raises(JetprofError,
                       match=r"r.json: invalid profile record at \(top level\): 'status' is a required property"):
        load_records([tmp_path / "d"])
    misspelt = {**make_record(), "latency_p50": 1.0}  # a key the record type does not know
    (tmp_path / "m.json").write_text(json.dumps(misspelt))
    with pytest.raises(JetprofError, match=r"m.json: invalid profile record at \(top level\): .*'latency_p50'"):
        load_records([tmp_path / "m.json"])
    # the same point twice
    (tmp_path / "e" / "x").mkdir(parents=True)
    (tmp_path / "e" / "a.json").write_text(json.dumps(make_record()))
    (tmp_path / "e" / "x" / "b.json").write_text(json.dumps(make_record()))
    with pytest.raises(JetprofError, match=r"same point as"):
        load_records([tmp_path / "e"])
    # empty directory -> nothing written, one line on stderr
    (tmp_path / "empty").mkdir()
    out = tmp_path / "o.csv"
    rc = main(["summarize", "--out-csv", str(out), str(tmp_path / "empty")])
    err = capsys.readouterr().err
    assert rc == 1 and not out.exists()
    assert err.count("\n") == 1 and "no profile records found" in err
    rc = main(["summarize", "--out-csv", str(out), str(tmp_path / "missing")])
    assert rc == 1 and "missing: no such file or directory" in capsys.readouterr().err


def test_models_table_beside_the_paper(tmp_path: Path) -> None:
    from jetprof.report.models import models_table

    recs = [make_record(weights="trained", batch_size=bs) for bs in (1, 8, 32)]
    recs += [make_record(weights="random", batch_size=bs) for bs in (1, 8, 32)]
    table = build_table([(tmp_path / f"r{i}.json", load_record(r)) for i, r in enumerate(recs)])
    models = models_table(table, {"ParT_full": {"accuracy": 0.41, "auc_macro": 0.84}})
    assert len(models) == 1
    row = models.iloc[0]
    trained = {r["batch_size"]: r for r in recs if r["weights"] == "trained"}
    assert row.latency_ms_p50_bs1 == pytest.approx(trained[1]["latency_ms_p50"])
    best = max(trained.values(), key=lambda r: r["throughput_jets_per_s"])
    assert row.throughput_batch_size == best["batch_size"]
    assert row.throughput_jets_per_s_max == pytest.approx(best["throughput_jets_per_s"])
    assert row.macs_per_jet == pytest.approx(row.flops_per_jet / 2)
    assert row.accuracy == 0.41 and row.paper_params == 2.14e6 and row.paper_macs == 340e6


def test_summarize_cli_writes_the_models_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    recs = [make_record(weights="trained", batch_size=bs) for bs in (1, 8)]
    folder = tmp_path / "profile"
    for r in recs:
        path = folder / f"bs{r['batch_size']}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(r))
    metrics = tmp_path / "metrics.json"
    metrics.write_text(json.dumps({"accuracy": 0.5, "auc_ovr_macro": 0.9}))
    rc = main(["summarize", str(folder), "--out-csv", str(tmp_path / "p.csv"), "--models-csv",
               str(tmp_path / "m.csv"), "--metrics", f"ParT_full={metrics}"])
    assert rc == 0, capsys.readouterr().err
    models = pd.read_csv(tmp_path / "m.csv")
    assert models.auc_macro.tolist() == [0.9] and models.model.tolist() == ["ParT_full"]


REPO = Path(__file__).resolve().parents[1]
GOLDEN = REPO / "tests" / "data" / "summary_golden"
#: real records (as written by jetprof now: records_v2; before the records were typed: records_v1 and
#: the H100 reference), and the tables the untyped summarize built from them (tests/data/summary_golden)
GOLDEN_INPUTS = {
    "records_v2": [f"tests/data/records_v2/{n}-bs3.json" for n in ("eager-int8", "eager_bucketed-fp32",
                                                                  "onnxruntime-int8")],
    "records_v1": [f"tests/data/records_v1/{n}-bs2.json" for n in ("eager-fp32", "onnxruntime-fp32")],
    "h100": ["results/reference/h100/profile"],
}


@pytest.mark.parametrize("name", sorted(GOLDEN_INPUTS))
def test_the_table_of_real_records_is_the_one_summarize_always_wrote(
        name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)  # record_path as given: relative to the repository
    out = tmp_path / "points.csv"
    table = summarize(GOLDEN_INPUTS[name], out, tmp_path / "points.md")
    golden_csv = (GOLDEN / f"{name}.csv").read_text()
    assert (tmp_path / "points.md").read_text() == (GOLDEN / f"{name}.md").read_text()
    columns = golden_csv.splitlines()[0].split(",")
    assert sorted(table.columns) == sorted(columns)
    # the same cells, written the same way
    assert table[columns].to_csv(index=False, lineterminator="\n") == golden_csv
    if name == "records_v2":  # written in the order jetprof writes records: the very same file
        assert out.read_text() == golden_csv
