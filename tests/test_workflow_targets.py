"""The workflow's target lists and config checks (jetprof.workflow), without running Snakemake."""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path

import pytest
import yaml

from jetprof import workflow as jw
from jetprof.contract import study_groups, study_jobs, study_points
from jetprof.errors import JetprofError
from jetprof.jobfile import Quality


@pytest.fixture()
def config(repo_root):
    with open(repo_root / "config" / "config.yaml") as f:
        return yaml.safe_load(f)


def test_default_config_is_valid(config, repo_root):
    assert jw.config_problems(config, str(repo_root / "workflow/schemas/config.schema.yaml")) == []


def test_test_config_is_valid(repo_root):
    with open(repo_root / ".test/config/config.yaml") as f:
        cfg = yaml.safe_load(f)
    assert jw.config_problems(cfg, str(repo_root / "workflow/schemas/config.schema.yaml")) == []


def test_every_schema_key_has_description_and_default(repo_root):
    with open(repo_root / "workflow/schemas/config.schema.yaml") as f:
        schema = yaml.safe_load(f)

    def walk(node, path):
        for key, sub in node.get("properties", {}).items():
            where = f"{path}.{key}" if path else key
            assert "description" in sub, f"{where} has no description"
            assert "default" in sub, f"{where} has no default"
            if sub.get("type") == "object":
                walk(sub, where)

    walk(schema, "")


def test_unknown_key_and_wrong_type_are_named(config, repo_root):
    schema = str(repo_root / "workflow/schemas/config.schema.yaml")
    bad = copy.deepcopy(config)
    bad["profile"]["bacth_sizes"] = [1]
    bad["train"]["batch_size"] = "32"
    problems = jw.config_problems(bad, schema)
    assert any(p.startswith("profile: unknown key(s) 'bacth_sizes'") for p in problems), problems
    assert any(p.startswith("train.batch_size:") and "integer" in p for p in problems), problems


def test_dataset_files_follow_jetclass_naming(config):
    files = jw.dataset_files(config)
    assert "results/dataset/train/HToBB_000.root" in files
    assert "results/dataset/test/ZJetsToNuNu_000.root" in files
    assert len(files) == 3 * 10  # one file per class and split
    config["dataset"]["source"] = "zenodo"
    assert jw.dataset_files(config) == []


def test_groups_cover_the_grid_once_with_a_control_each(config):
    config["profile"]["models"] = []  # the main model's grid (the zoo: tests/test_zoo_study.py)
    groups = study_groups(config)
    records = jw.profile_records(config)
    assert len(records) == len(set(records))
    prof = config["profile"]
    grid = len(prof["weights"]) * len(prof["devices"]) * len(prof["backends"])
    grid *= len(prof["particles"]) * len(prof["batch_sizes"])
    mult = len(prof["multiplicity"]["particles"]) * len(prof["multiplicity"]["backends"])
    assert len(records) == grid + mult == 16
    assert "results/profile/ParT_full/trained/cpu/eager-fp32/preal/bs32.json" in records
    assert "results/profile/ParT_full/trained/cpu/onnxruntime-fp32/p64/bs8.json" in records
    # 2 batch sizes of real jets and 4 multiplicities: 6 groups, each with its A/A control
    assert len(groups) == 6 and jw.group_files(config)[0] == "results/paired/cpu/preal/bs1.json"
    for g in groups:
        replicas = [v for v in g.variants if v.replica]
        assert len(replicas) == 1 and replicas[0].label == g.variants[0].label + "#2"
    real = groups[0]
    assert [v.label for v in real.variants] == [
        "ParT_full/random/eager-fp32", "ParT_full/random/eager-fp32#2", "ParT_full/random/onnxruntime-fp32",
        "ParT_full/trained/eager-fp32", "ParT_full/trained/onnxruntime-fp32"]
    axes = sorted(p.axis for p in real.pairs())
    assert axes == ["backend", "backend", "control", "weights", "weights"]
    config["profile"]["compare"] = {"control": False}
    assert not any(v.replica for g in study_groups(config) for v in g.variants)


def test_jobs_are_products_that_cover_every_group_once(config):
    jobs = study_jobs(config)
    assert sorted(r for j in jobs for r in j.records) == sorted(jw.profile_records(config))
    assert sorted(f for j in jobs for f in j.group_files) == sorted(jw.group_files(config))
    assert len({j.name for j in jobs}) == len(jobs) == 2
    for j in jobs:
        assert f"profile_{j.name}".isidentifier()
        assert len(j.groups) == len(j.particles) * len(j.batch_sizes)
    mult = next(j for j in jobs if j.particles == ("16", "32", "64", "128"))
    assert mult.batch_sizes == (8,) and mult.weights == ["trained"]


def test_a_particle_count_shared_by_grid_and_curve_is_one_group(config):
    # 128 particles in the main grid (bs 1, 8, 32) and on the multiplicity curve (bs 8):
    # the (cpu, 128, 8) group holds the variants of both, once
    config["profile"]["particles"] = ["real", 128]
    config["profile"]["batch_sizes"] = [1, 8, 32]
    groups = study_groups(config)
    keys = [(g.device, g.particles, g.batch_size) for g in groups]
    assert len(keys) == len(set(keys))
    merged = next(g for g in groups if g.particles == "128" and g.batch_size == 8)
    assert {v.weights for v in merged.variants} == {"random", "trained"}
    records = [r for j in study_jobs(config) for r in j.records]
    assert len(records) == len(set(records)) == len(jw.profile_records(config))


def test_more_models_get_random_weights_in_the_same_groups(config, repo_root):
    config["profile"]["models"] = []
    base = len(study_points(config))
    config["profile"]["models"] = [{"name": "ParT_kin", "network_config": "workflow/weaver/ParT.py",
                                    "data_config": "workflow/weaver/JetClass_kin.yaml"}]
    points = study_points(config)
    kin = [p for p in points if p.model == "ParT_kin"]
    prof = config["profile"]
    assert len(kin) == len(prof["backends"]) * len(prof["particles"]) * len(prof["batch_sizes"])
    assert {p.weights for p in kin} == {"random"}  # no checkpoint for it
    assert len(points) == base + len(kin)
    real = study_groups(config)[0]
    assert ("model", "ParT_full/random/eager-fp32", "ParT_kin/random/eager-fp32") in {
        (p.axis, p.baseline.label, p.variant.label) for p in real.pairs()}
    models = jw.profile_models(config)
    assert list(models) == ["ParT_full", "ParT_kin"]
    assert models["ParT_kin"] == ("workflow/weaver/ParT.py", "workflow/weaver/JetClass_kin.yaml")
    kin_variants = [v for v in jw.profile_job(config, study_jobs(config)[0]).variants if v.model == "ParT_kin"]
    assert kin_variants and {(v.network_config, v.data_config, v.checkpoint) for v in kin_variants} == {
        ("workflow/weaver/ParT.py", "workflow/weaver/JetClass_kin.yaml", None)}
    schema = str(repo_root / "workflow/schemas/config.schema.yaml")
    assert jw.config_problems(config, schema) == []
    config["profile"]["models"].append({"name": "ParT_full", "network_config": "workflow/weaver/ParT.py",
                                        "data_config": "workflow/weaver/nope.yaml"})
    problems = jw.config_problems(config, schema)
    assert any(p.startswith("profile.models[1].name: 'ParT_full' names two models") for p in problems)
    assert "profile.models[1].data_config: workflow/weaver/nope.yaml not found" in problems


def test_a_model_with_its_own_batch_sizes_is_left_out_of_the_other_groups_in_one_job(config, repo_root):
    """``profile.models[].batch_sizes``: the model's variants sit in its groups only, the main grid
    stays one job, and its document says where each limited variant runs (the rest unchanged)."""
    from jetprof import jobfile
    from jetprof.profiling.cli import group_specs

    config["profile"]["batch_sizes"] = [1, 32]
    config["profile"]["models"] = [{"name": "PFN_full", "backends": ["eager-fp32"]},
                                   {"name": "ParticleNet_full", "backends": ["eager-fp32"], "batch_sizes": [1]}]
    real = {g.batch_size: g for g in study_groups(config) if g.particles == "real"}
    assert "ParticleNet_full" in {v.model for v in real[1].variants}
    assert "ParticleNet_full" not in {v.model for v in real[32].variants}
    assert "PFN_full" in {v.model for v in real[32].variants}
    jobs = [j for j in study_jobs(config) if j.reads_real_jets]
    assert len(jobs) == 1 and jobs[0].batch_sizes == (1, 32)
    assert not any("ParticleNet_full" in r for r in jobs[0].records if "/bs32." in r)
    doc = jw.profile_job(config, jobs[0])
    own = {v.model: v.batch_sizes for v in doc.variants}
    assert own["ParticleNet_full"] == (1,) and own["PFN_full"] is None and own["ParT_full"] is None
    text = jobfile.to_json(doc)
    assert text.count('"batch_sizes": [') == 2  # the job's own, and ParticleNet's; no nulls written
    back = jobfile.from_json(text, "job.json")
    assert back == doc
    checked = dataclasses.replace(back, variants=tuple(dataclasses.replace(
        v, network_config=str(repo_root / v.network_config), data_config=str(repo_root / v.data_config),
        checkpoint=v.checkpoint and str(repo_root / "README.md"))  # files that are there: nothing is built
        for v in back.variants), settings=dataclasses.replace(back.settings, data=(str(repo_root / "README.md"),),
                                                               quality=None))
    specs = {s.batch_size: {v.model for v in s.variants} for s in group_specs(checked)}
    assert "ParticleNet_full" in specs[1] and "ParticleNet_full" not in specs[32]
    bad = dataclasses.replace(doc, variants=tuple(dataclasses.replace(v, batch_sizes=(8,))
                                                  if v.model == "ParticleNet_full" else v for v in doc.variants))
    with pytest.raises(JetprofError, match=r"variants\[\d+\]\.batch_sizes \[8\]: some of the job's batch sizes"):
        jobfile.check(bad, lambda key: key)
    config["profile"]["models"][1]["batch_sizes"] = [8]
    schema = str(repo_root / "workflow/schemas/config.schema.yaml")
    assert ("profile.models[1].batch_sizes: [8] not in profile.batch_sizes [1, 32] (ParticleNet_full runs in "
            "the main grid's groups only)") in jw.config_problems(config, schema)


def test_pretrained_points_only_when_enabled(config):
    config["profile"]["weights"] = ["random", "pretrained"]
    assert not any(p.weights == "pretrained" for p in study_points(config))
    config["pretrained"] = {"enabled": True}
    assert any(p.weights == "pretrained" for p in study_points(config))


def test_the_job_document_is_the_contracts_job_with_its_files(config):
    config["weaver"]["network_config"] = "my configs/ParT.py"
    job = study_jobs(config)[0]
    doc = jw.profile_job(config, job)
    assert doc.device == job.device and [v.variant for v in doc.variants] == list(job.variants)
    assert doc.particles == ("real",) and doc.batch_sizes == job.batch_sizes
    assert {v.network_config for v in doc.variants if v.model == "ParT_full"} == {"my configs/ParT.py"}
    assert {v.checkpoint for v in doc.variants if v.weights == "trained"} == {
        "results/train/ParT_full/net_best_epoch_state.pt"}
    assert doc.settings.data == ("results/dataset/val/*.root",)
    # trained onnxruntime-fp32 is scored against trained eager fp32 on the test jets
    assert doc.settings.quality == Quality(("results/dataset/test/*.root",), config["profile"]["quality_jets"])
    assert doc.settings.rounds == config["profile"]["rounds"]
    # left to the environment, so that neither reruns a job
    assert doc.settings.threshold is None and doc.settings.config_hash is None
    mult = next(j for j in study_jobs(config) if not j.reads_real_jets)
    assert jw.profile_job(config, mult).particles == (16, 32, 64, 128)
    assert jw.profile_job(config, mult).settings.data == ()


def test_the_profile_rule_writes_the_document_and_runs_it(repo_root):
    """The rule's shell writes the job's document (its param) to the job file, then measures it."""
    rule = (repo_root / "workflow/rules/profile.smk").read_text()
    assert "job=jw.profile_job_json(config, _job)" in rule
    assert "printf '%s' {params.job:q} > {log.job:q}" in rule
    assert "jetprof --log {log.log:q} profile --job {log.job:q}" in rule
    assert jw.profile_job_file(study_jobs(yaml.safe_load((repo_root / "config/config.yaml").read_text()))[0]) == (
        "results/logs/profile/cpu_preal_bs1_32.job.json")


@pytest.mark.parametrize("change", [
    {"profile": {"compare": {"threshold": 0.02}}}, {"profile": {"compare": {"auc_loss": 0.01}}},
    {"study": "renamed"}, {"profile": {"devices": ["cpu", "cuda:0"]}}, {"profile": {"gpu_model": "a100"}},
])
def test_a_comparison_only_change_leaves_every_cpu_job_document_as_it_was(config, change):
    """Snakemake reruns a job whose params changed: the CPU jobs' documents (their only param) stay
    the same text under these keys, and under a reordered config with other number types."""
    from conftest import reordered

    before = {j.name: jw.profile_job_json(config, j) for j in study_jobs(config)}
    changed = copy.deepcopy(config)
    for section, values in change.items():
        if isinstance(values, dict):
            for key, value in values.items():
                if isinstance(value, dict):
                    changed[section].setdefault(key, {}).update(value)
                else:
                    changed[section][key] = value
        else:
            changed[section] = values
    after = {j.name: jw.profile_job_json(changed, j) for j in study_jobs(changed) if j.device == "cpu"}
    assert after == before
    retyped = reordered(copy.deepcopy(config))
    retyped["profile"]["max_group_s"] = float(retyped["profile"]["max_group_s"])
    assert {j.name: jw.profile_job_json(retyped, j) for j in study_jobs(retyped)} == before
    # what a job measures does change it
    config["profile"]["rounds"] += 1
    assert {j.name: jw.profile_job_json(config, j) for j in study_jobs(config)} != before


def test_invalid_records_are_set_aside_and_measured_again(config, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    record = Path(jw.profile_records(config)[0])
    record.parent.mkdir(parents=True)
    record.write_text('{"schema_version": 1, "model": "ParT_fu')  # cut short
    messages = jw.set_aside_invalid_records(config, dry_run=True)
    assert len(messages) == 1 and str(record) in messages[0] and "would be measured again" in messages[0]
    assert record.exists()
    messages = jw.set_aside_invalid_records(config, dry_run=False)
    assert "set aside as" in messages[0] and not record.exists()
    assert Path(str(record) + ".invalid").exists()


def test_config_hash_is_stable_and_sensitive(config):
    h = jw.config_hash(config)
    assert h == jw.config_hash(copy.deepcopy(config)) and len(h) == 12
    config["train"]["seed"] = 2
    assert jw.config_hash(config) != h


def test_fp16_only_on_gpu(config):
    config["profile"]["devices"] = ["cpu", "cuda:0"]
    config["profile"]["backends"] = ["eager-fp16"]
    points = study_points(config)
    assert points and all(p.device == "cuda:0" for p in points if p.precision == "fp16")


@pytest.mark.parametrize(("given", "expected"), [("true", True), ("False", False), (1, True), (True, True)])
def test_regenerate_flag_from_the_command_line(config, repo_root, given, expected):
    config["regenerate"] = given
    jw.normalize_cli_flags(config)
    assert config["regenerate"] is expected
    assert jw.config_problems(config, str(repo_root / "workflow/schemas/config.schema.yaml")) == []


# -- regenerating: the serving records copied in, or none (a dry run, nothing executes) ----------


@pytest.fixture(scope="module")
def regen_repo(tmp_path_factory) -> Path:
    from conftest import copy_repo

    return copy_repo(tmp_path_factory.mktemp("regen_repo"))


def _regenerate_dry_run(repo: Path) -> tuple[list[str], str]:
    """(the rules of every planned job, the output) of ``figures --config regenerate=true -n``."""
    import re
    import subprocess
    import sys

    cmd = [sys.executable, "-m", "snakemake", "-n", "figures", "--cores", "1", "--config", "regenerate=true"]
    proc = subprocess.run(cmd, cwd=repo, capture_output=True, text=True, timeout=300)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    return re.findall(r"^(?:local)?rule (\w+):$", out, flags=re.M), out


def test_regenerating_without_serving_records_leaves_them_out_in_one_line(regen_repo):
    import shutil

    shutil.rmtree(regen_repo / "results/serving", ignore_errors=True)
    rules, out = _regenerate_dry_run(regen_repo)
    assert "serve_rung" not in rules and "summarize_serving" not in rules, rules
    notes = [line for line in out.splitlines() if "regenerating without a serving record" in line]
    jobs = "\n".join(line for line in out.splitlines() if line not in notes)
    assert "plot_served_latency" not in rules and "results/summary/serving.csv" not in jobs
    # the cost table and the findings page are made all the same
    assert {"summarize_node", "findings", "plot_node_throughput"} <= set(rules), rules
    assert len(notes) == 1 and "copy results/serving/ from the run" in notes[0], out[-3000:]
    assert "served_latency" in notes[0]


def test_regenerating_reads_the_serving_records_found_and_never_serves(regen_repo):
    import shutil

    run = regen_repo / "results/serving/ParT_full/cpu/onnxruntime-fp32"
    for scenario in ("SingleStream", "Offline"):
        (run / scenario).mkdir(parents=True, exist_ok=True)
        (run / scenario / "record.json").write_text("{}")  # a dry run reads no record
    try:
        rules, out = _regenerate_dry_run(regen_repo)
    finally:
        shutil.rmtree(regen_repo / "results/serving")
    assert "serve_rung" not in rules, rules
    assert {"summarize_serving", "plot_served_latency", "findings", "summarize_node"} <= set(rules), rules
    assert "regenerating without a serving record" not in out
    job = out[out.index("rule summarize_serving:"):].split("\n\n")[0]
    assert f"{run}/Offline/record.json".removeprefix(f"{regen_repo}/") in job, job
    assert f"{run}/SingleStream/record.json".removeprefix(f"{regen_repo}/") in job, job
    findings = out[out.index("rule findings:"):].split("\n\n")[0]
    assert "results/summary/serving.csv" in findings, findings


def test_a_truncated_serving_record_is_one_line_naming_it(tmp_path, capsys):
    """What summarize_serving runs, on a record cut short in the copy: one line naming the file."""
    from jetprof.cli import main

    record = tmp_path / "results/serving/ParT_full/cpu/onnxruntime-fp32/Offline/record.json"
    record.parent.mkdir(parents=True)
    record.write_text('{"kind": "serving record", "model": "ParT_f')
    status = main(["serving-summary", "--out-csv", str(tmp_path / "serving.csv"), str(record)])
    err = capsys.readouterr().err.strip()
    assert status != 0
    lines = err.splitlines()
    assert len(lines) == 1 and str(record) in lines[0] and "cannot read the serving record" in lines[0], err
    assert "Traceback" not in err and not (tmp_path / "serving.csv").exists()


# -- who may share the CPU: the measure_slot each planned job takes (a dry run) ---------------

#: the rules that time something or fill the cores: each takes the whole slot
WHOLE = ("train_model", "measure_peak", "profile_", "node_", "serve_rung")


def test_measurements_take_the_whole_slot_and_prediction_and_export_half(tmp_path):
    """A measurement never runs beside another job that takes the slot; prediction, export and
    the report's rules (which time nothing) take half each, so two may run side by side, never
    beside a measurement. The ceiling waits for the jets, whose generation takes no slot."""
    import re
    import subprocess
    import sys

    from conftest import copy_repo

    from jetprof.contract import HALF_SLOT, WHOLE_SLOT

    repo = copy_repo(tmp_path / "repo")
    proc = subprocess.run([sys.executable, "-m", "snakemake", "-n", "--cores", "4"], cwd=repo,
                          capture_output=True, text=True, timeout=300)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    slots: dict[str, set[int]] = {}
    for block in re.split(r"^(?=(?:local)?rule \w+:$)", out, flags=re.M):
        rule = re.match(r"(?:local)?rule (\w+):", block)
        if rule:
            found = re.search(r"measure_slot=(\d+)", block)
            slots.setdefault(rule.group(1), set()).add(int(found.group(1)) if found else 0)
    assert HALF_SLOT * 2 == WHOLE_SLOT
    for rule, taken in slots.items():
        if rule.startswith(WHOLE):
            assert taken == {WHOLE_SLOT}, (rule, taken)
        elif rule in ("predict_test", "export_model", "evaluate_model", "compare_variants", "findings") or (
                rule.startswith(("plot_", "summarize_"))):
            # the report's rules time nothing either, but are kept off a measurement's CPU: a node
            # run beside the plots gave 2x1 103 jets/s, barely above its 1x1 91 (199 alone, later)
            assert taken == {HALF_SLOT}, (rule, taken)
        else:
            assert taken == {0}, (rule, taken)
    assert {r for r in slots if r.startswith("plot_")} and "summarize_records" in slots
    assert {r for r in slots if r.startswith(WHOLE)} >= {"train_model", "measure_peak", "serve_rung"}
    peak = re.search(r"^rule measure_peak:$(.*?)^$", out, flags=re.M | re.S)
    assert peak and "results/validate/report.json" in peak.group(1)
