"""Shared pytest fixtures: the repository root and a private copy of it."""

from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


def copy_repo(dest: Path) -> Path:
    """Copy the working tree as a fresh clone would see it (tracked + untracked, not ignored)."""
    out = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=REPO,
        check=True,
        capture_output=True,
    ).stdout.decode()
    for rel in filter(None, out.split("\0")):
        src = REPO / rel
        target = dest / rel
        if src.is_symlink() and src.is_dir():  # a linked folder (workflow/weaver): linked, as in a clone
            target.parent.mkdir(parents=True, exist_ok=True)
            target.symlink_to(os.readlink(src), target_is_directory=True)
            continue
        if not src.is_file():
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, target)
    return dest


def child_venv(root: Path) -> Path:
    """A fresh venv, without pip, that sees this interpreter's packages (torch, pip, weaver...).

    ``--system-site-packages`` would show the *base* interpreter's packages, which are not
    this one's when the tests run in a venv or a conda env: a ``.pth`` file lists this
    interpreter's site-packages folders instead. Folders a ``.pth`` names are added as they
    are, without reading their own ``.pth`` files, so an editable jetprof installed here does
    not show through. Returns the venv's python.
    """
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True)
    python = root / "bin" / "python"
    child_site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                check=True, capture_output=True, text=True).stdout.strip()
    ours = [p for p in [*site.getsitepackages(), site.getusersitepackages() if site.ENABLE_USER_SITE else None]
            if p and Path(p).is_dir()]
    (Path(child_site) / "_parent_interpreter.pth").write_text("".join(f"{p}\n" for p in dict.fromkeys(ours)))
    return python


def reordered(value):
    """The same values with every mapping's keys in reverse order (a config rewritten sorted
    by another tool): what decides a rerun must not change."""
    if isinstance(value, dict):
        return {k: reordered(value[k]) for k in reversed(list(value))}
    if isinstance(value, list):
        return [reordered(v) for v in value]
    return value


def write_group(path: Path, rounds: dict[str, list[float]], memory=None, jets=None, batch_size=8,
                process: list[int] | None = None) -> Path:
    """A paired group file with the given rounds per variant label (``model/weights/backend-precision``,
    ``#2`` for the A/A replica): comparisons computed from known ratios. ``process``: the measuring
    process of each round (absent: a file written before process replication)."""
    variants = []
    for label, ms in rounds.items():
        head, _, replica = label.partition("#")
        model, weights, pair = head.split("/")
        backend, precision = pair.rsplit("-", 1)
        variants.append({"label": label, "model": model, "weights": weights, "backend": backend,
                         "precision": precision, "replica": int(replica) - 1 if replica else 0,
                         "status": "ok", "error": None, "round_latency_ms": ms,
                         "peak_memory_bytes": (memory or {}).get(label, 1000), "flops_per_jet": 5e8,
                         "subnormal": {"weights": 0, "weight_values": 10, "activations": 0, "activation_values": 20}})
        variants[-1]["record"] = None if replica else f"profile/{model}/{weights}/cpu/{pair}/preal/bs{batch_size}.json"
        if process is not None:
            variants[-1]["round_process"] = process
    env = json.loads((Path(__file__).parent / "data" / "records_v1" / "group-bs2.json").read_text())["env"]
    doc = {"schema_version": 1, "kind": "jetprof paired group", "device": "cpu", "particles": "real",
           "batch_size": batch_size, "jets": jets or {"kind": "real", "files": ["a.root:0-8"]}, "order": "williams",
           "rounds": [], "min_rounds": 2, "max_rounds": 2, "threshold_for_stopping": 0.05, "flush_denormal": False,
           "variants": variants, "env": env, "started_utc": "2026-12-02T00:00:00Z", "duration_s": 1.0}
    if process is not None:
        doc["processes"] = len(set(process))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc))
    return path
