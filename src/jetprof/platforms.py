"""Where jetprof is meant to run: platforms, Pythons, and the refusal for the rest.

One table, read by three callers:

* ``setup.py`` (by file path, before any dependency is resolved) refuses to install
  on a platform or Python not listed here, in one line;
* ``jetprof`` (the command) refuses to run on one, in one line;
* ``scripts/check_wheels.py`` checks that every pinned requirement has a wheel on each
  platform and Python listed here, from the registry's metadata.

This module imports nothing beyond the standard library: ``setup.py`` executes it
before jetprof's dependencies exist.
"""

from __future__ import annotations

import os
import platform
import sys
from collections.abc import Mapping
from dataclasses import dataclass

#: the Python minor versions supported (pyproject.toml's requires-python and classifiers say the same)
PYTHONS: tuple[tuple[int, int], ...] = ((3, 11), (3, 12), (3, 13))

#: set to 1 to install or run on a platform or Python not listed here, at your own risk
OVERRIDE = "JETPROF_ALLOW_UNSUPPORTED"


@dataclass(frozen=True)
class Platform:
    """One supported operating system and processor."""

    key: str  # the lock file's and the wheel check's name for it
    system: str  # platform.system()
    machines: tuple[str, ...]  # platform.machine() spellings
    label: str  # for people
    #: the newest wheel platform tag a typical machine of this kind accepts, then older ones
    #: (manylinux_2_28: RHEL 8 / Ubuntu 20.04 and newer; macOS 14: what an M3 shipped with)
    wheel_tags: tuple[str, ...]
    #: PEP 508 marker values (sys_platform, platform_machine) for resolving pins
    sys_platform: str
    platform_machine: str
    #: uv's --python-platform name
    uv_platform: str
    #: the oldest macOS supported (torch 2.13's arm64 wheels need 14); None off macOS
    macos_floor: str | None = None


def _manylinux(arch: str, newest_minor: int = 28) -> tuple[str, ...]:
    tags = [f"manylinux_2_{m}_{arch}" for m in range(newest_minor, 16, -1)]
    return (*tags, f"manylinux2014_{arch}")


def _macos_arm64(newest_major: int = 14) -> tuple[str, ...]:
    tags: list[str] = []
    for major in range(newest_major, 10, -1):
        tags += [f"macosx_{major}_0_arm64", f"macosx_{major}_0_universal2"]
    # macOS 11 wheels are also spelt 10_16 by older build tools
    return (*tags, "macosx_10_16_universal2", "macosx_10_9_universal2")


PLATFORMS: tuple[Platform, ...] = (
    Platform("linux-x86_64", "Linux", ("x86_64", "amd64"), "Linux x86_64",
             _manylinux("x86_64"), "linux", "x86_64", "x86_64-manylinux_2_28"),
    Platform("linux-aarch64", "Linux", ("aarch64", "arm64"), "Linux aarch64 (e.g. GH200 nodes)",
             _manylinux("aarch64"), "linux", "aarch64", "aarch64-manylinux_2_28"),
    Platform("macos-arm64", "Darwin", ("arm64",), "macOS arm64 (Apple M1 to M4)",
             _macos_arm64(), "darwin", "arm64", "aarch64-apple-darwin", "14.0"),
)


def platform_named(key: str) -> Platform:
    for p in PLATFORMS:
        if p.key == key:
            return p
    raise KeyError(f"{key!r} is not a supported platform ({', '.join(p.key for p in PLATFORMS)})")


def current(system: str | None = None, machine: str | None = None) -> Platform | None:
    """The supported platform this is, or None."""
    system = platform.system() if system is None else system
    machine = (platform.machine() if machine is None else machine).lower()
    for p in PLATFORMS:
        if p.system == system and machine in p.machines:
            return p
    return None


def _pythons() -> str:
    return ", ".join(f"{a}.{b}" for a, b in PYTHONS)


def problem(system: str | None = None, machine: str | None = None,
            python: tuple[int, int] | None = None) -> str | None:
    """One line saying why this platform or Python is not supported, or None if it is."""
    system = platform.system() if system is None else system
    machine = platform.machine() if machine is None else machine
    python = (sys.version_info[0], sys.version_info[1]) if python is None else python
    labels = ", ".join(p.label for p in PLATFORMS)
    if current(system, machine) is None:
        hint = ""
        if system == "Darwin" and machine.lower() == "x86_64":
            hint = " (torch 2.13 has no Intel-Mac build; on an Apple-silicon Mac use an arm64 Python, not Rosetta)"
        elif system == "Windows":
            hint = " (use WSL 2, which is Linux x86_64)"
        return (f"jetprof runs on {labels}; this is {system} {machine}{hint}. "
                f"Set {OVERRIDE}=1 to try anyway.")
    if python not in PYTHONS:
        return (f"jetprof supports Python {_pythons()}; this is Python {python[0]}.{python[1]}. "
                f"Make a venv with one of those (e.g. `python3.12 -m venv .venv`), "
                f"or set {OVERRIDE}=1 to try anyway.")
    return None


def refusal() -> str | None:
    """``problem()`` unless the override is set."""
    if os.environ.get(OVERRIDE, "") not in ("", "0"):
        return None
    return problem()


def cpu_label(info: Mapping[str, object] | None, model_name: str | None = None) -> str:
    """``"AMD EPYC (AuthenticAMD family 25 model 17)"``: a CPU's name and what tells two chips of one name apart.

    ``info`` is a record's ``env.cpu`` block; records made before it existed give only
    ``model_name`` (``env.cpu_model``).
    """
    if not info:
        return model_name or "unknown CPU"
    name = str(info.get("model_name") or model_name or "unknown CPU")
    detail = [str(info["vendor"])] if info.get("vendor") and str(info["vendor"]) not in name else []
    if info.get("family") is not None:
        detail.append(f"family {info['family']} model {info['model']}")
    return f"{name} ({' '.join(detail)})" if detail else name
