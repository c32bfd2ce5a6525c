"""The package stands alone: a wheel of it, installed without the repository, works.

The wheel is built from a copy of the working tree (``pip wheel --no-deps``) and installed
with ``--no-deps`` into a fresh venv that sees the test interpreter's site packages (torch,
weaver and the rest come from there, whether the tests run from the system Python, a venv or
a conda env); everything then runs from a folder outside the repository,
with no PYTHONPATH, so only what the wheel carries is there: the schemas, the weaver
configs, the ``jetprof`` command.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from conftest import child_venv, copy_repo

# a wheel build, a venv and one profiled point take about 15 s on 2 cores: not `slow`

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project's wheel, built from a copy (the build writes build/ and *.egg-info)."""
    root = tmp_path_factory.mktemp("wheel")
    source = copy_repo(root / "source")
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
         "--no-index", "-w", str(root / "dist"), str(source)],
        capture_output=True, text=True, timeout=600, env=_clean_env())
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    (found,) = (root / "dist").glob("jetprof-*.whl")
    return found


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv (system site packages visible) with only the wheel installed into it."""
    root = tmp_path_factory.mktemp("venv") / "venv"
    python = child_venv(root)
    # pip itself comes from this interpreter's site packages; --force-reinstall installs into the
    # venv even though this interpreter has an editable jetprof of the same version
    installed = subprocess.run(
        [str(python), "-m", "pip", "install", "--no-deps", "--no-index",
         "--force-reinstall", "--disable-pip-version-check", str(wheel)],
        capture_output=True, text=True, timeout=300, env=_clean_env())
    assert installed.returncode == 0, installed.stdout[-3000:] + installed.stderr[-3000:]
    return root


def _clean_env(venv: Path | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "JETPROF_REPO")}
    env["PIP_NO_INDEX"] = "1"
    if venv is not None:
        env["PATH"] = f"{venv / 'bin'}:{env['PATH']}"
        env["VIRTUAL_ENV"] = str(venv)
    return env


def test_wheel_carries_the_schemas_and_the_weaver_configs(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for expected in ("jetprof/schemas/config.schema.yaml", "jetprof/schemas/record.schema.json",
                     "jetprof/model/weaver/ParT.py", "jetprof/model/weaver/JetClass_full.yaml",
                     "jetprof/model/weaver/JetClass_kin.yaml",
                     "jetprof/model/weaver/JetClass_kinpid.yaml"):
        assert expected in names, f"{wheel.name} lacks {expected}"
    # what the repository ships there, the wheel ships too
    for folder in ("schemas", "model/weaver"):
        shipped = {f"jetprof/{folder}/{p.name}" for p in (REPO / "src" / "jetprof" / folder).iterdir()
                   if p.is_file()}
        assert shipped <= names, sorted(shipped - names)


def test_installed_package_finds_its_data(venv: Path, tmp_path: Path) -> None:
    code = (
        "import json, jetprof, jetprof.contract as c\n"
        "print(json.dumps({'file': jetprof.__file__, 'record': c.RECORD_SCHEMA.is_file(),"
        " 'config': c.CONFIG_SCHEMA.is_file(), 'network': c.DEFAULT_NETWORK_CONFIG.is_file(),"
        " 'data': c.DEFAULT_DATA_CONFIG.is_file(),"
        " 'weaver': sorted(p.name for p in c.WEAVER_CONFIGS.iterdir())}))\n"
    )
    out = subprocess.run([str(venv / "bin" / "python"), "-c", code], cwd=tmp_path,
                         env=_clean_env(venv), capture_output=True, text=True, check=True)
    found = json.loads(out.stdout)
    assert Path(found["file"]).resolve().is_relative_to(venv.resolve()), found["file"]
    assert found["record"] and found["config"] and found["network"] and found["data"]
    assert {"ParT.py", "JetClass_full.yaml", "JetClass_kin.yaml",
            "JetClass_kinpid.yaml"} <= set(found["weaver"])
    # the schema defaults reach the launcher from the installed package
    out = subprocess.run([str(venv / "bin" / "python"), "-c",
                          "from jetprof.train.launcher import DEFAULT_CONFIG as d;"
                          "print(d['samples_per_epoch'])"],
                         cwd=tmp_path, env=_clean_env(venv), capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "2400"


def test_installed_jetprof_profiles_a_point_outside_the_repository(venv: Path,
                                                                   tmp_path: Path) -> None:
    jetprof = venv / "bin" / "jetprof"
    assert jetprof.is_file(), "the wheel installs no jetprof console script"
    results = tmp_path / "results"
    run = subprocess.run(
        [str(jetprof), "profile", "--device", "cpu", "--batch-sizes", "1", "--weights",
         "random", "--particles", "16", "--out", str(results)],
        cwd=tmp_path, env=_clean_env(venv), capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    record = results / "profile" / "ParT_full" / "random" / "cpu" / "eager-fp32" / "p16" / "bs1.json"
    written = sorted(str(p.relative_to(tmp_path)) for p in results.rglob("*") if p.is_file())
    assert record.is_file(), f"no record at {record.relative_to(tmp_path)}; written: {written}"
    doc = json.loads(record.read_text())
    assert doc["status"] == "ok" and doc["batch_size"] == 1 and str(doc["particles"]) == "16"
