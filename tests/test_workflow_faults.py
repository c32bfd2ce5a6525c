"""Faults of the dataset, train and export rules, through the real `snakemake`:

- a config with its keys in another order reruns nothing (params are canonical);
- a combination no device can run is refused with one line before any job;
- paths and URLs with spaces reach the shell intact (the example download, then
  validation of the files its checkpoint lists);
- a failing job's one-line jetprof error reaches the terminal, not only its log.

The rerun test records the study's metadata without running it: `snakemake --touch`
records every job's params as a real run would (fmt version, params, input, code),
the files are then created empty and a second `--touch` puts their times in DAG
order; a dry run must then have nothing to do, before and after reordering.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import copy_repo, reordered
from test_download import Server, serving
from test_validate import make_jetclass_file

TEST_CONFIG = ".test/config/config.yaml"
DIRECTORY_OUTPUTS = {"results/train/ParT_full/tensorboard"}  # directory() outputs among the jobs


@pytest.fixture()
def repo(tmp_path: Path) -> Path:
    return copy_repo(tmp_path / "repo")


def snakemake(repo: Path, *args: str, timeout: int = 300) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "snakemake", "--cores", "1", *args]
    return subprocess.run(cmd, cwd=repo, capture_output=True, text=True, timeout=timeout, check=False)


def write_config(repo: Path, config: dict[str, Any]) -> None:
    """The study's config file itself: a --configfile would only update its values in place,
    keeping config.yaml's key order."""
    (repo / "config" / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))


def record_a_run(repo: Path, *targets: str) -> None:
    """Leave outputs and metadata as a finished run of ``targets`` would, in seconds."""
    proc = snakemake(repo, "--touch", *targets)
    assert proc.returncode == 0, proc.stderr[-3000:]
    for key in (repo / ".snakemake" / "metadata").iterdir():
        path = repo / base64.b64decode(key.name).decode()
        if path.relative_to(repo).as_posix() in DIRECTORY_OUTPUTS:
            path.mkdir(parents=True, exist_ok=True)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch()
    proc = snakemake(repo, "--touch", *targets)
    assert proc.returncode == 0, proc.stderr[-3000:]


def nothing_to_do(repo: Path, *targets: str) -> tuple[bool, str]:
    proc = snakemake(repo, "-n", *targets)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    return "Nothing to be done" in out, out[out.find("Reasons:"):][:3000]


def _reorder_check(repo: Path, *targets: str) -> None:
    config = yaml.safe_load((repo / TEST_CONFIG).read_text())
    write_config(repo, config)
    record_a_run(repo, *targets)
    done, why = nothing_to_do(repo, *targets)
    assert done, why
    other = reordered(config)
    assert list(other["dataset"]["generate"]) != list(config["dataset"]["generate"])
    write_config(repo, other)
    done, why = nothing_to_do(repo, *targets)
    assert done, why


def test_reordered_config_reruns_nothing(repo: Path) -> None:
    """Every job of the dataset, train and export stages (19 in the test study)."""
    _reorder_check(repo, "export", "train")


@pytest.mark.slow  # the whole study's DAG touched and reordered (11 s)
def test_reordered_config_reruns_nothing_in_the_whole_study(repo: Path) -> None:
    _reorder_check(repo, "all")


@pytest.mark.slow  # the whole study's DAG touched (11 s)
def test_a_deleted_data_file_is_made_again_not_nothing_to_be_done(repo: Path) -> None:
    """A broken ROOT file deleted by hand, with the manifest: the plain command makes both again."""
    config = yaml.safe_load((repo / TEST_CONFIG).read_text())
    write_config(repo, config)
    record_a_run(repo, "all")
    done, why = nothing_to_do(repo)
    assert done, why
    gone = repo / "results/dataset/train/HToBB_000.root"
    gone.unlink()
    (repo / "results/dataset/manifest.json").unlink()
    proc = snakemake(repo, "-n")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0 and "Nothing to be done" not in out, out[-3000:]
    assert "output: results/dataset/train/HToBB_000.root" in out and "rule write_manifest:" in out, out[-3000:]


def test_impossible_combination_refused_before_any_job(repo: Path) -> None:
    config = yaml.safe_load((repo / TEST_CONFIG).read_text())
    config["profile"]["backends"] = ["eager-fp32", "onnxruntime-bf16"]
    write_config(repo, config)
    proc = snakemake(repo, "-n")
    out = proc.stdout + proc.stderr  # snakemake prints the Snakefile's error on stdout
    assert proc.returncode != 0
    line = next(line for line in out.splitlines() if "profile.backends[1]" in line)
    assert line.startswith("  profile.backends[1]: onnxruntime-bf16: the ONNX export is fp32 only")
    assert line.endswith("no device of profile.devices (cpu) can run it")
    assert "Job stats" not in out and "Building DAG" not in out


@pytest.mark.parametrize(("change", "key", "says"), [
    ({"weaver": {"network_config": "workflow/weaver/NoSuch.py"}}, "weaver.network_config",
     "workflow/weaver/NoSuch.py not found"),
    pytest.param({"profile": {"devices": ["cpu", "mps"]}}, "profile.devices", "mps runs on an Apple-silicon Mac only",
                 marks=pytest.mark.skipif(sys.platform == "darwin", reason="a Mac may have MPS")),
    ({"profile": {"weights": ["random", "pretrained"]}, "pretrained": {"enabled": False}}, "profile.weights",
     "'pretrained' needs pretrained.enabled: true"),
    ({"profile": {"weights": ["random", "pretrained"]},
      "pretrained": {"enabled": True, "url": "mine/ParT_full.pt", "sha256": ""}}, "pretrained.sha256",
     "required for mine/ParT_full.pt"),
])
def test_a_config_mistake_is_one_line_naming_its_key_before_any_job(repo: Path, change, key, says) -> None:
    config = yaml.safe_load((repo / TEST_CONFIG).read_text())
    for section, values in change.items():
        config.setdefault(section, {}).update(values)
    write_config(repo, config)
    proc = snakemake(repo, "-n")
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    lines = [line for line in out.splitlines() if line.strip().startswith(key + ":")]
    assert len(lines) == 1 and says in lines[0], out[-3000:]
    assert "--sha256" not in out and "MissingInputException" not in out and "Building DAG" not in out


# --------------------------------------------------------------------------- the example download


@pytest.fixture()
def server(tmp_path: Path) -> Iterator[Server]:
    root = tmp_path / "srv"
    folder = root / "files" / "with space"
    folder.mkdir(parents=True)
    make_jetclass_file(folder / "JetClass_example_100k.root", [i % 10 for i in range(100)],
                       n_jets=100, seed=3)
    with serving(root, "files/with space") as state:
        yield state


def example_config(repo: Path, server: Server) -> dict[str, Any]:
    config = yaml.safe_load((repo / TEST_CONFIG).read_text())
    config["dataset"]["source"] = "example"
    config["dataset"]["processes"] = list(yaml.safe_load(
        (repo / "config" / "config.yaml").read_text())["dataset"]["processes"])
    config["dataset"]["download"] = {
        "base_url": server.url, "parts": ["val_5M"], "cache": "results/dl cache", "sha256": {},
    }
    return config


def test_spaces_in_cache_and_url_reach_the_shell_intact(repo: Path, server: Server) -> None:
    write_config(repo, example_config(repo, server))
    proc = snakemake(repo, "results/validate/report.json")
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert [r[0] for r in server.requests] == ["/files/with%20space/JetClass_example_100k.root"]
    cache = repo / "results" / "dl cache"
    assert sorted(p.name for p in cache.iterdir()) == [
        "JetClass_example_100k.root", "JetClass_example_100k.root.md5ok"]
    # validation read exactly the files the download's checkpoint listed
    listed = json.loads((repo / "results/dataset/download.json").read_text())["files"]
    report = json.loads((repo / "results/validate/report.json").read_text())
    assert [f["path"] for f in report["files"]] == [
        f"results/dataset/{rel}" for split in ("train", "val", "test") for rel in listed[split]]
    assert report["entries"] == 100
    log = (repo / "results/logs/dataset/download.log").read_text()
    assert log.startswith("# jetprof download (pid ") and "format and sha256 (unpinned) ok" in log


def test_failing_job_shows_its_one_line_error_on_the_terminal(repo: Path, server: Server) -> None:
    write_config(repo, example_config(repo, server))
    server.status = 404
    proc = snakemake(repo, "results/dataset/download.json")
    assert proc.returncode != 0
    line = (f"jetprof download: error: {server.url}/JetClass_example_100k.root: "
            "HTTP 404 Not Found")
    assert line in proc.stderr.splitlines()
    log = (repo / "results/logs/dataset/download.log").read_text()
    assert log.splitlines()[-1] == line
