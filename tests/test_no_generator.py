"""A Python without Pythia 8 (Linux aarch64 from pip): one line saying how else to get jets.

Pythia is hidden the way Python itself spells "not installed" (``sys.modules[name] = None``),
in a real ``jetprof generate`` and a real Snakemake dry run of the tiny config.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import copy_repo

HIDE = "import sys; sys.modules['pythia8mc'] = sys.modules['pythia8'] = None; "


def _one_line(stderr: str, prefix: str) -> str:
    lines = [line for line in stderr.splitlines() if line.startswith(prefix)]
    assert len(lines) == 1, stderr[-3000:]
    return lines[0]


def test_generate_without_pythia_fails_in_one_line_and_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "HToBB_000.root"
    code = HIDE + "from jetprof.cli import main; sys.exit(main(sys.argv[1:]))"
    run = subprocess.run([sys.executable, "-c", code, "generate", "--process", "Hbb", "--split", "train",
                          "--index", "0", "--jets", "10", "--seed", "1", "--out", str(out)],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode != 0
    line = _one_line(run.stderr, "jetprof generate: error:")
    for hint in ("dataset.source: example", "--sdm conda", "results/dataset/", "jetprof[generate]"):
        assert hint in line, line
    assert not out.exists() and not list(tmp_path.iterdir())


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_repo(tmp_path_factory.mktemp("nogen"))


def _dry_run(repo: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    code = HIDE + "from snakemake.cli import main; sys.argv = ['snakemake', *sys.argv[1:]]; main()"
    return subprocess.run([sys.executable, "-c", code, "-n", "--cores", "1", *extra,
                           "--configfile", ".test/config/config.yaml"],
                          cwd=repo, capture_output=True, text=True, timeout=600)


def test_the_study_without_pythia_says_how_to_get_jets_before_any_job(repo: Path) -> None:
    run = _dry_run(repo)
    assert run.returncode == 1, run.stdout[-2000:] + run.stderr[-2000:]
    line = _one_line(run.stderr, "jetprof: cannot generate the jets here:")
    assert "Pythia 8 is not installed" in line and "dataset.source: example" in line
    assert "rule generate_dataset" not in run.stdout + run.stderr


def test_the_study_without_pythia_goes_on_when_the_jets_are_there_or_conda_brings_it(repo: Path) -> None:
    conda = _dry_run(repo, "--sdm", "conda")  # the data env brings conda-forge's pythia8
    assert "cannot generate" not in conda.stderr, conda.stderr[-2000:]
    import yaml

    from jetprof.workflow import dataset_files

    config = yaml.safe_load((repo / ".test/config/config.yaml").read_text())
    for f in dataset_files(config):  # jets copied from a machine that generated them
        (repo / f).parent.mkdir(parents=True, exist_ok=True)
        (repo / f).write_bytes(b"")
    copied = _dry_run(repo)
    assert "cannot generate" not in copied.stderr, copied.stderr[-2000:]
