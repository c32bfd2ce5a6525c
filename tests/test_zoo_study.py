"""The tagger zoo in the study: which models are trained, how each is measured, and how
the bad configs are refused (jetprof.contract, jetprof.workflow, jetprof profile)."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import write_group

from jetprof import workflow as jw
from jetprof.contract import Variant, extra_variants, study_groups, study_jobs, trained_models, variants_of
from jetprof.errors import JetprofError
from jetprof.model.build import build_model
from jetprof.model.zoo import default_configs, zoo_name
from jetprof.report.answers import answer_markdown, weights_answer
from jetprof.report.compare import comparisons, load_groups, pooled

SCHEMA = "workflow/schemas/config.schema.yaml"


@pytest.fixture()
def config(repo_root, monkeypatch):
    monkeypatch.chdir(repo_root)  # the zoo names' configs are workflow/weaver/... paths
    with open(repo_root / "config" / "config.yaml") as f:
        return yaml.safe_load(f)


def _zoo(config: dict, *entries: dict) -> dict:
    cfg = copy.deepcopy(config)
    cfg["profile"]["models"] = list(entries)
    return cfg


def test_zoo_names_stand_for_shipped_configs(repo_root):
    assert zoo_name("ParT_plain_kin") == ("ParT_plain", "kin")
    assert zoo_name("ParT_kinpid") == ("ParT", "kinpid")
    assert zoo_name("ParticleNet_full") == ("ParticleNet", "full")
    assert zoo_name("ParT") is None and zoo_name("PFM_full") is None
    for name in ("ParT_full", "ParT_plain_full", "ParticleNet_kin", "PFN_kinpid", "PCNN_full"):
        network, data = default_configs(name)
        assert (repo_root / network).is_file() and (repo_root / data).is_file()


def test_default_study_measures_all_five(config):
    assert jw.config_problems(config, SCHEMA) == []
    assert trained_models(config) == ["ParT_full"]  # the others' cost only (config/zoo.yaml trains them)
    (real, *_) = [g for g in study_groups(config) if g.particles == "real"]
    assert {v.model for v in real.variants} == {"ParT_full", "ParT_plain_full", "ParticleNet_full", "PFN_full",
                                                "PCNN_full"}
    assert {v.weights for v in real.variants if v.model != "ParT_full"} == {"random"}


def test_a_trained_extra_is_measured_trained_and_random(config):
    config = _zoo(config, *config["profile"]["models"][:2], {"name": "PFN_full", "train": True,
                                                             "backends": ["eager-fp32"]}, {"name": "PCNN_full"})
    assert trained_models(config) == ["ParT_full", "PFN_full"]
    (real, *_) = [g for g in study_groups(config) if g.particles == "real"]
    models = {v.model for v in real.variants}
    assert models == {"ParT_full", "ParT_plain_full", "ParticleNet_full", "PFN_full", "PCNN_full"}
    pfn = {(v.weights, v.backend) for v in real.variants if v.model == "PFN_full"}
    assert pfn == {("random", "eager"), ("trained", "eager")}  # its own backends, both weight states
    pn = {(v.weights, v.backend) for v in real.variants if v.model == "ParticleNet_full"}
    assert pn == {("random", "eager")}  # not trained: cost only
    axes = {(p.axis, p.variant.model) for p in real.pairs()}
    assert ("weights", "PFN_full") in axes and ("weights", "ParT_full") in axes
    assert ("model", "ParticleNet_full") in axes
    # the multiplicity curve measures the main model only
    assert all({v.model for v in g.variants} == {"ParT_full"} for g in study_groups(config) if g.particles != "real")


def test_trained_extras_skip_pretrained_and_keep_the_study_backends(config):
    cfg = _zoo(config, {"name": "PCNN_full", "train": True}, {"name": "PFN_kin"})
    cfg["pretrained"]["enabled"] = True
    cfg["profile"]["weights"] = ["random", "trained", "pretrained"]
    extras = extra_variants(cfg)
    assert [v.label for v in extras] == [
        "PCNN_full/random/eager-fp32", "PCNN_full/random/onnxruntime-fp32", "PCNN_full/trained/eager-fp32",
        "PCNN_full/trained/onnxruntime-fp32", "PFN_kin/random/eager-fp32", "PFN_kin/random/onnxruntime-fp32"]
    variants = variants_of("ParT_full", ["trained"], ["eager-fp32", "onnxruntime-fp32"], extras)
    assert Variant("PCNN_full", "trained", "onnxruntime", "fp32") in variants
    assert Variant("PFN_kin", "random", "onnxruntime", "fp32") in variants
    assert not any(v.model != "ParT_full" and v.weights == "pretrained" for v in variants)


def test_the_job_document_gives_each_model_its_files_checkpoint_and_backends(config):
    config = _zoo(config, *config["profile"]["models"][:2], {"name": "PFN_full", "train": True,
                                                             "backends": ["eager-fp32"]}, {"name": "PCNN_full",
                                                                                          "backends": ["eager-fp32"]})
    (job,) = [j for j in study_jobs(config) if j.reads_real_jets]
    doc = jw.profile_job(config, job)
    # the document lists the contract's variants, in its order, each with the files it is built from
    assert [v.variant for v in doc.variants] == list(job.variants)
    by_label = {v.label: v for v in doc.variants}
    pfn = by_label["PFN_full/trained/eager-fp32"]
    assert (pfn.network_config, pfn.data_config, pfn.checkpoint) == (
        "workflow/weaver/PFN.py", "workflow/weaver/JetClass_full.yaml",
        "results/train/PFN_full/net_best_epoch_state.pt")
    assert by_label["PFN_full/random/eager-fp32"].checkpoint is None
    assert {v.backend for v in doc.variants if v.model == "PFN_full"} == {"eager"}  # its own backends
    net = by_label["ParticleNet_full/random/eager-fp32"]
    assert (net.network_config, net.checkpoint) == ("workflow/weaver/ParticleNet.py", None)
    main = by_label["ParT_full/trained/onnxruntime-fp32"]
    assert main.checkpoint == "results/train/ParT_full/net_best_epoch_state.pt"
    inputs = jw.job_inputs(config, job)
    assert inputs["checkpoint_PFN_full_trained"] == "results/train/PFN_full/net_best_epoch_state.pt"
    assert inputs["checkpoint_ParT_full_trained"] == "results/train/ParT_full/net_best_epoch_state.pt"
    assert not any(k.startswith("checkpoint_ParticleNet") for k in inputs)
    # every checkpoint a variant loads is an input of the job
    assert {v.checkpoint for v in doc.variants if v.checkpoint} <= set(inputs.values())
    assert jw.metrics_files(config) == ["results/evaluate/ParT_full/metrics.json",
                                        "results/evaluate/PFN_full/metrics.json"]
    assert jw.metrics_flags(jw.metrics_files(config)).split() == [
        "--metrics", "ParT_full=results/evaluate/ParT_full/metrics.json",
        "--metrics", "PFN_full=results/evaluate/PFN_full/metrics.json"]


def test_a_trained_only_study_measures_the_extras_trained_only(config):
    cfg = _zoo(config, {"name": "PFN_full", "train": True})
    cfg["profile"]["weights"] = ["trained"]
    (job,) = [j for j in study_jobs(cfg) if j.reads_real_jets]
    doc = jw.profile_job(cfg, job)
    assert {(v.weights, v.checkpoint) for v in doc.variants if v.model == "PFN_full"} == {
        ("trained", "results/train/PFN_full/net_best_epoch_state.pt")}


@pytest.mark.parametrize(("entry", "message"), [
    ({"name": "PFM_full"}, "profile.models[0].name: 'PFM_full' is not a zoo model"),
    ({"name": "Mine", "network_config": "nowhere.py", "data_config": "workflow/weaver/JetClass_kin.yaml"},
     "profile.models[0].network_config: nowhere.py not found"),
    ({"name": "ParT_full"}, "profile.models[0].name: 'ParT_full' names two models"),
    ({"name": "PFN_full", "backends": ["eager-fp16"]},
     "profile.models[0].backends[0]: eager-fp16: autocast fp16 runs on cuda"),
])
def test_bad_model_entries_get_one_line(config, entry, message):
    problems = jw.config_problems(_zoo(config, entry), SCHEMA)
    assert len(problems) == 1 and problems[0].startswith(message), problems


def test_unknown_model_name_stops_snakemake_naming_the_file(tmp_path, repo_root):
    import subprocess
    import sys

    bad = tmp_path / "zoo.yaml"
    bad.write_text("profile:\n  models:\n    - {name: PFM_full, train: true}\n")
    run = subprocess.run([sys.executable, "-m", "snakemake", "-n", "--cores", "1",
                          "--configfile", "config/config.yaml", str(bad)],
                         cwd=repo_root, capture_output=True, text=True)
    assert run.returncode != 0
    assert f"jetprof: invalid config (config/config.yaml, {bad}):" in run.stderr
    assert "profile.models[0].name: 'PFM_full' is not a zoo model" in run.stderr


def test_a_zoo_job_document_makes_groups_of_every_model(config, tmp_path):
    """The workflow's document of a zoo job, read back by ``jetprof profile``: each variant built
    from its own files (no flag mini-language in between)."""
    from jetprof import jobfile
    from jetprof.profiling.cli import group_specs

    config["profile"]["particles"] = [16]
    config["profile"]["models"] = config["profile"]["models"][:2]
    config["profile"]["weights"] = ["random"]
    config["profile"]["multiplicity"]["particles"] = []
    (job,) = [j for j in study_jobs(config) if j.particles == ("16",)]
    text = jw.profile_job_json(config, job)
    doc = jobfile.from_json(text, "zoo.job.json")
    specs = group_specs(doc)
    assert [(s.particles, s.batch_size) for s in specs] == [(16, b) for b in config["profile"]["batch_sizes"]]
    files = {v.model: (v.network_config, v.data_config) for v in specs[0].variants}
    assert Path(files["ParT_plain_full"][0]).name == "ParT_plain.py"
    assert all(Path(f).is_absolute() and Path(f).is_file() for pair in files.values() for f in pair)


def test_a_network_config_that_does_not_build_is_named(tmp_path, repo_root):
    data = repo_root / "workflow/weaver/JetClass_kin.yaml"
    broken = tmp_path / "Broken.py"
    broken.write_text("def get_model(data_config, **kwargs)\n    pass\n")
    with pytest.raises(JetprofError, match=r"Broken.py: network config does not import \(SyntaxError"):
        build_model(broken, data)
    wrong = tmp_path / "Wrong.py"
    wrong.write_text("def get_model(data_config, **kwargs):\n    raise ValueError('needs 17 features')\n")
    with pytest.raises(JetprofError, match=r"Wrong.py: get_model does not build a model with data config .*"
                                           r"JetClass_kin.yaml \(ValueError: needs 17 features\)"):
        build_model(wrong, data)


def test_the_weights_answer_covers_every_trained_model(tmp_path):
    rng = np.random.default_rng(2)
    base = list(20 * rng.normal(1, 0.02, 24))
    noise = lambda f: [x * f * rng.normal(1, 0.004) for x in base]  # noqa: E731
    write_group(tmp_path / "g.json", {"P/random/eager-fp32": base, "P/random/eager-fp32#2": noise(1.0),
                                 "P/trained/eager-fp32": noise(1.0), "Q/random/eager-fp32": noise(0.3),
                                 "Q/trained/eager-fp32": noise(0.3 * 1.2)})
    groups = load_groups([tmp_path / "g.json"])
    table = comparisons(groups, 0.05, "P")
    pools = pooled(groups, 0.05, "P")
    assert {(p["axis"], p["model"]) for p in pools} == {("weights", "P"), ("weights", "Q"), ("control", "P")}
    answer = weights_answer(table, threshold=0.05, pooled=pools)
    assert answer["verdict"] == "different"  # Q's trained weights cost 20 % more
    by_model = {m["model"]: m["verdict"] for m in answer["by_model"]}
    assert by_model == {"P": "same", "Q": "different"}
    page = answer_markdown(answer)
    assert "| Q | `different` |" in page and "Q: trained ÷ random" in page


def test_calls_per_turn_follow_each_kind_not_the_fastest_model():
    from jetprof.profiling.rounds import MAX_CALLS_PER_TURN, calls_by_kind

    kinds = [("ParT", "eager", "fp32"), ("ParT", "eager", "fp32"), ("PFN", "eager", "fp32"),
             ("ParticleNet", "eager", "fp32"), ("ParT", "onnxruntime", "fp32")]
    calls = calls_by_kind(kinds, [7.4, 6.9, 0.3, 760.0, 3.8])
    assert calls == [4, 4, MAX_CALLS_PER_TURN, 1, 8]  # trained and random ParT share 30 / 6.9 -> 4


def test_the_deployment_ladder_names_the_fastest_variant_per_model(tmp_path):
    from jetprof.report.deployment import deployment_markdown, fastest, ladder

    rng = np.random.default_rng(7)
    base = list(10 * rng.normal(1, 0.01, 12))
    write_group(tmp_path / "g.json", {
        "P/trained/eager-fp32": base, "P/trained/onnxruntime-fp32": [x / 2.0 * rng.normal(1, 0.004) for x in base],
        "Q/trained/eager-fp32": [x / 5 for x in base],
        "Q/trained/onnxruntime-fp32": [x / 5 / 3.0 * rng.normal(1, 0.004) for x in base]})
    table = comparisons(load_groups([tmp_path / "g.json"]), 0.05, "P")
    import pandas as pd

    points = pd.DataFrame([{"model": m, "weights": "trained", "device": "cpu", "backend": "onnxruntime",
                            "precision": "fp32", "particles": "real", "batch_size": 8, "quality_auc_macro": 0.9,
                            "quality_auc_macro_reference": 0.9} for m in ("P", "Q")])
    rungs = ladder(table, points, auc_loss=0.001)
    best = {b["model"]: round(b["speedup"], 1) for b in fastest(rungs)}
    assert best == {"P": 2.0, "Q": 3.0}  # each against its own eager fp32, not the fastest model overall
    page = deployment_markdown(rungs, fastest(rungs), 0.001)
    assert "**Q, cpu, real jets, batch 8: `onnxruntime-fp32`**" in page
