#!/usr/bin/env python3
"""The lock files: every transitive package pinned with its hashes, per platform and Python.

    python scripts/lock.py           # regenerate locks/ from pyproject.toml (needs uv and the registry)
    python scripts/lock.py --check   # fail if a lock is missing or older than pyproject.toml (offline)

One file per supported platform and Python (``jetprof.platforms``), resolved by uv against
the registry (PyPI) for that platform, with the study's and the tests' requirements
(``.[test]``). Each file's first lines record the digest of what it was resolved from
(requires-python, dependencies, the test extra): ``--check`` recomputes it, so a pin changed
in pyproject.toml without ``python scripts/lock.py`` fails CI.

What a lock means for torch. The registry's torch for Linux x86_64 is the CUDA build (it
runs on CPU-only machines too; its CUDA runtime is ~3 GB of nvidia-* wheels), and that is
what ``linux-x86_64-py3XX.txt`` pins: the lock for GPU nodes. For a CPU-only Linux x86_64
machine, ``linux-x86_64-cpu-py3XX.txt`` is the same resolution without torch and its
CUDA-only packages (nvidia-*, triton, cuda-*): install torch 2.13.0 from PyTorch's CPU
index first, then this lock with ``--no-deps`` (the README's locked install). macOS and
Linux aarch64 get torch's only build there.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
from jetprof.platforms import PLATFORMS, PYTHONS, Platform  # noqa: E402

LOCKS = REPO / "locks"
EXTRAS = ("test",)
INDEX = "https://pypi.org/simple"
#: packages only the CUDA build of torch needs (left out of the CPU-only variant)
CUDA_ONLY = re.compile(r"^(torch|triton|nvidia-[a-z0-9-]+|cuda-[a-z0-9-]+)$")
DIGEST_LINE = "# jetprof-lock-digest: "


def source_digest(pyproject: Path = REPO / "pyproject.toml") -> str:
    """What a lock is resolved from: requires-python, the dependencies and the locked extras."""
    project = tomllib.loads(pyproject.read_text())["project"]
    basis = {"requires-python": project["requires-python"], "dependencies": project["dependencies"],
             **{f"extra:{e}": project["optional-dependencies"][e] for e in EXTRAS}}
    return hashlib.sha256(json.dumps(basis, sort_keys=True).encode()).hexdigest()[:16]


def lock_names() -> list[str]:
    """Every lock file's name, e.g. ``macos-arm64-py312.txt``, ``linux-x86_64-cpu-py311.txt``."""
    names = []
    for plat in PLATFORMS:
        for a, b in PYTHONS:
            names.append(f"{plat.key}-py{a}{b}.txt")
            if plat.key == "linux-x86_64":
                names.append(f"{plat.key}-cpu-py{a}{b}.txt")
    return names


def header(name: str, digest: str) -> str:
    return (f"# {name}: jetprof's requirements (.[{','.join(EXTRAS)}]) locked with hashes by scripts/lock.py\n"
            f"# regenerate with `python scripts/lock.py` after changing pyproject.toml\n"
            f"{DIGEST_LINE}{digest}\n")


def without_cuda(text: str) -> str:
    """The lock without torch and its CUDA-only packages (each package is one block of lines)."""
    blocks, current = [], []
    for line in text.splitlines(keepends=True):
        if line and not line[0].isspace() and not line.startswith("#") and current:
            blocks.append(current)
            current = []
        current.append(line)
    if current:
        blocks.append(current)
    kept = []
    for block in blocks:
        m = re.match(r"^([A-Za-z0-9_.\-]+)==", block[0])
        if m and CUDA_ONLY.match(m.group(1).lower()):
            continue
        kept.append("".join(block))
    # comments saying a left-out package pulled another in ("via torch") stay: they are true
    return "".join(kept)


def compile_lock(uv: str, plat: Platform, python: tuple[int, int]) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "lock.txt"
        cmd = [uv, "pip", "compile", "pyproject.toml", *(f"--extra={e}" for e in EXTRAS),
               "--python-platform", plat.uv_platform, "--python-version", f"{python[0]}.{python[1]}",
               "--generate-hashes", "--index-url", INDEX, "--no-header", "--quiet", "--output-file", str(out)]
        # the macOS floor jetprof supports (torch 2.13's wheels need macOS 14 too)
        env = {**os.environ, **({"MACOSX_DEPLOYMENT_TARGET": plat.macos_floor} if plat.macos_floor else {})}
        run = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, env=env, timeout=600)
        if run.returncode != 0 or not out.is_file():
            raise SystemExit(f"lock: uv failed for {plat.key} Python {python[0]}.{python[1]}:\n{run.stderr[-3000:]}")
        return out.read_text()


def generate() -> int:
    uv = shutil.which("uv") or str(Path(sys.executable).with_name("uv"))
    if not Path(uv).exists():
        raise SystemExit("lock: uv is not installed: pip install 'jetprof[lock]' (or pip install uv)")
    LOCKS.mkdir(exist_ok=True)
    digest = source_digest()
    for plat in PLATFORMS:
        for python in PYTHONS:
            text = compile_lock(uv, plat, python)
            name = f"{plat.key}-py{python[0]}{python[1]}.txt"
            (LOCKS / name).write_text(header(name, digest) + text)
            print(f"lock: wrote locks/{name} ({text.count('==')} packages)")
            if plat.key == "linux-x86_64":
                cpu = f"{plat.key}-cpu-py{python[0]}{python[1]}.txt"
                (LOCKS / cpu).write_text(header(cpu, digest) + "# torch: install 2.13.0 from PyTorch's CPU index "
                                         "first (README)\n" + without_cuda(text))
                print(f"lock: wrote locks/{cpu}")
    return 0


def check() -> int:
    digest = source_digest()
    problems = []
    for name in lock_names():
        path = LOCKS / name
        if not path.is_file():
            problems.append(f"locks/{name} is missing")
            continue
        found = next((line[len(DIGEST_LINE):].strip() for line in path.read_text().splitlines()
                      if line.startswith(DIGEST_LINE)), None)
        if found != digest:
            problems.append(f"locks/{name} was resolved from another pyproject.toml ({found} != {digest})")
    extra = sorted(p.name for p in LOCKS.glob("*.txt") if p.name not in lock_names())
    problems += [f"locks/{n} is not a lock this project makes" for n in extra]
    if problems:
        print("lock: stale locks; run `python scripts/lock.py` and commit locks/:\n  " + "\n  ".join(problems),
              file=sys.stderr)
        return 1
    print(f"lock: {len(lock_names())} locks current with pyproject.toml ({digest})")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only check that the locks are current (offline)")
    args = parser.parse_args(argv)
    return check() if args.check else generate()


if __name__ == "__main__":
    sys.exit(main())
