"""scripts/check_wheels.py's judgement, on release file lists shaped like the registry's.

The registry itself is asked by CI (`.ci/run` runs the script); these tests need no network.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

from jetprof.platforms import platform_named

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "check_wheels.py"
spec = importlib.util.spec_from_file_location("check_wheels", SCRIPT)
cw = importlib.util.module_from_spec(spec)
spec.loader.exec_module(cw)

V = Version("8.317.2")
MAC, LINUX, ARM = (platform_named(k) for k in ("macos-arm64", "linux-x86_64", "linux-aarch64"))


def files(*names: str, requires_python: str | None = None) -> list[dict]:
    return [{"filename": n, "requires-python": requires_python, "yanked": False} for n in names]


def test_a_wheel_for_a_newer_macos_than_the_supported_one_does_not_count() -> None:
    # pythia8mc 8.316+: macOS 15 wheels only; an M3 on macOS 14 would compile the sdist
    release = files("pythia8mc-8.317.2-cp312-cp312-macosx_15_0_arm64.whl",
                    "pythia8mc-8.317.2-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
                    "pythia8mc-8.317.2.tar.gz")
    assert cw.verdict(release, V, MAC, (3, 12)) == "sdist only"
    assert cw.verdict(release, V, LINUX, (3, 12)) == "wheel"
    assert cw.verdict(release, V, ARM, (3, 12)) == "sdist only"
    assert cw.verdict(release, V, LINUX, (3, 13)) == "sdist only"  # cp312 only


def test_abi3_pure_python_yanked_other_versions_and_requires_python() -> None:
    assert cw.verdict(files("x-8.317.2-cp39-abi3-macosx_11_0_arm64.whl"), V, MAC, (3, 13)) == "wheel"
    assert cw.verdict(files("x-8.317.2-py3-none-any.whl"), V, ARM, (3, 11)) == "wheel"
    assert cw.verdict(files("x-8.317.1-py3-none-any.whl"), V, ARM, (3, 11)) == "none"
    yanked = [{"filename": "x-8.317.2-py3-none-any.whl", "yanked": "broken"}]
    assert cw.verdict(yanked, V, ARM, (3, 11)) == "none"
    assert cw.verdict(files("x-8.317.2-py3-none-any.whl", requires_python=">=3.12"), V, ARM, (3, 11)) == "none"
    assert cw.verdict(files("x-8.317.2-py3-none-any.whl", requires_python="<3.*"), V, ARM, (3, 11)) == "wheel"
    # manylinux_2_35 (openvino's aarch64 wheels) is newer than the glibc floor
    assert cw.verdict(files("x-8.317.2-cp312-cp312-manylinux_2_35_aarch64.whl"), V, ARM, (3, 12)) == "none"


@pytest.mark.parametrize(("key", "expected"), [("linux-x86_64", True), ("macos-arm64", True),
                                               ("linux-aarch64", False)])
def test_the_generator_pin_is_a_default_exactly_where_it_has_wheels(key: str, expected: bool) -> None:
    (pin,) = [r for r, where in cw.pins(SCRIPT.parents[1] / "pyproject.toml")
              if r.name == "pythia8mc" and where == "dependencies"]
    assert isinstance(pin, Requirement)
    env = cw.marker_environment(platform_named(key), (3, 12))
    assert pin.marker is not None and pin.marker.evaluate(env) is expected
