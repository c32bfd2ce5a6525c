"""The environment block of a record: machine, versions, threads, git revision."""

from __future__ import annotations

import platform
import socket
import subprocess
import sys
from importlib import metadata
from typing import Any


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def cpu_model() -> str | None:
    """The CPU's model name from /proc/cpuinfo (Linux), else platform.processor()."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def git_revision() -> str | None:
    """HEAD of the git checkout the study runs in (the working directory), with ``-dirty``
    if tracked files changed; None outside a checkout."""
    try:
        rev = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            capture_output=True, text=True, timeout=10, check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            capture_output=True, text=True, timeout=10,
        ).stdout.strip()
        return rev + ("-dirty" if dirty else "") if rev else None
    except (OSError, subprocess.SubprocessError):
        return None


def _gpu_driver() -> str | None:
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
            capture_output=True, text=True, timeout=20, check=True,
        ).stdout.strip()
        return out.splitlines()[0] if out else None
    except (OSError, subprocess.SubprocessError):
        return None


def environment(device: str, config_hash: str | None = None) -> dict[str, Any]:
    """Describe where and with what a point was measured (torch must be importable)."""
    import torch

    gpu_name = gpu_driver = cuda_version = None
    if device.startswith("cuda"):
        gpu_name = torch.cuda.get_device_name(torch.device(device))
        gpu_driver = _gpu_driver()
        cuda_version = torch.version.cuda
    elif device == "mps":
        gpu_name = "Apple MPS"
    return {
        "host": socket.gethostname(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "cpu_model": cpu_model(),
        "gpu_name": gpu_name,
        "gpu_driver": gpu_driver,
        "cuda_version": cuda_version,
        "torch": torch.__version__,
        "weaver": _version("weaver-core"),
        "onnxruntime": _version("onnxruntime"),
        "numpy": _version("numpy"),
        "jetprof": _version("jetprof") or _jetprof_source_version(),
        "threads": torch.get_num_threads(),
        "interop_threads": torch.get_num_interop_threads(),
        "parallel_info": torch.__config__.parallel_info(),
        "git_revision": git_revision(),
        "config_hash": config_hash,
    }


def _jetprof_source_version() -> str | None:
    try:
        from jetprof import __version__

        return str(__version__)
    except ImportError:
        return None
