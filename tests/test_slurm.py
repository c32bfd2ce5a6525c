"""The workflow through a real single-node Slurm cluster and the real Slurm plugin.

The module starts the cluster with scripts/slurm_cluster.sh (installing Slurm
with apt-get where it is missing) and stops it afterwards if it started it. The
profile is the user's slurm/config.yaml with the test overrides from
tests/slurm/profile/config.yaml laid over it (squeue status checks, fast
polling) and without `software-deployment-method: conda` (no conda here).

The cluster's one GPU is fake (gres backed by /dev/null): a GPU rule is accepted
and scheduled with --gpus=1, then fails for want of CUDA. That one job checks
both that GPU rules ask Slurm for a GPU and that a failed Slurm job is reported.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from conftest import copy_repo
from faults import env as fault_env

# a real cluster and the whole tiny study through it: minutes, so slow as well
pytestmark = [pytest.mark.slurm, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "slurm_cluster.sh"
TEST_CONFIG = REPO / ".test" / "config" / "config.yaml"
SUBMITTED = re.compile(r"Job (\d+) has been submitted with SLURM jobid (\d+) \(log: (\S+)\)\.")
RUN_TIMEOUT_S = 300


def _cluster(action: str, timeout: int = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["timeout", "-k", "10", str(timeout), "bash", str(SCRIPT), action],
        capture_output=True,
        text=True,
    )


@pytest.fixture(scope="module")
def slurm_cluster() -> Iterator[None]:
    """A running cluster; stopped afterwards unless it was already up."""
    if os.geteuid() != 0:
        pytest.skip("Slurm test cluster needs root (daemons, /etc/slurm/slurm.conf)")
    if shutil.which("slurmctld") is None and shutil.which("apt-get") is None:
        pytest.skip("Slurm is not installed and apt-get is missing: cannot install it")
    was_up = _cluster("status", timeout=30).returncode == 0
    started = _cluster("start")
    if started.returncode == 3:
        pytest.skip(f"cannot run a Slurm cluster here: {started.stderr.strip()}")
    assert started.returncode == 0, f"slurm_cluster.sh start failed:\n{started.stderr}"
    try:
        yield
    finally:
        if not was_up:
            stopped = _cluster("stop", timeout=120)
            assert stopped.returncode == 0, stopped.stderr


def _profile(dest: Path, repo: Path) -> Path:
    """User profile + test overrides, conda off, written to dest/config.yaml."""
    user = yaml.safe_load((repo / "slurm" / "config.yaml").read_text())
    test = yaml.safe_load((repo / "tests" / "slurm" / "profile" / "config.yaml").read_text())
    merged = {k: v for k, v in user.items() if k != "software-deployment-method"}
    for key, value in test.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    # the user profile's partitions file, with the names the test cluster has
    merged["slurm-partition-config"] = str(repo / "slurm" / user["slurm-partition-config"])
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "config.yaml").write_text(yaml.safe_dump(merged, sort_keys=False))
    return dest


def _snakemake(repo: Path, config: Path, targets: list[str], log: Path) -> tuple[int, str]:
    """Run snakemake through Slurm, bounded; return (exit status, full output)."""
    profile = _profile(repo.parent / "profile", repo)
    cmd = [
        "timeout", "-k", "15", str(RUN_TIMEOUT_S),
        "snakemake", "--profile", str(profile), "--workflow-profile", "none",
        "--configfile", str(config), "--verbose", *targets,
    ]  # fmt: skip
    with open(log, "w") as out:
        rc = subprocess.run(cmd, cwd=repo, stdout=out, stderr=subprocess.STDOUT).returncode
    text = log.read_text()
    assert rc != 124, f"snakemake through Slurm timed out after {RUN_TIMEOUT_S} s:\n{text[-3000:]}"
    return rc, text


def _scontrol(jobid: str) -> dict[str, str]:
    out = subprocess.run(
        ["scontrol", "show", "job", "--oneliner", jobid], capture_output=True, text=True, timeout=30
    )
    assert out.returncode == 0, f"scontrol show job {jobid}: {out.stderr}"
    return dict(kv.split("=", 1) for kv in out.stdout.split() if "=" in kv)


@pytest.fixture
def repo_copy(tmp_path: Path) -> Path:
    return copy_repo(tmp_path / "repo")


def _one_group_config(config: dict) -> dict:
    """The tiny study with a profile grid of one group: random weights, eager, 16 particles,
    batch 2 (and its A/A control), no training needed."""
    config["dataset"]["processes"] = config["dataset"]["processes"][:2]
    config["profile"].update(weights=["random"], models=[], backends=["eager-fp32"], particles=[16],
                             batch_sizes=[2], rounds=2, max_rounds=2)
    config["profile"]["multiplicity"]["particles"] = []
    return config


def test_tiny_study_runs_through_sbatch(slurm_cluster: None, repo_copy: Path) -> None:
    """Dataset stage of the tiny study and one profile group, every job an sbatch job."""
    record = "results/profile/ParT_full/random/cpu/eager-fp32/p16/bs2.json"
    # two processes (the fewest the schema allows): nine Slurm jobs, each costing
    # 10-30 s of Snakemake start-up on this machine
    config = _one_group_config(yaml.safe_load(TEST_CONFIG.read_text()))
    configfile = repo_copy / "slurm_config.yaml"
    configfile.write_text(yaml.safe_dump(config))
    rc, out = _snakemake(
        repo_copy, configfile, ["results/validate/report.json", record], repo_copy / "run.log"
    )
    assert rc == 0, f"snakemake through Slurm failed:\n{out[-4000:]}"

    submitted = SUBMITTED.findall(out)
    rules = re.findall(r"^rule (\w+):", out, flags=re.M)
    assert len(submitted) == len(rules) >= 9, (len(submitted), rules)
    assert {"generate_dataset", "write_manifest", "validate_dataset", "profile_cpu_p16_bs2"} <= set(rules)
    for _, slurm_id, logfile in submitted:
        log = Path(logfile)
        assert log.is_file() and "/.snakemake/slurm_logs/rule_" in logfile, logfile
        assert log.stem == slurm_id
        assert "Finished jobid" in log.read_text() or "1 of 1 steps (100%) done" in log.read_text()
        info = _scontrol(slurm_id)
        assert info["JobState"] == "COMPLETED", (slurm_id, info["JobState"])
        assert info["Partition"] == "cpu", "a CPU-only rule went to the GPU partition"
        assert "gpu" not in info.get("TresPerJob", ""), "a CPU rule asked for a GPU"
    # sbatch calls carried the rule's resources, never --gpus
    calls = re.findall(r"sbatch call: (.*)", out)
    assert len(calls) == len(submitted)
    assert not any("--gpus" in c for c in calls)

    report = json.loads((repo_copy / "results/validate/report.json").read_text())
    assert report, "empty validation report"
    manifest = json.loads((repo_copy / "results/dataset/manifest.json").read_text())
    assert len(json.dumps(manifest)) > 100
    point = json.loads((repo_copy / record).read_text())
    assert point["status"] == "ok", point.get("error")
    assert point["batch_size"] == 2 and point["particles"] == 16
    assert point["latency_ms_p50"] > 0 and point["throughput_jets_per_s"] > 0
    assert (repo_copy / "results/paired/cpu/p16/bs2.json").is_file()


def test_a_job_cancelled_mid_run_is_reported_and_a_rerun_completes(slurm_cluster: None, repo_copy: Path) -> None:
    """``scancel`` a profile job while it measures: Snakemake names the Slurm job and its log
    and fails; a plain rerun measures the group and completes."""
    import time

    record = "results/profile/ParT_full/random/cpu/eager-fp32/p16/bs2.json"
    configfile = repo_copy / "slurm_config.yaml"
    configfile.write_text(yaml.safe_dump(_one_group_config(yaml.safe_load(TEST_CONFIG.read_text()))))
    profile = _profile(repo_copy.parent / "profile", repo_copy)
    log = repo_copy / "cancel.log"
    cmd = ["timeout", "-k", "15", str(RUN_TIMEOUT_S), "snakemake", "--profile", str(profile),
           "--workflow-profile", "none", "--configfile", str(configfile), "--verbose", record]
    env = {**os.environ, **fault_env("hang@2")}  # the measuring process sleeps: time to cancel it
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, cwd=repo_copy, stdout=out, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + RUN_TIMEOUT_S
        jobid = None
        while jobid is None and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(1)
            found = SUBMITTED.findall(log.read_text())  # the profile job is the run's only job
            if found and _scontrol(found[0][1])["JobState"] == "RUNNING":
                jobid = found[0][1]
        assert jobid, f"the profile job never ran:\n{log.read_text()[-3000:]}"
        time.sleep(3)
        subprocess.run(["scancel", jobid], check=True, timeout=30)
        rc = proc.wait(timeout=RUN_TIMEOUT_S)
    text = log.read_text()
    assert rc != 0, "a cancelled job must fail the run"
    assert f"SLURM-job '{jobid}' failed" in text and "CANCELLED" in text, text[-3000:]
    assert f"{jobid}.log" in text  # the Slurm log of the cancelled job is named
    assert not (repo_copy / record).exists()
    rc, out = _snakemake(repo_copy, configfile, [record], repo_copy / "rerun.log")
    assert rc == 0, f"the rerun failed:\n{out[-3000:]}"
    assert json.loads((repo_copy / record).read_text())["status"] == "ok"


def test_gpu_rule_asks_slurm_for_a_gpu_and_its_failure_is_reported(
    slurm_cluster: None, repo_copy: Path
) -> None:
    config = yaml.safe_load(TEST_CONFIG.read_text())
    config["profile"]["devices"] = ["cpu", "cuda:0"]
    configfile = repo_copy / "gpu_config.yaml"
    configfile.write_text(yaml.safe_dump(config))
    target = "results/profile/peak/cuda:0.json"

    rc, out = _snakemake(repo_copy, configfile, [target], repo_copy / "gpu.log")

    assert rc != 0, "a job that cannot find CUDA must fail the run"
    submitted = SUBMITTED.findall(out)
    assert len(submitted) == 1, submitted
    slurm_id = submitted[0][1]
    call = re.search(r"sbatch call: (.*)", out)
    assert call and "--gpus=1" in call.group(1), call
    info = _scontrol(slurm_id)
    assert info["Partition"] == "gpu", "the GPU rule did not go to the GPU partition"
    assert "gpu:1" in info.get("TresPerJob", ""), info
    assert info["JobState"] == "FAILED", info["JobState"]
    assert f"SLURM-job '{slurm_id}' failed" in out
    assert not (repo_copy / target).exists(), "a failed job left its output behind"
    rule_log = repo_copy / "results/logs/profile/peak/cuda:0.log"
    assert "no CUDA device" in rule_log.read_text()
