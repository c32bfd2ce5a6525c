"""The per-rule conda envs: every rule names one that exists, pins agree with pyproject.toml.

conda itself cannot be installed on the project machine (no conda channel is
reachable), so `--sdm conda` is not run here; these tests check the env files,
the rules that use them and the post-deploy script that installs jetprof.
"""

from __future__ import annotations

import os
import re
import subprocess
import tomllib
from pathlib import Path

import pytest
import yaml
from conftest import child_venv, copy_repo

REPO = Path(__file__).resolve().parents[1]
ENVS = REPO / "envs"
RULES = REPO / "workflow" / "rules"

# conda-forge name -> PyPI name, where they differ
CONDA_TO_PYPI = {"pytorch": "torch", "pythia8": "pythia8mc", "py-xgboost": "xgboost"}
# conda-forge builds whose version differs from pyproject's pin, each for a stated reason (envs/data.yaml)
CONDA_FORGE_VERSIONS = {
    "pythia8mc": ("8.312", "conda-forge's pythia8: the newest seen built for py3.11 on linux-64, linux-aarch64 "
                           "and osx-arm64; pip's pythia8mc 8.315.0 is the newest with macOS 14 wheels"),
}
# what conda-forge must build itself (no PyPI wheel on one supported platform, or a C++ stack)
FROM_CONDA_FORGE = {"pythia8mc", "fastjet"}
# build tooling every env carries, not a project dependency
TOOLING = {"python", "pip", "setuptools", "wheel"}
CONDA_SPEC = re.compile(r"^(?P<name>[A-Za-z0-9_.\-]+)\s*(?:==?\s*(?P<version>[^=\s]+))?(?:=(?P<build>\S+))?$")
PIP_SPEC = re.compile(r"^(?P<name>[A-Za-z0-9_.\-]+)(?:\[[^\]]*\])?\s*(?P<op>==|>=|<=|~=|!=|>|<)?\s*(?P<version>\S+)?$")


def normalize(name: str) -> str:
    """PEP 503 name, with conda-forge names mapped to their PyPI names."""
    name = re.sub(r"[-_.]+", "-", name).lower()
    return CONDA_TO_PYPI.get(name, name)


def pyproject_pins() -> dict[str, str]:
    """Every `name==version` in pyproject.toml's dependencies and extras."""
    data = tomllib.loads((REPO / "pyproject.toml").read_text())
    specs = list(data["project"].get("dependencies", []))
    for extra in data["project"].get("optional-dependencies", {}).values():
        specs += extra
    pins: dict[str, str] = {}
    for spec in specs:
        m = PIP_SPEC.match(spec.split(";")[0].strip())
        if m and m["op"] == "==":
            pins[normalize(m["name"])] = m["version"]
    return pins


def env_files() -> list[Path]:
    return sorted(ENVS.glob("*.yaml"))


def env_packages(path: Path) -> tuple[dict[str, str | None], dict[str, str | None]]:
    """(conda packages, pip packages) of one env file: normalized name -> pinned version."""
    env = yaml.safe_load(path.read_text())
    conda: dict[str, str | None] = {}
    pip: dict[str, str | None] = {}
    for dep in env.get("dependencies", []):
        if isinstance(dep, dict):
            for line in dep.get("pip", []):
                m = PIP_SPEC.match(line.split(";")[0].strip())  # a marker (mlcommons-loadgen's) set aside
                assert m, f"{path.name}: cannot parse pip requirement {line!r}"
                pip[normalize(m["name"])] = m["version"] if m["op"] == "==" else None
        else:
            m = CONDA_SPEC.match(str(dep).strip())
            assert m, f"{path.name}: cannot parse conda dependency {dep!r}"
            conda[normalize(m["name"])] = m["version"]
    return conda, pip


def test_there_is_one_env_per_rule_family() -> None:
    assert {p.stem for p in env_files()} >= {"data", "train", "profile", "plot"}


@pytest.mark.parametrize("path", env_files(), ids=lambda p: p.name)
def test_env_file_uses_conda_forge_and_pins_everything(path: Path) -> None:
    env = yaml.safe_load(path.read_text())
    assert env["channels"] == ["conda-forge", "nodefaults"], f"{path.name}: channels"
    conda, pip = env_packages(path)
    assert conda.get("python"), f"{path.name}: python is not pinned"
    assert "pip" in conda, f"{path.name}: pip must be a conda dependency when pip: is used"
    for name, version in {**conda, **pip}.items():
        assert version, f"{path.name}: {name} is not pinned to one version"
    assert not set(conda) & set(pip), f"{path.name}: package both from conda and pip"
    # no package may pull jetprof's whole dependency set into the env
    assert "jetprof" not in pip and not any(
        str(d).startswith(("-e", "--editable"))
        for dep in env["dependencies"]
        if isinstance(dep, dict)
        for d in dep.get("pip", [])
    ), f"{path.name}: install jetprof in the post-deploy script, not as a pip entry"


@pytest.mark.parametrize("path", env_files(), ids=lambda p: p.name)
def test_env_pins_agree_with_pyproject(path: Path) -> None:
    pins = pyproject_pins()
    conda, pip = env_packages(path)
    checked = 0
    for name, version in {**conda, **pip}.items():
        if name in TOOLING:
            continue
        assert name in pins, f"{path.name}: {name} is not a pinned dependency in pyproject.toml"
        if name in conda and name in CONDA_FORGE_VERSIONS:
            assert version == CONDA_FORGE_VERSIONS[name][0], f"{path.name}: {name}={version}: say why in the test"
            checked += 1
            continue
        assert version == pins[name], (
            f"{path.name}: {name}=={version} but pyproject.toml pins {name}=={pins[name]}"
        )
        checked += 1
    assert checked, f"{path.name}: no packages besides the tooling"


def test_the_generator_stack_comes_from_conda_forge_builds() -> None:
    conda, pip = env_packages(ENVS / "data.yaml")
    assert FROM_CONDA_FORGE <= set(conda), f"data.yaml: {sorted(FROM_CONDA_FORGE - set(conda))} not from conda-forge"
    assert not FROM_CONDA_FORGE & set(pip)


def test_pin_parsing_maps_conda_names() -> None:
    assert normalize("pytorch") == "torch"
    assert normalize("PyYAML") == "pyyaml"
    assert normalize("weaver_core") == "weaver-core"
    assert CONDA_SPEC.match("pytorch=2.13.0=cuda*")["version"] == "2.13.0"
    assert CONDA_SPEC.match("numpy==2.4.6")["version"] == "2.4.6"


@pytest.mark.parametrize("path", env_files(), ids=lambda p: p.name)
def test_env_has_post_deploy_script(path: Path) -> None:
    script = path.with_name(path.stem + ".post-deploy.sh")
    assert script.is_file(), f"{script.name} is missing: the env would lack jetprof"
    assert os.access(script, os.X_OK), f"{script.name} is not executable"
    assert script.read_text() == (ENVS / "data.post-deploy.sh").read_text(), (
        f"{script.name} differs from data.post-deploy.sh"
    )


def _smk_conda_paths() -> list[tuple[Path, str]]:
    """Every `conda:` path written in workflow/rules/*.smk (plain string literals)."""
    found = []
    for smk in sorted(RULES.glob("*.smk")):
        text = smk.read_text()
        for m in re.finditer(r"^\s*conda:\s*\n?\s*[\"']([^\"']+)[\"']", text, flags=re.M):
            found.append((smk, m.group(1)))
    return found


def test_rule_files_name_existing_envs() -> None:
    paths = _smk_conda_paths()
    assert paths, "no conda: directive in workflow/rules/*.smk"
    for smk, rel in paths:
        target = (smk.parent / rel).resolve()
        assert target.is_file(), f"{smk.name}: conda: {rel!r} does not exist ({target})"
        assert target.parent == ENVS, f"{smk.name}: conda: {rel!r} is outside envs/"


def _load_rules(configfile: Path) -> list[tuple[str, str | None, bool, Path]]:
    """(rule name, conda env, does work, snakefile) for every rule of the workflow."""
    from snakemake.api import SnakemakeApi
    from snakemake.settings.types import ConfigSettings, ResourceSettings

    cwd = os.getcwd()
    os.chdir(REPO)
    try:
        with SnakemakeApi() as api:
            wf = api.workflow(
                snakefile=REPO / "Snakefile",
                resource_settings=ResourceSettings(),
                config_settings=ConfigSettings(configfiles=[configfile]),
            )
            rules = []
            for rule in wf._workflow.rules:
                # target rules (all, figures, ...) only collect inputs
                does_work = bool(rule.shellcmd or rule.script or rule.notebook or rule.wrapper)
                rules.append((rule.name, rule.conda_env, does_work, Path(rule.snakefile)))
            return rules
    finally:
        os.chdir(cwd)


@pytest.mark.parametrize("configfile", ["config/config.yaml", ".test/config/config.yaml"])
def test_every_rule_that_does_work_has_an_existing_env(configfile: str) -> None:
    rules = _load_rules(REPO / configfile)
    working = [r for r in rules if r[2]]
    assert len(working) >= 5, f"only {len(working)} rules do work: {rules}"
    for name, env, _, snakefile in working:
        assert env, f"rule {name} ({snakefile.name}) has no conda: env"
        target = (snakefile.parent / env).resolve()
        assert target.is_file(), f"rule {name}: conda env {env} does not exist"
        assert target.parent == ENVS, f"rule {name}: conda env {env} is outside envs/"


def test_post_deploy_refuses_a_directory_that_is_not_jetprof(tmp_path: Path) -> None:
    result = subprocess.run(
        ["bash", str(ENVS / "data.post-deploy.sh")],
        cwd=tmp_path,
        env={**os.environ, "JETPROF_REPO": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 1
    assert "is not jetprof's" in result.stderr and str(tmp_path) in result.stderr


def test_post_deploy_installs_jetprof_editable_without_deps(tmp_path: Path) -> None:
    """Run the script as Snakemake would: cwd = repo root, env python first on PATH."""
    repo = copy_repo(tmp_path / "repo")
    venv = tmp_path / "venv"
    # pip, setuptools and wheel (conda pins in the envs) come from the test interpreter's site packages
    child_venv(venv)
    env = {**os.environ, "PATH": f"{venv / 'bin'}:{os.environ['PATH']}", "PIP_NO_INDEX": "1"}
    env.pop("JETPROF_REPO", None)
    env.pop("PYTHONPATH", None)  # an inherited one would shadow what the env installed
    result = subprocess.run(
        ["bash", str(repo / "envs" / "profile.post-deploy.sh")],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    where = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import jetprof; print(jetprof.__file__)"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert Path(where).resolve() == (repo / "src" / "jetprof" / "__init__.py").resolve()
    assert (venv / "bin" / "jetprof").is_file(), "the jetprof console script is missing"
