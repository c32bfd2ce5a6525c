"""Official ParT checkpoints: fetch with a checked hash, convert to weaver 0.5's layout.

The official checkpoints (``jet-universe/particle_transformer``,
``models/ParT_{full,kin,kinpid}.pt``) were trained with weaver 0.4-era code and load
silently into weaver-core 0.5 but compute wrong outputs: :mod:`jetprof.model.layout`
explains why and converts them. The three files are recognised by their git blob
SHA-1 (the hash GitHub stores them under), so ``fetch-weights`` records them as
official and 0.4-era even when no sha256 is given.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import tempfile
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jetprof import http
from jetprof.contract import DEFAULT_NETWORK_CONFIG, WEAVER_CONFIGS
from jetprof.errors import JetprofError
from jetprof.io import atomic_write, sha256_file
from jetprof.model import build as jmodel
from jetprof.model.layout import LAYOUTS, detect_layout, to_current_layout


@dataclass(frozen=True)
class OfficialCheckpoint:
    """One of the checkpoints published with the ParT paper."""

    name: str
    repo_path: str
    git_blob_sha1: str
    data_config: str  # file name under jetprof/model/weaver/
    layout: str = "0.4"

    @property
    def url(self) -> str:
        return f"https://github.com/jet-universe/particle_transformer/raw/main/{self.repo_path}"


# Git blob ids from jet-universe/particle_transformer (unchanged since its initial
# commit 512fcd1, 2022-03-28). The sha256 of the files is not published; the git
# blob id (sha1 of b"blob <size>\0" + bytes) pins the same bytes.
OFFICIAL_CHECKPOINTS: tuple[OfficialCheckpoint, ...] = (
    OfficialCheckpoint(
        "ParT_full",
        "models/ParT_full.pt",
        "cf510276bb5616caf87adace4e05eafab4b6c762",
        "JetClass_full.yaml",
    ),
    OfficialCheckpoint(
        "ParT_kin",
        "models/ParT_kin.pt",
        "70a82e78a7dc54601d4b19c089969fd917e397b9",
        "JetClass_kin.yaml",
    ),
    OfficialCheckpoint(
        "ParT_kinpid",
        "models/ParT_kinpid.pt",
        "f4bf560aed152f0b2acd37f60be1323ea84039f8",
        "JetClass_kinpid.yaml",
    ),
)


def official_by_blob(blob_sha1: str) -> OfficialCheckpoint | None:
    """The official checkpoint with this git blob id, if any."""
    return next((c for c in OFFICIAL_CHECKPOINTS if c.git_blob_sha1 == blob_sha1), None)


def official_by_source(source: str) -> OfficialCheckpoint | None:
    """The official checkpoint a URL points at (github.com or raw.githubusercontent.com), if any."""
    if not re.search(r"jet-universe/particle_transformer/", source):
        return None
    return next((c for c in OFFICIAL_CHECKPOINTS if source.endswith("/" + c.repo_path)), None)


def git_blob_sha1(path: str | os.PathLike[str], chunk: int = 1 << 20) -> str:
    """The id git gives a file's content: ``sha1(b"blob <size>\\0" + bytes)``."""
    h = hashlib.sha1(f"blob {os.path.getsize(path)}\0".encode())
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


# --------------------------------------------------------------------------- fetching


def fetch(source: str, dest: Path) -> None:
    """Get ``source`` into ``dest``: an http(s) URL in one try (:func:`jetprof.http.stream`), else
    a file:// URL or a local path copied."""
    url = urllib.parse.urlparse(source)
    if url.scheme in ("http", "https"):
        http.stream(source, dest, name=Path(url.path).name, retries=0, who="jetprof fetch-weights")
        return
    src = Path(urllib.request.url2pathname(url.path) if url.scheme == "file" else source)
    if not src.is_file():
        raise JetprofError(f"{src}: checkpoint not found")
    shutil.copyfile(src, dest)


def fetch_weights(
    source: str,
    out: str | os.PathLike[str],
    sha256: str | None,
    layout: str = "auto",
    data_config: str | os.PathLike[str] | None = None,
    network_config: str | os.PathLike[str] | None = None,
) -> dict[str, Any]:
    """Fetch a checkpoint, check its hash, convert it to the 0.5 layout, check it fits, save it.

    Nothing is left at ``out`` (or beside it) unless every step succeeded.

    Args:
        source: http(s)/file URL or local path.
        out: where the converted state dict goes (written atomically).
        sha256: expected sha256 of the fetched file; may be ``None`` only for the
            official checkpoints, which are then checked by their git blob id.
        layout: ``auto``, ``0.4`` or ``0.5`` (see :func:`to_current_layout`).
        data_config: weaver data config the model is built from (its feature set
            must match the checkpoint's).
        network_config: weaver network config (default: ``workflow/weaver/ParT.py``).

    Returns:
        Provenance: source, hashes, size, official name, layouts, parameter count.
    """
    import torch


    if layout not in LAYOUTS:
        raise JetprofError(
            f"unknown checkpoint layout {layout!r} (choose from {', '.join(LAYOUTS)})"
        )
    if sha256 is not None and not re.fullmatch(r"[0-9a-fA-F]{64}", sha256):
        raise JetprofError(f"--sha256 {sha256!r} is not 64 hex digits")
    by_source = official_by_source(source)
    if sha256 is None and by_source is None:
        raise JetprofError(
            f"{source}: give --sha256 "
            "(only the official ParT checkpoints are known by their git blob id)"
        )
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".part", dir=out.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        fetch(source, tmp)
        size = tmp.stat().st_size
        digest = sha256_file(tmp)
        blob = git_blob_sha1(tmp)
        if sha256 is not None and digest.lower() != sha256.lower():
            raise JetprofError(
                f"{source}: sha256 mismatch: expected {sha256.lower()}, "
                f"got {digest} ({size} bytes); file removed"
            )
        official = official_by_blob(blob)
        if sha256 is None and (official is None or official != by_source):
            assert by_source is not None
            raise JetprofError(
                f"{source}: not the official {by_source.repo_path}: git blob id {blob}, "
                f"expected {by_source.git_blob_sha1} ({size} bytes); file removed"
            )
        if official is not None and layout == "0.5":
            raise JetprofError(
                f"{source}: is the official {official.name} checkpoint, which is 0.4-era; "
                "--layout 0.5 would give wrong outputs"
            )
        state = jmodel.read_state_dict(tmp)
        found = detect_layout(state)
        effective = "0.4" if official is not None and layout == "auto" else layout
        if data_config is None:
            data_config = WEAVER_CONFIGS / (
                official.data_config if official else "JetClass_full.yaml"
            )
        built = jmodel.build_model(network_config or DEFAULT_NETWORK_CONFIG, data_config)
        converted, legacy = to_current_layout(state, built.model, effective)
        jmodel.check_state_fits(
            built.model, converted, f"{source} (with data config {data_config})"
        )
        built.model.load_state_dict(converted, strict=True)
        atomic_write(out, lambda tmp_out: torch.save(converted, tmp_out))  # 0644: collaborators read it
    finally:
        tmp.unlink(missing_ok=True)
    try:
        from importlib.metadata import version

        weaver_version = version("weaver-core")
    except Exception:
        weaver_version = None
    return {
        "source": source,
        "out": str(out),
        "size_bytes": size,
        "sha256": digest,
        "git_blob_sha1": blob,
        "official": official.name if official else None,
        "layout_detected": found,
        "layout_requested": layout,
        "converted_from_04": legacy,
        "out_sha256": sha256_file(out),
        "data_config": str(data_config),
        "params": built.num_params,
        "weaver": weaver_version,
    }


# --------------------------------------------------------------------------- CLI


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``jetprof fetch-weights``."""
    parser.add_argument(
        "--url", required=True, help="http(s)/file URL or local path of the checkpoint"
    )
    parser.add_argument(
        "--sha256",
        help="expected sha256 of the file (optional only for the official ParT_*.pt URLs)",
    )
    parser.add_argument(
        "--out", required=True, help="where the state dict in weaver 0.5 layout is written"
    )
    parser.add_argument(
        "--layout",
        choices=LAYOUTS,
        default="auto",
        help="layout of the checkpoint: auto (from key names / official hash), 0.4 or 0.5",
    )
    parser.add_argument(
        "--data-config",
        help="weaver data config; its feature set must match the checkpoint's "
        "(default: the official file's, else JetClass_full.yaml)",
    )
    parser.add_argument(
        "--network-config", help="weaver network config (default: workflow/weaver/ParT.py)"
    )
    parser.add_argument("--record", help="also write what was fetched and done as JSON here")


def run(args: argparse.Namespace) -> int:
    """Fetch, check, convert and write one checkpoint."""
    info = fetch_weights(
        args.url, args.out, args.sha256, args.layout, args.data_config, args.network_config
    )
    if args.record:
        record = Path(args.record)
        record.parent.mkdir(parents=True, exist_ok=True)
        tmp = record.with_name(f".{record.name}.tmp")
        tmp.write_text(json.dumps(info, indent=2, sort_keys=True) + "\n")
        os.replace(tmp, record)
    what = f"official {info['official']}, " if info["official"] else ""
    conv = (
        "converted from weaver 0.4 layout"
        if info["converted_from_04"]
        else "already in weaver 0.5 layout"
    )
    print(
        f"{info['out']}: {what}{conv}, {info['params']:,} parameters, sha256 {info['out_sha256'][:12]}"
    )
    return 0
