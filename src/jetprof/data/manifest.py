"""``jetprof manifest``: what a dataset holds, with content hashes.

ROOT files carry a UUID and timestamps, so two runs with the same seed give
different bytes but the same arrays. The manifest therefore hashes the array
content: for each branch in name order, its name, dtype and the values (for
jagged branches the per-jet counts, then the flattened values), in
little-endian byte order.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import TypedDict

import numpy as np

from jetprof.data import jetclass
from jetprof.errors import JetprofError
from jetprof.io import atomic_write_text

_NAME = re.compile(r"^(?P<prefix>[A-Za-z0-9]+)_(?P<index>\d+)\.root$")


def content_sha256(path: Path, step_size: int = 100_000) -> tuple[str, int]:
    """SHA-256 of a JetClass file's array content, and its number of jets.

    Args:
        path: ROOT file with TTree ``tree``.
        step_size: entries read at a time (bounds memory).

    Raises:
        JetprofError: the file cannot be read or has no TTree ``tree``.
    """
    import awkward as ak
    import uproot

    try:
        with uproot.open(path) as f:
            if jetclass.TREE_NAME not in f or f[jetclass.TREE_NAME].classname != "TTree":
                raise JetprofError(f"{path}: no TTree {jetclass.TREE_NAME!r}")
            tree = f[jetclass.TREE_NAME]
            names = sorted(tree.keys())
            digests = {name: hashlib.sha256(name.encode()) for name in names}
            for chunk in tree.iterate(names, step_size=step_size, library="ak"):
                for name in names:
                    arr = chunk[name]
                    h = digests[name]
                    if arr.ndim > 1:
                        h.update(np.asarray(ak.num(arr, axis=1), dtype="<i8").tobytes())
                        arr = ak.flatten(arr, axis=None)
                    values = np.asarray(ak.to_numpy(arr))
                    h.update(str(values.dtype.newbyteorder("<")).encode())
                    h.update(values.astype(values.dtype.newbyteorder("<")).tobytes())
            n = int(tree.num_entries)
    except JetprofError:
        raise
    except (OSError, ValueError, KeyError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise JetprofError(f"{path}: cannot read as ROOT: {first}") from None
    total = hashlib.sha256()
    for name in names:
        total.update(digests[name].digest())
    return total.hexdigest(), n


class FileEntry(TypedDict):
    """One dataset file in the manifest."""

    path: str
    split: str
    process: str
    label: str
    index: int
    n_jets: int
    content_sha256: str
    size_bytes: int


class Manifest(TypedDict):
    """The dataset manifest (``jetprof manifest``'s JSON)."""

    schema_version: int
    files: list[FileEntry]
    n_jets: dict[str, dict[str, int]]
    generator_settings: Mapping[str, object] | None
    versions: dict[str, str | None]


def describe(path: Path) -> FileEntry:
    """One manifest entry: split, process, jets, content hash, size."""
    m = _NAME.match(path.name)
    if m is None or m["prefix"] not in jetclass.BY_PREFIX:
        raise JetprofError(f"{path}: name is not <Process>_<NNN>.root with a JetClass process")
    split = path.parent.name
    if split not in jetclass.SPLITS:
        raise JetprofError(f"{path}: parent folder must be a split ({', '.join(jetclass.SPLITS)})")
    digest, n = content_sha256(path)
    proc = jetclass.BY_PREFIX[m["prefix"]]
    return {
        "path": str(path),
        "split": split,
        "process": proc.file_prefix,
        "label": proc.label,
        "index": int(m["index"]),
        "n_jets": n,
        "content_sha256": digest,
        "size_bytes": path.stat().st_size,
    }


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def _pythia_version() -> str | None:
    """``"<module> <version>"`` of the Pythia 8 build here (PyPI's pythia8mc or conda-forge's pythia8)."""
    from jetprof.data.generate import PYTHIA_MODULES, pythia_module_name

    for dist in PYTHIA_MODULES:
        if version := _version(dist):
            return f"{dist} {version}"
    name = pythia_module_name()
    return f"{name} (no version in its metadata)" if name else None


def build_manifest(files: list[Path], settings: Mapping[str, object] | None = None) -> Manifest:
    """The manifest for ``files`` (sorted by path), with settings and versions."""
    entries = [describe(p) for p in sorted(files, key=str)]
    totals: dict[str, dict[str, int]] = {}
    for e in entries:
        totals.setdefault(e["split"], {}).setdefault(e["process"], 0)
        totals[e["split"]][e["process"]] += e["n_jets"]
    return {
        "schema_version": 1,
        "files": entries,
        "n_jets": {split: dict(sorted(v.items())) for split, v in sorted(totals.items())},
        "generator_settings": settings,
        "versions": {"pythia8": _pythia_version(),
                     **{d: _version(d) for d in ("jetprof", "fastjet", "uproot", "awkward", "numpy")}},
    }


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``jetprof manifest``."""
    parser.add_argument("--out", type=Path, required=True, help="manifest JSON to write")
    parser.add_argument("--settings-json", default=None,
                        help="generator settings to record (JSON object); default: "
                             "jetprof's built-in generator settings")
    parser.add_argument("files", nargs="+", type=Path, help="dataset ROOT files")


def run(args: argparse.Namespace) -> int:
    """Write the manifest atomically."""
    if args.settings_json is None:
        from jetprof.data.generate import GeneratorSettings

        settings: Mapping[str, object] = GeneratorSettings().as_dict()
    else:
        try:
            loaded = json.loads(args.settings_json)
        except json.JSONDecodeError as exc:
            raise JetprofError(f"--settings-json is not valid JSON: {exc}") from None
        if not isinstance(loaded, dict):
            raise JetprofError("--settings-json must be a JSON object")
        settings = loaded
    for p in args.files:
        if not p.is_file():
            raise JetprofError(f"{p}: no such file")
    manifest = build_manifest(list(args.files), settings)
    atomic_write_text(args.out, json.dumps(manifest, indent=2, sort_keys=False) + "\n")
    n = sum(e["n_jets"] for e in manifest["files"])
    print(f"{args.out}: {len(manifest['files'])} files, {n} jets")
    return 0
