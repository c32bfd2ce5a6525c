"""Snakemake dry runs (`-n`): the DAG of GPU and full-JetClass configs, and what their jobs ask for.

Nothing runs; these check the jobs a cluster would be sent: the profile jobs
of a config, and that only CUDA measurements ask for a GPU and for the card the
study names (`profile.gpu_model`).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import copy_repo


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    return copy_repo(tmp_path_factory.mktemp("dryrun"))


def dry_run(repo: Path, target: str, configfile: str) -> list[tuple[str, str]]:
    """(rule name, its resources line) for every job of a dry run of ``target``."""
    # the target before --configfile: that option takes several values and would swallow it
    cmd = [sys.executable, "-m", "snakemake", "-n", target, "--cores", "4", "--configfile", configfile]
    proc = subprocess.run(cmd, cwd=repo, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:] + proc.stdout[-3000:]
    jobs: list[tuple[str, str]] = []
    rule = None
    for line in (proc.stdout + proc.stderr).splitlines():
        m = re.match(r"^(?:local)?(?:rule|checkpoint) (\w+):$", line)
        if m:
            rule = m.group(1)
            jobs.append((rule, ""))
        elif rule and line.strip().startswith("resources:"):
            jobs[-1] = (rule, line.strip())
            rule = None
    return jobs


def test_only_cuda_measurements_ask_for_the_named_gpu(repo):
    config = yaml.safe_load((repo / "config/config.yaml").read_text())
    config["profile"]["devices"] = ["cpu", "cuda:0"]
    config["profile"]["gpu_model"] = "a100"
    (repo / "gpu.yaml").write_text(yaml.safe_dump(config))
    jobs = dry_run(repo, "profile", "gpu.yaml")
    series = [(r, res) for r, res in jobs if r.startswith("profile_")]
    cuda = [(r, res) for r, res in series if "_cuda0_" in r]
    cpu = [(r, res) for r, res in series if "_cpu_" in r]
    assert len(cuda) == len(cpu) == 2 and len(series) == 4, [r for r, _ in jobs]
    for rule, res in cuda:
        assert "gpu=1," in res and "gpu_model=a100," in res, (rule, res)
    for rule, res in cpu:
        assert "gpu=0," in res and "gpu_model=," in res, (rule, res)
    peaks = sorted(res for r, res in jobs if r == "measure_peak")
    assert len(peaks) == 2
    assert "gpu=0," in peaks[0] and "gpu_model=," in peaks[0]
    assert "gpu=1," in peaks[1] and "gpu_model=a100," in peaks[1]
    # training stays on the CPU in this config: no GPU for it either
    assert next(res for r, res in jobs if r == "train_model").count("gpu=0,") == 1


def test_full_jetclass_study_builds_its_dag(repo):
    jobs = dry_run(repo, "all", "config/jetclass.yaml")
    rules = [r for r, _ in jobs]
    assert "download_dataset" in rules and "generate_dataset" not in rules
    series = [(r, res) for r, res in jobs if r.startswith("profile_")]
    assert any("_cuda0_" in r for r, _ in series) and any("_cpu_" in r for r, _ in series)
    assert all("gpu=1," in res for r, res in series if "_cuda0_" in r)
    assert all("gpu=0," in res for r, res in series if "_cpu_" in r)


def test_each_profile_job_writes_its_document_and_measures_it(repo):
    """The shell line of a profile job: its document (the rule's param) into its job file, then
    ``jetprof profile --job`` on that file; the document is the workflow's for that job."""
    import shlex

    from jetprof import jobfile
    from jetprof import workflow as jw
    from jetprof.contract import study_jobs

    cmd = [sys.executable, "-m", "snakemake", "-n", "-p", "profile", "--cores", "1"]
    proc = subprocess.run(cmd, cwd=repo, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    config = yaml.safe_load((repo / "config/config.yaml").read_text())
    for job in study_jobs(config):
        path = jw.profile_job_file(job)
        tail = f" && jetprof --log results/logs/profile/{job.name}.log profile --job {path}"
        start = proc.stdout.index("printf '%s' '{", proc.stdout.index(f"rule profile_{job.name}:"))
        end = proc.stdout.index(tail, start)
        words = shlex.split(proc.stdout[start:end])
        assert words[:2] == ["printf", "%s"] and words[3:] == [">", path]
        assert jobfile.from_json(words[2], path) == jw.profile_job(config, job)
