"""The environment block of a record: machine, versions, threads, git revision."""

from __future__ import annotations

import hashlib
import os
import platform
import re
import socket
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def cpu_model() -> str | None:
    """The CPU's model name (``cpu_info()["model_name"]``)."""
    return cpu_info()["model_name"]


#: the instruction-set flags that decide how fast a forward pass runs (vector width, fp16/bf16/int8 dot
#: products, matrix units); the record keeps these, not the whole /proc/cpuinfo list
SPEED_FLAGS = (
    "sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl", "avx512_vnni", "avx512_bf16",
    "avx512_fp16", "avx_vnni", "amx_tile", "amx_bf16", "amx_int8",
    # aarch64 (Linux "Features"; macOS hw.optional.arm.FEAT_*)
    "asimd", "asimddp", "asimdhp", "fphp", "sve", "sve2", "svebf16", "bf16", "i8mm", "sme", "sme2",
    "FEAT_BF16", "FEAT_I8MM", "FEAT_DotProd", "FEAT_FP16", "FEAT_SME", "FEAT_SME2",
)
#: Arm's part numbers for the server cores GPU nodes carry (CPU implementer 0x41)
ARM_PARTS = {"0xd0c": "Neoverse N1", "0xd40": "Neoverse V1", "0xd49": "Neoverse N2", "0xd4f": "Neoverse V2",
             "0xd8e": "Neoverse N3", "0xd84": "Neoverse V3"}


def _sysctl(name: str) -> str | None:
    try:
        out = subprocess.run(["sysctl", "-n", name], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    return out.stdout.strip() or None


def cpu_info(cpuinfo: str | None = None, system: str | None = None) -> dict[str, Any]:
    """Vendor, model name, family/model/stepping and the speed-relevant flags of this CPU.

    Linux reads /proc/cpuinfo (x86's ``model name`` is sometimes just "AMD EPYC" on a VM, so
    family, model and stepping travel with it; aarch64 has no model name, so it is made from
    the implementer and part numbers); macOS asks sysctl ("Apple M3", the FEAT_* flags).
    ``cpuinfo`` and ``system`` are for tests.
    """
    system = platform.system() if system is None else system
    info: dict[str, Any] = {"vendor": None, "model_name": None, "family": None, "model": None,
                            "stepping": None, "flags": []}
    if system == "Darwin" and cpuinfo is None:
        info["model_name"] = _sysctl("machdep.cpu.brand_string")
        info["vendor"] = "Apple" if (info["model_name"] or "").startswith("Apple") else None
        flags = [f for f in SPEED_FLAGS if f.startswith("FEAT_") and _sysctl(f"hw.optional.arm.{f}") == "1"]
        info["flags"] = flags
        return info
    if cpuinfo is None:
        try:
            with open("/proc/cpuinfo") as f:
                cpuinfo = f.read()
        except OSError:
            cpuinfo = ""
    fields: dict[str, str] = {}
    for line in cpuinfo.splitlines():
        if not line.strip():
            if fields:
                break  # the first processor is enough
            continue
        key, _, value = line.partition(":")
        fields.setdefault(key.strip().lower(), value.strip())
    info["vendor"] = fields.get("vendor_id")
    info["model_name"] = fields.get("model name")
    info["family"] = fields.get("cpu family")
    info["model"] = fields.get("model")
    info["stepping"] = fields.get("stepping")
    present = set((fields.get("flags") or fields.get("features") or "").split())
    info["flags"] = [f for f in SPEED_FLAGS if f in present]
    implementer, part = fields.get("cpu implementer"), fields.get("cpu part")
    if implementer and not info["model_name"]:
        info["vendor"] = {"0x41": "ARM", "0x61": "Apple", "0x4e": "NVIDIA"}.get(implementer, implementer)
        name = ARM_PARTS.get(part or "", f"part {part}") if implementer == "0x41" else f"part {part}"
        info["model_name"] = f"{info['vendor']} {name}"
        info["model"] = part
    if not info["model_name"]:
        info["model_name"] = platform.processor() or None
    return info


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
    cpu = cpu_info()
    if device.startswith("cuda"):
        gpu_name = torch.cuda.get_device_name(torch.device(device))
        gpu_driver = _gpu_driver()
        cuda_version = torch.version.cuda
    elif device == "mps":
        gpu_name = f"Apple MPS ({cpu['model_name']})" if cpu["model_name"] else "Apple MPS"
        gpu_driver = f"macOS {platform.mac_ver()[0]}" if platform.mac_ver()[0] else None
    return {
        "host": socket.gethostname(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "cpu_model": cpu["model_name"],
        "cpu": cpu,
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
        "lock": lock_status(),
        # MPS: unsupported ops silently run on the CPU when this is set (torch reads it at import)
        "mps_fallback": os.environ.get("PYTORCH_ENABLE_MPS_FALLBACK") if device == "mps" else None,
    }


def _jetprof_source_version() -> str | None:
    try:
        from jetprof import __version__

        return str(__version__)
    except ImportError:
        return None


def lock_status(repo: Path | None = None) -> dict[str, Any] | None:
    """Which lock file (``locks/``, scripts/lock.py) this interpreter's packages match.

    The lock of this platform and Python (the CPU-only variant when torch is a ``+cpu``
    build) is compared, package by package, with what is installed: ``matches`` is true
    when every locked package is installed at the locked version (``differs`` names the
    first few that are not). None outside a checkout with locks (an installed wheel).
    """
    from jetprof.platforms import current

    repo = Path(__file__).resolve().parents[3] if repo is None else repo
    plat = current()
    locks = repo / "locks"
    if plat is None or not locks.is_dir():
        return None
    py = f"py{sys.version_info[0]}{sys.version_info[1]}"
    torch_version = _version("torch") or ""
    variant = "-cpu" if plat.key == "linux-x86_64" and "+cpu" in torch_version else ""
    path = locks / f"{plat.key}{variant}-{py}.txt"
    if not path.is_file():
        return {"file": str(path.relative_to(repo)), "sha256": None, "matches": False, "differs": ["no such lock"]}
    text = path.read_text()
    pinned = re.findall(r"^([A-Za-z0-9_.\-]+)==([^\s\\;]+)", text, flags=re.M)
    differs = []
    for name, version in pinned:
        have = _version(name)
        if have is None or have.split("+")[0] != version.split("+")[0]:
            differs.append(f"{name} {have or 'missing'} (lock {version})")
    return {"file": str(path.relative_to(repo)), "sha256": hashlib.sha256(text.encode()).hexdigest(),
            "packages": len(pinned), "matches": not differs, "differs": differs[:10]}
