"""Rule params built by jetprof.workflow: canonical (a reordered config reruns nothing),
quoted for the shell, and the config check that refuses combinations that cannot run."""

from __future__ import annotations

import copy
import shlex
from typing import Any

import pytest
import yaml
from conftest import reordered

from jetprof import workflow as jw


@pytest.fixture()
def config(repo_root) -> dict[str, Any]:
    with open(repo_root / "config" / "config.yaml") as f:
        return yaml.safe_load(f)


@pytest.fixture()
def schema(repo_root) -> str:
    return str(repo_root / "workflow/schemas/config.schema.yaml")


PARAM_BUILDERS = [
    jw.generate_settings_json,
    jw.weaver_config_json,
    jw.training_config_json,
    jw.download_flags,
    jw.pretrained_flags,
]


@pytest.mark.parametrize("build", PARAM_BUILDERS, ids=lambda f: f.__name__)
def test_params_do_not_depend_on_key_order(config, build) -> None:
    config["dataset"]["download"]["sha256"] = {"val_5M": "a" * 64, "test_20M": "b" * 64}
    other = reordered(config)
    assert list(other["train"]) != list(config["train"])
    assert build(other) == build(config)


def test_params_normalise_number_types(config) -> None:
    same = copy.deepcopy(config)
    same["train"]["start_lr"] = 0.001
    same["train"]["seed"] = 1.0  # an integer to the schema
    same["dataset"]["generate"]["jets"]["train"] = 240.0
    config["train"]["start_lr"] = 1e-3
    assert jw.weaver_config_json(same) == jw.weaver_config_json(config)
    assert jw.training_config_json(same) == jw.training_config_json(config)
    assert jw.generate_settings_json(same) == jw.generate_settings_json(config)
    assert '"train":240,' in jw.generate_settings_json(same)
    config["train"]["fetch_step"] = 1
    assert '"fetch_step":1.0' in jw.weaver_config_json(config)
    # a value that changes does change the params
    same["train"]["seed"] = 2
    assert jw.training_config_json(same) != jw.training_config_json(config)


def test_config_section_is_canonical(config) -> None:
    section = jw.config_section(reordered(config), "dataset", "generate")
    assert list(section) == sorted(section)
    assert section == jw.config_section(config, "dataset", "generate")


def test_download_flags_reach_the_shell_intact(config) -> None:
    dl = config["dataset"]["download"]
    dl["cache"] = "results/my cache/"
    dl["base_url"] = "http://127.0.0.1:8000/a dir/$HOME;touch x/"
    dl["sha256"] = {"val_5M": "c" * 64}
    config["dataset"]["source"] = "zenodo"
    argv = shlex.split(jw.download_flags(config))
    opts = dict(zip(argv[::2], argv[1::2]))
    assert opts["--cache"] == "results/my cache"
    assert opts["--base-url"] == "http://127.0.0.1:8000/a dir/$HOME;touch x"
    assert opts["--sha256"] == "val_5M=" + "c" * 64
    assert opts["--source"] == "zenodo" and opts["--parts"] == "val_5M"
    assert opts["--processes"].split(",")[:2] == ["ZJetsToNuNu", "HToBB"]


def test_pretrained_flags_and_local_checkpoint(config) -> None:
    config["pretrained"]["url"] = "checkpoints/my ParT.pt"
    config["pretrained"]["sha256"] = "d" * 64
    argv = shlex.split(jw.pretrained_flags(config))
    assert argv == ["--url", "checkpoints/my ParT.pt", "--sha256", "d" * 64, "--layout", "0.4"]
    assert jw.pretrained_inputs(config) == ["checkpoints/my ParT.pt"]
    config["pretrained"]["url"] = "https://example.org/ParT.pt"
    assert jw.pretrained_inputs(config) == []


def _on_a_mac_if_mps(devices: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """The pair rules are the same everywhere; an mps device outside a Mac is a separate, host rule."""
    if "mps" in devices:
        monkeypatch.setattr("platform.system", lambda: "Darwin")
        monkeypatch.setattr("platform.machine", lambda: "arm64")


@pytest.mark.parametrize(
    ("devices", "pair", "reason"),
    [
        (["cpu"], "onnxruntime-bf16", "the ONNX export is fp32 only"),
        (["cpu", "cuda:0"], "onnxruntime-fp16", "the ONNX export is fp32 only"),
        (["cpu"], "eager-fp16", "autocast fp16 runs on cuda and mps only"),
        (["mps"], "onnxruntime-fp32", "ONNX Runtime does not run on mps"),
    ],
)
def test_impossible_pairs_are_refused_with_one_line(config, schema, devices, pair, reason, monkeypatch) -> None:
    _on_a_mac_if_mps(devices, monkeypatch)
    config["profile"]["devices"] = devices
    config["profile"]["backends"] = ["eager-fp32", pair]
    config["profile"]["multiplicity"]["backends"] = ["eager-fp32"]
    problems = jw.config_problems(config, schema)
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"profile.backends[1]: {pair}: {reason}")
    assert "\n" not in problems[0]
    config["profile"]["backends"] = ["eager-fp32"]
    config["profile"]["multiplicity"]["backends"] = [pair]
    (line,) = jw.config_problems(config, schema)
    assert line.startswith(f"profile.multiplicity.backends[0]: {pair}: {reason}")


@pytest.mark.parametrize(
    ("devices", "pair"),
    [(["cpu", "cuda:0"], "eager-fp16"), (["cpu", "mps"], "onnxruntime-fp32"), (["cpu"], "eager-bf16")],
)
def test_pairs_that_run_on_some_device_pass(config, schema, devices, pair, monkeypatch) -> None:
    _on_a_mac_if_mps(devices, monkeypatch)
    config["profile"]["devices"] = devices
    config["profile"]["backends"] = ["eager-fp32", pair]
    assert jw.config_problems(config, schema) == []


def test_shipped_configs_pass(repo_root, schema) -> None:
    for name in ("config/config.yaml", "config/jetclass.yaml", ".test/config/config.yaml"):
        with open(repo_root / name) as f:
            assert jw.config_problems(yaml.safe_load(f), schema) == [], name


# --------------------------------------------------------------------------- declared files


def test_split_files_generated_and_downloaded(config, tmp_path) -> None:
    val = jw.split_files(config, ("val",))
    assert len(val) == 10 and all(f.startswith("results/dataset/val/") for f in val)
    assert jw.split_files(config, ("train", "val", "test")) == jw.dataset_files(config)
    config["dataset"]["source"] = "zenodo"
    record = tmp_path / "dataset" / "download.json"
    record.parent.mkdir()
    record.write_text('{"files": {"train": [], "val": ["val/HToBB_120.root"],'
                      ' "test": ["test/HToBB_100.root", "test/TTBar_100.root"]}}')
    assert jw.split_files(config, ("val", "test"), str(record)) == [
        f"{tmp_path}/dataset/val/HToBB_120.root",
        f"{tmp_path}/dataset/test/HToBB_100.root",
        f"{tmp_path}/dataset/test/TTBar_100.root",
    ]
    with pytest.raises(ValueError, match="download record"):
        jw.split_files(config, ("val",))


def test_split_files_input_waits_for_the_download_checkpoint(config, tmp_path) -> None:
    record = tmp_path / "download.json"
    record.write_text('{"files": {"val": ["val/a.root"]}}')

    class Checkpoint:
        calls = 0

        def get(self):
            Checkpoint.calls += 1
            return type("Job", (), {"output": [str(record)]})()

    checkpoints = type("Checkpoints", (), {"download_dataset": Checkpoint()})()
    assert jw.split_files_input(config, ("val",), checkpoints)(None) == jw.split_files(config, ("val",))
    assert Checkpoint.calls == 0  # generated data: no checkpoint
    config["dataset"]["source"] = "example"
    assert jw.split_files_input(config, ("val",), checkpoints)(None) == [f"{tmp_path}/val/a.root"]
    assert Checkpoint.calls == 1


def test_weaver_checkpoints_every_epoch() -> None:
    assert jw.weaver_checkpoints("results/train/net", 2) == [
        "results/train/net_epoch-0_state.pt",
        "results/train/net_epoch-0_optimizer.pt",
        "results/train/net_epoch-1_state.pt",
        "results/train/net_epoch-1_optimizer.pt",
        "results/train/net_best_epoch_optimizer.pt",
    ]
