"""Where jetprof runs: the supported table, and one line for everything else."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from jetprof import cli, platforms

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(("system", "machine"), [("Linux", "x86_64"), ("Linux", "aarch64"), ("Darwin", "arm64")])
@pytest.mark.parametrize("python", platforms.PYTHONS)
def test_every_supported_platform_and_python_is_accepted(system: str, machine: str, python: tuple[int, int]) -> None:
    assert platforms.problem(system, machine, python) is None
    assert platforms.current(system, machine) is not None


@pytest.mark.parametrize(("system", "machine", "python", "says"), [
    ("Darwin", "x86_64", (3, 12), "Rosetta"),
    ("Windows", "AMD64", (3, 12), "WSL 2"),
    ("Linux", "ppc64le", (3, 12), "this is Linux ppc64le"),
    ("Linux", "x86_64", (3, 10), "this is Python 3.10"),
    ("Darwin", "arm64", (3, 14), "this is Python 3.14"),
])
def test_an_unsupported_platform_or_python_gets_one_line_saying_what_to_do(
        system: str, machine: str, python: tuple[int, int], says: str) -> None:
    line = platforms.problem(system, machine, python)
    assert line is not None and "\n" not in line and says in line
    assert platforms.OVERRIDE in line


def test_the_table_agrees_with_pyproject() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    versions = [f"{a}.{b}" for a, b in platforms.PYTHONS]
    assert project["requires-python"] == f">={versions[0]},<{platforms.PYTHONS[-1][0]}.{platforms.PYTHONS[-1][1] + 1}"
    classified = {c.rsplit(" :: ", 1)[1] for c in project["classifiers"]
                  if c.startswith("Programming Language :: Python :: 3.")}
    assert classified == set(versions)


def test_the_command_refuses_an_unsupported_platform_in_one_line(monkeypatch: pytest.MonkeyPatch,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(platforms.platform, "system", lambda: "Linux")
    monkeypatch.setattr(platforms.platform, "machine", lambda: "riscv64")
    monkeypatch.delenv(platforms.OVERRIDE, raising=False)
    assert cli.main(["validate", "nothing.root"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("jetprof: error: jetprof runs on") and "riscv64" in err and "\n" not in err
    monkeypatch.setenv(platforms.OVERRIDE, "1")
    assert platforms.refusal() is None


def _python310() -> str | None:
    """A real Python 3.10 here (pyenv's, or one on PATH that runs), else None."""
    for candidate in [*sorted(Path(os.path.expanduser("~/.pyenv/versions")).glob("3.10.*/bin/python3.10")),
                      shutil.which("python3.10")]:
        if candidate and subprocess.run([str(candidate), "-c", "import setuptools"],
                                        capture_output=True, timeout=60).returncode == 0:
            return str(candidate)
    return None


def test_install_under_an_unsupported_python_stops_in_setup_with_one_line(tmp_path: Path) -> None:
    """A real interpreter jetprof does not support runs the real setup.py: refused before pip resolves."""
    python = _python310()
    if python is None:
        pytest.skip("no Python 3.10 with setuptools here to try the install with")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", platforms.OVERRIDE)}
    run = subprocess.run([python, str(REPO / "setup.py"), "--name"], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 1
    lines = [line for line in run.stderr.splitlines() if line.startswith("jetprof:")]
    assert lines == [lines[0]] and "this is Python 3.10" in lines[0], run.stderr
    assert sys.version_info[:2] in platforms.PYTHONS  # and this one is supported
