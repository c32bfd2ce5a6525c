"""The workflow's target lists and config checks (jetprof.workflow), without running Snakemake."""

from __future__ import annotations

import copy

import pytest
import yaml

from jetprof import workflow as jw


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


def test_profile_points_cover_the_grid_once(config):
    points = jw.profile_points(config)
    records = [p.record for p in points]
    assert len(records) == len(set(records))
    prof = config["profile"]
    grid = len(prof["weights"]) * len(prof["devices"]) * len(prof["backends"])
    grid *= len(prof["particles"]) * len(prof["batch_sizes"])
    mult = len(prof["multiplicity"]["particles"]) * len(prof["multiplicity"]["backends"])
    assert len(points) == grid + mult
    assert "results/profile/ParT_full/trained/cpu/eager-fp32/preal/bs8.json" in records
    assert "results/profile/ParT_full/trained/cpu/onnxruntime-fp32/p64/bs8.json" in records


def test_profile_series_are_products_that_cover_every_point_once(config):
    series = jw.profile_series(config)
    records = [r for s in series for r in s.records]
    assert sorted(records) == sorted(jw.profile_records(config))  # each point in exactly one series
    assert len({s.rule_name for s in series}) == len(series)
    for s in series:
        assert len(s.records) == len(s.particles) * len(s.batch_sizes)
        assert s.rule_name.isidentifier()
        assert all(r.startswith(s.out_pattern.split("{particles}")[0]) for r in s.records)
    # the default study: 20 points in 6 calls (real-jet batch curves and multiplicity curves)
    assert len(records) == 20 and len(series) == 6
    mult = next(s for s in series if s.rule_name == "profile_ParT_full_trained_cpu_eager_fp32_p16_32_64_128")
    assert mult.batch_sizes == (8,)


def test_profile_series_merge_a_particle_count_shared_by_grid_and_curve(config):
    # 128 particles in the main grid (bs 1, 8, 32) and on the multiplicity curve (bs 8):
    # its points join the grid's series, once
    config["profile"]["particles"] = ["real", 128]
    series = jw.profile_series(config)
    records = [r for s in series for r in s.records]
    assert len(records) == len(set(records)) == len(jw.profile_records(config))
    grid = next(s for s in series if s.weights == "trained" and s.backend == "eager" and "real" in s.particles)
    assert grid.particles == ("real", "128") and grid.batch_sizes == (1, 8, 32)
    curve = next(s for s in series if s.weights == "trained" and s.backend == "eager" and "16" in s.particles)
    assert curve.particles == ("16", "32", "64")


def test_more_models_get_random_weights_over_the_main_grid(config, repo_root):
    config["profile"]["models"] = [{"name": "ParT_kin", "network_config": "workflow/weaver/ParT.py",
                                    "data_config": "workflow/weaver/JetClass_kin.yaml"}]
    points = jw.profile_points(config)
    kin = [p for p in points if p.model == "ParT_kin"]
    prof = config["profile"]
    assert len(kin) == len(prof["backends"]) * len(prof["particles"]) * len(prof["batch_sizes"])
    assert {p.weights for p in kin} == {"random"}  # no checkpoint for it
    assert len(points) == 20 + len(kin)
    models = jw.profile_models(config)
    assert list(models) == ["ParT_full", "ParT_kin"]
    assert models["ParT_kin"] == ("workflow/weaver/ParT.py", "workflow/weaver/JetClass_kin.yaml")
    series = jw.profile_series(config)
    assert len({s.rule_name for s in series}) == len(series) == 8
    schema = str(repo_root / "workflow/schemas/config.schema.yaml")
    assert jw.config_problems(config, schema) == []
    config["profile"]["models"].append({"name": "ParT_full", "network_config": "workflow/weaver/ParT.py",
                                        "data_config": "workflow/weaver/nope.yaml"})
    problems = jw.config_problems(config, schema)
    assert any(p.startswith("profile.models[1].name: 'ParT_full' names two models") for p in problems)
    assert "profile.models[1].data_config: workflow/weaver/nope.yaml not found" in problems


def test_pretrained_points_only_when_enabled(config):
    config["profile"]["weights"] = ["random", "pretrained"]
    assert not any(p.weights == "pretrained" for p in jw.profile_points(config))
    config["pretrained"] = {"enabled": True}
    assert any(p.weights == "pretrained" for p in jw.profile_points(config))


def test_config_hash_is_stable_and_sensitive(config):
    h = jw.config_hash(config)
    assert h == jw.config_hash(copy.deepcopy(config)) and len(h) == 12
    config["train"]["seed"] = 2
    assert jw.config_hash(config) != h


def test_fp16_only_on_gpu(config):
    config["profile"]["devices"] = ["cpu", "cuda:0"]
    config["profile"]["backends"] = ["eager-fp16"]
    points = jw.profile_points(config)
    assert points and all(p.device == "cuda:0" for p in points if p.precision == "fp16")


@pytest.mark.parametrize(("given", "expected"), [("true", True), ("False", False), (1, True), (True, True)])
def test_regenerate_flag_from_the_command_line(config, repo_root, given, expected):
    config["regenerate"] = given
    jw.normalize_cli_flags(config)
    assert config["regenerate"] is expected
    assert jw.config_problems(config, str(repo_root / "workflow/schemas/config.schema.yaml")) == []
