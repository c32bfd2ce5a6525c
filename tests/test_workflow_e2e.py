"""End to end: the real workflow (snakemake as a subprocess) on .test/config/config.yaml.

One run in a private copy of the repository is shared by the tests below; each
checks content: records parse and hold positive latencies, the checkpoint loads
into the model, the summary table equals the records, a second run has nothing
to do, and regenerating figures from stored records runs only plotting rules.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import copy_repo

pytestmark = pytest.mark.slow

CONFIG = ".test/config/config.yaml"
PLOT_RULES = {"summarize_records", "compare_variants", "summarize_node", "summarize_serving", "findings", "figures"}


def snakemake(workdir: Path, *args: str, timeout: int = 1500) -> subprocess.CompletedProcess:
    # targets and flags first: --configfile takes several values and would swallow a target
    cmd = [sys.executable, "-m", "snakemake", *args, "--cores", "2", "--configfile", CONFIG]
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    return subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, timeout=timeout, env=env)


def jobs_run(output: str) -> dict[str, int]:
    """Parse Snakemake's 'Job stats' table: rule -> count."""
    stats: dict[str, int] = {}
    in_table = False
    for line in output.splitlines():
        if line.startswith("Job stats:"):
            in_table, stats = True, {}
            continue
        if in_table:
            m = re.match(r"^(\S+)\s+(\d+)\s*$", line.strip())
            if m and m.group(1) not in ("job", "total"):
                stats[m.group(1)] = int(m.group(2))
            elif line.strip() == "" and stats:
                in_table = False
    return stats


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    work = copy_repo(tmp_path_factory.mktemp("study"))
    proc = snakemake(work)
    log = proc.stdout + proc.stderr
    if proc.returncode != 0:
        logs = "\n".join(
            f"--- {p}\n{p.read_text()[-3000:]}" for p in sorted((work / "results/logs").rglob("*.log"))
        )
        pytest.fail(f"snakemake failed ({proc.returncode}):\n{log[-6000:]}\n{logs[-12000:]}")
    return work, log


def records(work: Path) -> list[dict]:
    paths = sorted((work / "results/profile").glob("*/*/*/*/*/bs*.json"))
    return [json.loads(p.read_text()) for p in paths]


def test_every_point_has_a_positive_record(study):
    work, _ = study
    recs = records(work)
    # test config: 2 weights x 2 backends x 2 batch sizes (real jets) + 2 multiplicity points,
    # and ParT_kin with random weights x 2 backends x 2 batch sizes
    assert len(recs) == 14
    assert sum(rec["model"] == "ParT_kin" for rec in recs) == 4
    for rec in recs:
        assert rec["status"] == "ok", rec.get("error")
        assert rec["latency_ms_p50"] > 0
        # 4 rounds in each of the group's 2 fresh processes
        assert len(rec["latency_ms_samples"]) == rec["repeats"] == rec["paired"]["rounds"] == 8
        assert rec["paired"]["round_process"] == [0] * 4 + [1] * 4 and rec["paired"]["processes"] == 2
        assert rec["paired"]["clock"] == "cpu" and rec["paired"]["half_width"] > 0
        assert rec["throughput_jets_per_s"] == pytest.approx(
            rec["batch_size"] / rec["latency_ms_p50"] * 1000, rel=1e-6
        )
        if rec["backend"] == "eager":
            assert rec["peak_memory_bytes"] > 0
            assert rec["memory_method"] == "profiler_memory_events"
            assert rec["warmup_calls"] == rec["model_warmup_calls"] + 1 == 6
        else:  # ONNX Runtime's allocator is not instrumented: said, not faked
            assert rec["peak_memory_bytes"] is None and rec["memory_method"] == "not_measured"
            assert rec["onnx"]["max_abs_diff_vs_eager"] < 1e-4
        # 17 input features vs the 7 kinematic ones: only the input embedding differs
        assert rec["params"] == {"ParT_full": 2_143_486, "ParT_kin": 2_142_166}[rec["model"]]
        assert rec["weights"] == "random" or rec["model"] == "ParT_full"
        assert rec["process"] == "fork"  # CPU groups: forked from their job's warm parent
        assert (work / "results" / rec["paired"]["group"]).is_file()


def test_the_study_runs_as_comparison_groups_in_two_jobs(study):
    work, log = study
    ran = jobs_run(log)
    jobs = {r: n for r, n in ran.items() if r.startswith("profile_")}
    # test config: the real-jet groups (bs 1, 4: ParT_full random/trained x eager/onnxruntime,
    # ParT_kin random x eager/onnxruntime, a control) and the multiplicity groups (p16, p64)
    assert jobs == {"profile_cpu_preal_bs1_4": 1, "profile_cpu_p16_64_bs2": 1}, ran
    groups = sorted((work / "results/paired").rglob("bs*.json"))
    assert len(groups) == 4
    real = json.loads((work / "results/paired/cpu/preal/bs4.json").read_text())
    assert len(real["variants"]) == 7 and all(v["status"] == "ok" for v in real["variants"])
    assert all(sorted(r) == sorted(v["label"] for v in real["variants"]) for r in real["rounds"])


def test_comparisons_and_the_weights_answer(study):
    import pandas as pd

    work, _ = study
    table = pd.read_csv(work / "results/summary/comparisons.csv")
    # per real-jet group: control, 2 weights, 3 backends (full random/trained, kin), 2 models;
    # per multiplicity group: the control
    assert sorted(table["axis"].value_counts().items()) == [
        ("backend", 6), ("control", 4), ("model", 4), ("weights", 4)]
    assert set(table["verdict"]) <= {"same", "different", "inconclusive"}
    assert (table["rounds"] == 8).all() and (table["ci95_low"] <= table["ratio"]).all()
    assert set(table["method"]) == {"processes-t"} and (table["processes"] == 2).all()
    answer = json.loads((work / "results/summary/weights_answer.json").read_text())
    findings = (work / "results/summary/findings.md").read_text()  # the report's opening page
    assert findings.startswith("# What the study found") and f"(`{answer['verdict']}`)" in findings
    assert "weights_comparison.png" in findings and "node_throughput.png" in findings
    assert answer["verdict"] in ("same", "different", "inconclusive") and answer["threshold"] == 0.05
    assert len(answer["comparisons"]) == 4 and len(answer["control"]) == 4
    pooled = {(p["axis"], p["variant"]): p for p in answer["pooled"]}
    assert pooled[("weights", "trained")]["points"] == 4  # eager and onnxruntime at bs 1 and 4
    assert all(p["ci95"][0] <= p["ratio"] <= p["ci95"][1] for p in answer["pooled"])
    assert answer["memory_identical"] and answer["flops_identical"]
    assert answer["subnormal"]["ParT_full/trained"]["weights"] == 0
    md = (work / "results/summary/weights_answer.md").read_text()
    assert f"verdict `{answer['verdict']}`" in md
    # which CPU, its subnormal penalty (from the peak record), and whether the verdict carries over
    cpu = answer["cpu"]
    assert cpu["measured_on"] and cpu["subnormal_penalty"]["subnormal_fraction"] == 1.0
    assert cpu["carries_over"].startswith("yes")  # no subnormal weight or activation in either state
    assert "Does this carry over to another CPU?" in md and cpu["measured_on"][0] in md


def test_checkpoint_loads_into_the_model(study):
    from jetprof.model.build import build_model, load_weights

    work, _ = study
    built = build_model(work / "workflow/weaver/ParT.py", work / "workflow/weaver/JetClass_full.yaml")
    info = load_weights(built, work / "results/train/ParT_full/net_best_epoch_state.pt")
    assert info["legacy_04"] is False


def test_summary_table_equals_records(study):
    import pandas as pd

    work, _ = study
    table = pd.read_csv(work / "results/summary/points.csv")
    recs = records(work)
    assert len(table) == len(recs)
    by_key = {(r["model"], r["weights"], r["backend"], str(r["particles"]), r["batch_size"]): r for r in recs}
    assert len(by_key) == len(recs)
    for row in table.itertuples():
        rec = by_key[(row.model, row.weights, row.backend, str(row.particles), row.batch_size)]
        assert row.latency_ms_p50 == pytest.approx(rec["latency_ms_p50"])


def test_evaluation_and_export(study):
    work, _ = study
    metrics = json.loads((work / "results/evaluate/ParT_full/metrics.json").read_text())
    assert 0.0 <= metrics["accuracy"] <= 1.0
    card = json.loads((work / "results/export/ParT_full_card.json").read_text())
    assert card["params"] == 2_143_486


def test_figures_are_real_pngs(study):
    from jetprof.workflow import FIGURES

    work, _ = study
    pngs = sorted((work / "results/figures").glob("*.png"))
    assert sorted(p.stem for p in pngs) == sorted(FIGURES)
    for png in pngs:
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert png.stat().st_size > 10_000, png


def test_second_run_has_nothing_to_do(study):
    work, _ = study
    proc = snakemake(work, timeout=300)
    assert proc.returncode == 0
    assert "Nothing to be done" in proc.stdout + proc.stderr


def test_regenerating_figures_runs_only_plotting_rules(study):
    work, _ = study
    for png in (work / "results/figures").glob("*.png"):
        png.unlink()
    (work / "results/summary/points.csv").unlink()
    proc = snakemake(work, "figures", "--config", "regenerate=true", timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    ran = jobs_run(proc.stdout + proc.stderr)
    assert ran, proc.stderr[-3000:]
    assert all(r in PLOT_RULES or r.startswith("plot_") for r in ran), ran
    assert (work / "results/figures/latency_vs_batch.png").is_file()
    # the run's serving records are on disk: their figure is drawn again from them, LoadGen not rerun
    assert "serve_rung" not in ran and (work / "results/figures/served_latency.png").is_file()


@pytest.mark.parametrize(("change", "new_device"), [
    ({"profile": {"compare": {"threshold": 0.02}}}, False), ({"profile": {"compare": {"auc_loss": 0.01}}}, False),
    ({"study": "renamed"}, False), ({"profile": {"devices": ["cpu", "cuda:0"]}}, True),
])
def test_a_comparison_only_change_plans_no_measurement(study, tmp_path, change, new_device):
    """Each profile job's command holds what it measures: the config hash and the stopping threshold
    reach it through the environment, so these keys plan no CPU group (a new device plans its own)."""
    import yaml

    work, _ = study
    extra = tmp_path / "change.yaml"
    extra.write_text(yaml.safe_dump(change))
    proc = subprocess.run([sys.executable, "-m", "snakemake", "-n", "profile", "--cores", "2",
                           "--configfile", CONFIG, str(extra)], cwd=work, capture_output=True, text=True, timeout=600)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    rules = re.findall(r"^(?:local)?rule (\w+):$", out, flags=re.M)
    assert not [r for r in rules if r.startswith("profile_cpu")], out[out.find("reason:"):][:3000]
    assert "output: results/profile/peak/cpu.json" not in out  # the CPU ceiling stands
    assert any(r.startswith("profile_cuda0") for r in rules) is new_device, rules


def test_regenerating_from_exactly_what_the_readme_says_to_copy(study, tmp_path):
    """A fresh clone holding only results/profile/ and results/paired/ from the run: the README's
    regenerate command draws every figure those hold and says, in one line, what the rest need."""
    import shutil

    from jetprof.workflow import FIGURES

    work, _ = study
    fresh = copy_repo(tmp_path / "fresh")
    for folder in ("profile", "paired"):
        shutil.copytree(work / "results" / folder, fresh / "results" / folder)
    proc = snakemake(fresh, "figures", "--config", "regenerate=true", timeout=600)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    notes = [line for line in out.splitlines() if "regenerating without" in line]
    assert len(notes) == 2 and "results/evaluate/ParT_full/metrics.json" in notes[0], out[-3000:]
    assert "copy results/evaluate/ from the run" in notes[0]
    assert "serving record" in notes[1] and "copy results/serving/ from the run" in notes[1]
    drawn = {p.stem for p in (fresh / "results/figures").glob("*.png")}
    # no serving record was copied: the serving figure is left out
    assert drawn == set(FIGURES) - {"training_curves", "roc", "confusion_matrix", "served_latency"}, drawn
    answer = json.loads((fresh / "results/summary/weights_answer.json").read_text())
    assert answer["cpu"]["subnormal_penalty"] is not None  # the peak record came with results/profile/


def test_report_is_self_contained(study):
    work, _ = study
    proc = snakemake(work, "--report", "report.zip", timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (work / "report.zip").stat().st_size > 50_000


def test_interrupted_run_resumes_with_the_plain_command_without_redoing_finished_stages(study):
    """Ctrl-C in the middle of a profile job, then the plain command, killed in turn; --unlock and the
    plain command again redo only what is left (the default profile sets rerun-incomplete)."""
    import signal
    import time

    work, _ = study
    record = work / "results/profile/ParT_full/trained/cpu/eager-fp32/preal/bs4.json"
    log = work / "results/logs/profile/cpu_preal_bs1_4.log"
    # as if the first run had been cut during this point: record and everything downstream absent
    record.unlink()
    log.unlink(missing_ok=True)
    (work / "results/summary/points.csv").unlink()
    cmd = [sys.executable, "-m", "snakemake", "--cores", "2", "--configfile", CONFIG]

    first_group = work / "results/paired/cpu/preal/bs1.json"  # the job's first group, written before bs4's

    def interrupted(sig: int) -> str:
        """Run the plain command; interrupt it once the profile job has written part of its outputs."""
        started = time.time()
        # Ctrl-C as at a terminal: a test run started in the background (`cmd &`, nohup, some CI
        # runners) passes SIGINT on ignored, and a Python started so never installs its KeyboardInterrupt
        # handler: Snakemake would finish the job and everything after it, and nothing would be cut
        proc = subprocess.Popen(cmd, cwd=work, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                start_new_session=True,
                                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        deadline = time.monotonic() + 600
        while proc.poll() is None and time.monotonic() < deadline and not (
                first_group.exists() and first_group.stat().st_mtime > started):
            time.sleep(0.1)
        if proc.poll() is not None or not first_group.exists():
            proc.kill()
            raise AssertionError(f"the profile job wrote nothing: {proc.communicate()[0][-3000:]}")
        assert not record.exists()  # bs4's group still measuring
        os.killpg(proc.pid, sig)  # SIGINT: Ctrl-C in a terminal; SIGKILL: a power cut, no clean-up at all
        out = proc.communicate(timeout=300)[0]
        log.unlink(missing_ok=True)
        return out

    # Ctrl-C can land just as the job ends (its last group finished in Snakemake's shutdown): then
    # nothing is left half-made and there is nothing to resume, so cut a fresh run again
    incomplete = work / ".snakemake" / "incomplete"
    for _ in range(3):
        interrupted(signal.SIGINT)
        if incomplete.is_dir() and any(incomplete.iterdir()):
            break
        record.unlink(missing_ok=True)
    assert any(incomplete.iterdir()), "Ctrl-C never left the profile job's outputs half-made"
    # the plain command again: no IncompleteFilesException (it reached the profile job); killed this time
    second = interrupted(signal.SIGKILL)
    assert "IncompleteFilesException" not in second, second[-3000:]
    # a killed Snakemake leaves its lock behind: --unlock, then the plain command, as the README says
    assert snakemake(work, "--unlock", timeout=300).returncode == 0
    resumed = snakemake(work, timeout=900)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    ran = jobs_run(resumed.stdout + resumed.stderr)
    assert "profile_cpu_preal_bs1_4" in ran, ran
    upstream = {"generate_dataset", "write_manifest", "validate_dataset", "train_model", "predict_test"}
    assert not upstream & set(ran), ran
    assert json.loads(record.read_text())["status"] == "ok"
