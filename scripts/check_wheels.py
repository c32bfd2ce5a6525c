#!/usr/bin/env python3
"""Does every pinned requirement have a wheel on every supported platform and Python?

Reads the pins of pyproject.toml (dependencies and every extra), evaluates each pin's
environment marker for each platform of ``jetprof.platforms.PLATFORMS`` and each Python
of ``jetprof.platforms.PYTHONS``, and looks the pinned release's files up in the
registry's metadata (the PEP 691 JSON simple API: file names, yanked flags,
requires-python). A pin whose release has no wheel that such a machine accepts would
make pip fall back to compiling its sdist (pythia8mc: over an hour), so it fails the
check. Needs the network (the registry) and ``packaging``; downloads no package.

    python scripts/check_wheels.py                 # the table, exit 1 on a gap
    python scripts/check_wheels.py --index-url URL # another PEP 691 index
    python scripts/check_wheels.py --only pythia8mc,torch
"""

from __future__ import annotations

import argparse
import json
import sys
import tomllib
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from packaging import tags
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
from jetprof.platforms import PLATFORMS, PYTHONS, Platform  # noqa: E402

ACCEPT = "application/vnd.pypi.simple.v1+json"
#: (package, extra, platform) where building from the sdist is the extra's documented purpose
SOURCE_BUILDS = {("pythia8mc", "generate", "linux-aarch64"): "the generator extra compiles Pythia 8 there (~1 h)"}


def pins(pyproject: Path) -> list[tuple[Requirement, str]]:
    """(requirement, where) for every entry of dependencies and each extra."""
    project = tomllib.loads(pyproject.read_text())["project"]
    found = [(Requirement(s), "dependencies") for s in project.get("dependencies", [])]
    for extra, specs in project.get("optional-dependencies", {}).items():
        found += [(Requirement(s), f"[{extra}]") for s in specs]
    for req, where in found:
        if len(req.specifier) != 1 or next(iter(req.specifier)).operator != "==":
            raise SystemExit(f"check_wheels: {pyproject.name} {where}: {req} is not pinned to one version (==)")
    return found


def marker_environment(plat: Platform, python: tuple[int, int], extra: str = "") -> dict[str, str]:
    system = {"linux": "Linux", "darwin": "Darwin"}[plat.sys_platform]
    return {
        "implementation_name": "cpython", "implementation_version": f"{python[0]}.{python[1]}.0",
        "os_name": "posix", "platform_machine": plat.platform_machine, "platform_release": "",
        "platform_system": system, "platform_version": "", "python_full_version": f"{python[0]}.{python[1]}.0",
        "platform_python_implementation": "CPython", "python_version": f"{python[0]}.{python[1]}",
        "sys_platform": plat.sys_platform, "extra": extra,
    }


def accepted_tags(plat: Platform, python: tuple[int, int]) -> set[tags.Tag]:
    """Every wheel tag a CPython of that version on that platform installs."""
    interpreter = f"cp{python[0]}{python[1]}"
    found = set(tags.cpython_tags(python, platforms=list(plat.wheel_tags)))
    found |= set(tags.compatible_tags(python, interpreter=interpreter, platforms=list(plat.wheel_tags)))
    return found


def release_files(index: str, name: str) -> list[dict]:
    url = f"{index.rstrip('/')}/{canonicalize_name(name)}/"
    request = urllib.request.Request(url, headers={"Accept": ACCEPT})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.load(response)["files"]
    except (urllib.error.URLError, TimeoutError, json.JSONDecodeError, KeyError) as exc:
        raise SystemExit(f"check_wheels: cannot read {url} ({exc}); this check needs the registry") from exc


def _of_release(filename: str, version: Version) -> bool:
    try:
        if filename.endswith(".whl"):
            return parse_wheel_filename(filename)[1] == version
        if filename.endswith((".tar.gz", ".zip")):
            return parse_sdist_filename(filename)[1] == version
    except (InvalidWheelFilename, InvalidSdistFilename, InvalidVersion):
        pass
    return False


def _python_ok(requires_python: str | None, python: Version) -> bool:
    if not requires_python:
        return True
    try:
        return python in SpecifierSet(requires_python)
    except InvalidSpecifier:  # an old release's malformed metadata: pip ignores it too
        return True


def verdict(files: list[dict], version: Version, plat: Platform, python: tuple[int, int]) -> str:
    """'wheel', 'sdist only' or 'none' for one pinned release on one target."""
    accepted = accepted_tags(plat, python)
    full = Version(f"{python[0]}.{python[1]}.0")
    sdist = False
    for f in files:
        name = f["filename"]
        if f.get("yanked") or not _of_release(name, version) or not _python_ok(f.get("requires-python"), full):
            continue
        if name.endswith(".whl"):
            if parse_wheel_filename(name)[3] & accepted:
                return "wheel"
        else:
            sdist = True
    return "sdist only" if sdist else "none"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pyproject", type=Path, default=REPO / "pyproject.toml")
    parser.add_argument("--index-url", default="https://pypi.org/simple")
    parser.add_argument("--only", default="", help="comma-separated package names to check")
    args = parser.parse_args(argv)

    wanted = {canonicalize_name(n) for n in args.only.split(",") if n}
    reqs = [(r, w) for r, w in pins(args.pyproject) if not wanted or canonicalize_name(r.name) in wanted]
    names = sorted({canonicalize_name(r.name) for r, _ in reqs})
    with ThreadPoolExecutor(8) as pool:
        files = dict(zip(names, pool.map(lambda n: release_files(args.index_url, n), names)))

    targets = [(p, py) for p in PLATFORMS for py in PYTHONS]
    head = [f"{p.key} {a}.{b}" for p, (a, b) in targets]
    width = max(len(f"{r.name}=={next(iter(r.specifier)).version} {w}") for r, w in reqs)
    print(f"wheels for each pin ({args.index_url}); '-' = the pin's marker leaves it out there")
    print(f"{'requirement':<{width}} " + " ".join(f"{h:>18}" for h in head))
    gaps = []
    for req, where in reqs:
        version = Version(next(iter(req.specifier)).version)
        extra = where.strip("[]") if where.startswith("[") else ""
        cells = []
        for plat, py in targets:
            marker: Marker | None = req.marker
            if marker is not None and not marker.evaluate(marker_environment(plat, py, extra)):
                cells.append("-")
                continue
            v = verdict(files[canonicalize_name(req.name)], version, plat, py)
            allowed = SOURCE_BUILDS.get((canonicalize_name(req.name), extra, plat.key))
            cells.append(v + ("*" if allowed and v == "sdist only" else ""))
            if v != "wheel" and not (allowed and v == "sdist only"):
                gaps.append(f"{req.name}=={version} ({where}): {v} on {plat.label}, Python {py[0]}.{py[1]}")
        label = f"{req.name}=={version} {where if extra else ''}"
        print(f"{label:<{width}} " + " ".join(f"{c:>18}" for c in cells))
    for (name, extra, key), why in SOURCE_BUILDS.items():
        print(f"* {name} [{extra}] on {key}: {why}")
    if gaps:
        print(f"\ncheck_wheels: {len(gaps)} gap(s): pip would build these from source or fail:", file=sys.stderr)
        for g in gaps:
            print(f"  {g}", file=sys.stderr)
        print("Pin a release with wheels there, or give the requirement a marker that leaves that platform out "
              "(and say in the README what the platform does instead).", file=sys.stderr)
        return 1
    print(f"\ncheck_wheels: every pin has a wheel on {len(PLATFORMS)} platforms x {len(PYTHONS)} Pythons")
    return 0


if __name__ == "__main__":
    sys.exit(main())
