"""Serving through the real MLPerf LoadGen (``jetprof serve``): every scenario end to end on a
small model (PFN, random weights saved as a checkpoint) and 24 labelled test jets, LoadGen's
logs read back, the accuracy log scored against the labels, the Server search (an
unmeetable bound: max QPS 0), a stray audit.config ignored, the record's schema closed.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

torch = pytest.importorskip("torch")
pytest.importorskip("mlperf_loadgen")

from test_backends import _write_labelled  # noqa: E402

from jetprof.cli import main as jetprof_main  # noqa: E402
from jetprof.errors import JetprofError  # noqa: E402
from jetprof.metrics import macro_auc  # noqa: E402
from jetprof.model.build import build_model, load_data_config, load_weights  # noqa: E402
from jetprof.model.inputs import expand_data_glob, labelled_jets  # noqa: E402
from jetprof.profiling import loadgen_logs as logs  # noqa: E402
from jetprof.profiling import serving  # noqa: E402
from jetprof.records import validate_document  # noqa: E402
from jetprof.serving_records import ServingRecord, load_serving_record  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
NET = str(REPO / "workflow/weaver/PFN.py")
DATA = str(REPO / "workflow/weaver/JetClass_full.yaml")
JETS = 24


@pytest.fixture(scope="module")
def study(tmp_path_factory) -> dict[str, str]:
    """Labelled test jets of three classes, PFN's random weights as a checkpoint, and an
    ONNX export of those weights and of other ones."""
    from jetprof.model.export import export_onnx
    from jetprof.model.inputs import synthetic_batch

    d = tmp_path_factory.mktemp("serving")
    for i, label in enumerate(("label_QCD", "label_Hbb", "label_Tbqq")):
        _write_labelled(d / f"{label[6:]}_000.root", label, JETS // 3, seed=i)
    torch.manual_seed(3)
    model = build_model(NET, DATA).model
    torch.save(model.state_dict(), d / "net.pt")
    out = {"data": str(d / "*.root"), "checkpoint": str(d / "net.pt"), "dir": str(d)}
    for name, seed in (("onnx", None), ("other_onnx", 4)):
        if seed is not None:
            torch.manual_seed(seed)
        built = build_model(NET, DATA, for_inference=True)
        if seed is None:
            load_weights(built, d / "net.pt")
        batch = synthetic_batch(built.data_config, 2, 20, 0)
        export_onnx(built.model.eval(), built.model_info,
                    [torch.from_numpy(batch.arrays[n]) for n in built.input_names], str(d / f"{name}.onnx"))
        out[name] = str(d / f"{name}.onnx")
    return out


def serve(study: dict[str, str], out: Path, scenario: str, backend: str = "eager", precision: str = "fp32",
          bound: float = 200.0, onnx: str | None = None, steps: int = 1) -> ServingRecord:
    argv = ["serve", "--model", "PFN_full", "--network-config", NET, "--data-config", DATA,
            "--checkpoint", study["checkpoint"], "--backend", backend, "--precision", precision,
            "--scenario", scenario, "--data", study["data"], "--jets", str(JETS), "--threads", "1",
            "--max-batch", "4", "--max-queue-delay-ms", "1", "--latency-bound-ms", str(bound),
            "--min-duration-s", "0.2", "--min-query-count", "32", "--server-steps", str(steps), "--out", str(out)]
    if onnx:
        argv += ["--onnx", onnx]
    assert jetprof_main(argv) == 0
    doc = json.loads((out / "record.json").read_text())
    return load_serving_record(doc, str(out / "record.json"))


STRAY_AUDIT = "*.*.mode = 2\n*.SingleStream.min_query_count = 100000\n*.*.min_duration = 60000\n"


@pytest.fixture(scope="module")
def single_stream(study, tmp_path_factory) -> tuple[ServingRecord, Path]:
    """SingleStream with a stray audit.config in the working directory and in the output
    folder (mode 2 = performance only, and far more queries): neither may change the run."""
    import os

    here = tmp_path_factory.mktemp("cwd")
    out = here / "ss"
    out.mkdir()
    for d in (here, out):
        (d / "audit.config").write_text(STRAY_AUDIT)
    old = os.getcwd()
    os.chdir(here)
    try:
        return serve(study, out, "SingleStream"), out
    finally:
        os.chdir(old)


def test_single_stream_end_to_end_keeps_loadgen_s_logs_and_a_valid_record(single_stream):
    rec, out = single_stream
    for name in logs.LOGS:
        assert (out / name).is_file(), name
    assert rec.logs == list(logs.LOGS) and not (out / "mlperf_log_trace.json").exists()
    summary = logs.parse_summary(out / logs.SUMMARY)
    assert (rec.result, rec.valid) == (summary.result, summary.valid) == ("VALID", True)
    assert rec.p90_ms == summary.latency_ms["p90"] and rec.p50_ms <= rec.p90_ms <= rec.p99_ms
    assert rec.max_batch is None and rec.max_queue_delay_ms is None and rec.mean_batch == 1.0


def test_a_stray_audit_config_changes_nothing(single_stream):
    rec, out = single_stream
    text = (out / logs.SUMMARY).read_text()
    assert "Mode     : PerformanceOnly" in text and "min_query_count : 32" in text
    assert "min_duration (ms): 200" in text and rec.duration_s < 30
    assert "audit" not in (out / logs.DETAIL).read_text().lower().replace("audit.config", "")


def test_the_accuracy_log_is_scored_against_the_labels(single_stream, study):
    rec, out = single_stream
    served = logs.read_accuracy_log(out / logs.ACCURACY, 10)
    assert sorted(served) == list(range(JETS))  # every jet once
    _, labels = labelled_jets(expand_data_glob([study["data"]]), load_data_config(DATA), JETS)
    probs = np.stack([served[i] for i in range(JETS)])
    assert rec.accuracy is not None and rec.accuracy.passed and rec.accuracy.jets == JETS
    assert rec.accuracy.accuracy == pytest.approx(float(np.mean(probs.argmax(1) == labels)))
    assert rec.accuracy.auc_macro == pytest.approx(macro_auc(labels, probs))
    assert rec.accuracy.max_abs_diff < 1e-5  # eager fp32 against itself, batched otherwise


def test_the_scorer_refuses_a_log_that_misses_a_jet_or_holds_another_shape(tmp_path):
    probs = np.eye(3, dtype=np.float32)
    log = [{"seq_id": i, "qsl_idx": i, "data": probs[i].tobytes().hex()} for i in range(2)]
    (tmp_path / logs.ACCURACY).write_text(json.dumps(log))
    served = logs.read_accuracy_log(tmp_path / logs.ACCURACY, 3)
    with pytest.raises(JetprofError, match="1 of the 3 jets were not served"):
        logs.score(served, np.array([0, 1, 2]), probs.astype(float), "log", 1e-4)
    with pytest.raises(JetprofError, match="holds 3 numbers, not the 4 class probabilities"):
        logs.read_accuracy_log(tmp_path / logs.ACCURACY, 4)
    scored = logs.score(served, np.array([0, 0]), probs[:2].astype(float), "log", 1e-4)
    assert scored.accuracy == 0.5 and scored.auc_macro is None  # one class: no AUC
    assert scored.passed and scored.max_abs_diff == 0 and scored.tolerance == 1e-4


def test_offline_runs_the_batcher(study, tmp_path):
    rec = serve(study, tmp_path / "off", "Offline")
    assert rec.result == "VALID", rec.reason
    assert rec.max_batch == 4 and rec.max_queue_delay_ms == 1.0
    assert rec.mean_batch is not None and 1 < rec.mean_batch <= 4
    summary = logs.parse_summary(tmp_path / "off" / logs.SUMMARY)
    assert rec.achieved_qps == summary.achieved_qps > 0 and rec.target_qps == summary.target_qps


def test_server_finds_a_rate_and_an_unmeetable_bound_gives_max_qps_0(study, tmp_path):
    rec = serve(study, tmp_path / "srv", "Server", bound=500.0)
    assert rec.valid and rec.max_qps and rec.max_qps > 0 and rec.max_qps == rec.target_qps
    assert rec.p99_ms is not None and rec.p99_ms <= 500.0
    assert len(rec.server_search) >= 2 and any(p.result == "VALID" for p in rec.server_search)
    never = serve(study, tmp_path / "never", "Server", bound=0.001, steps=3)
    assert never.max_qps == 0.0 and not never.valid and never.result == "INVALID"
    assert never.reason and never.reason.startswith("no rate meets p99 <= 0.001 ms")
    assert len(never.server_search) == 1 and (tmp_path / "never" / logs.SUMMARY).is_file()


def test_onnxruntime_serves_the_export_and_a_wrong_export_is_not_served(study, tmp_path):
    rec = serve(study, tmp_path / "ort", "SingleStream", backend="onnxruntime", onnx=study["onnx"])
    assert rec.result == "VALID" and rec.accuracy is not None and rec.accuracy.passed
    wrong = serve(study, tmp_path / "wrong", "SingleStream", backend="onnxruntime", onnx=study["other_onnx"])
    assert wrong.result == "NOT SERVED" and not wrong.valid and wrong.p50_ms is None
    assert wrong.reason and "differ from eager fp32" in wrong.reason and not wrong.accuracy.passed


def test_the_record_schema_is_closed(single_stream):
    rec, _ = single_stream
    doc = rec.to_json()
    validate_document("serving record", doc, "rec")
    for where in ((), ("settings",), ("accuracy",)):
        bad = json.loads(json.dumps(doc))
        level = bad
        for key in where:
            level = level[key]
        level["surprise"] = 1
        with pytest.raises(JetprofError, match="surprise"):
            validate_document("serving record", bad, "rec")
        with pytest.raises(JetprofError, match="unknown field\\(s\\) surprise"):
            ServingRecord.from_json(bad, "rec")


def test_a_missing_loadgen_is_one_line(monkeypatch):
    monkeypatch.setitem(sys.modules, "mlperf_loadgen", None)  # what an aarch64 install lacks
    with pytest.raises(JetprofError, match=r"mlcommons-loadgen.*aarch64"):
        serving.loadgen()


# -- the workflow: what a config serves, and what it refuses before any job ----------------


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    from conftest import copy_repo

    return copy_repo(tmp_path_factory.mktemp("serving_repo"))


def _dry_run(repo: Path, serving: dict) -> subprocess.CompletedProcess[str]:

    (repo / "serving.yaml").write_text(yaml.safe_dump({"serving": serving}))
    cmd = [sys.executable, "-m", "snakemake", "-n", "--cores", "2", "--configfile", "config/config.yaml",
           "serving.yaml"]
    return subprocess.run(cmd, cwd=repo, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize(("serving", "line"), [
    ({"scenarios": ["Bogus"]}, "serving.scenarios.0: 'Bogus' is not one of"),
    ({"scenarios": ["Server"], "latency_bound_ms": 0}, "serving.latency_bound_ms: 0 is less than or equal to"),
    ({"scenarios": ["Offline"], "backends": ["eager-int8"]},
     "serving.backends[0]: eager-int8 is not a rung the profile measures for ParT_full"),
    ({"scenarios": ["Offline"], "backends": ["eager-fp16"]}, "serving.backends[0]: eager-fp16"),
])
def test_bad_serving_input_is_refused_in_one_line_before_any_job(repo, serving, line):
    proc = _dry_run(repo, serving)
    assert proc.returncode != 0
    assert line in proc.stderr, proc.stderr[-2000:]
    assert "serve_rung" not in proc.stdout  # no job was planned


def test_the_default_study_serves_its_main_rung_in_two_scenarios(repo):
    import yaml

    from jetprof import serving_plan as sp
    from jetprof.config import schema_defaults

    config = yaml.safe_load((repo / "config" / "config.yaml").read_text())
    section = sp.section(config, schema_defaults("serving"))
    assert sp.records(config, section) == [
        f"results/serving/ParT_full/cpu/onnxruntime-fp32/{s}/record.json" for s in ("SingleStream", "Offline")]
    assert sp.records(config, sp.section({**config, "serving": {}}, schema_defaults("serving"))) == []
    assert "--min-duration-s 1.0" in sp.flags(config, section, "ParT_full", "onnxruntime", "fp32", "cpu", "Offline")


def test_where_loadgen_is_missing_a_serving_study_stops_in_one_line(monkeypatch):
    import importlib.util

    from jetprof import serving_plan as sp

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda n, *a: None if n == "mlperf_loadgen" else real(n, *a))
    config = {"weaver": {"model_name": "ParT_full"}, "profile": {"backends": ["eager-fp32"], "devices": ["cpu"]}}
    lines = sp.problems(config, {"scenarios": ["SingleStream"], "backends": ["eager-fp32"]})
    assert len(lines) == 1 and lines[0].startswith("serving.scenarios: MLPerf LoadGen (mlcommons-loadgen)")
