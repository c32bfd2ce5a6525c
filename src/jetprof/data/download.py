"""``jetprof download``: fetch JetClass from Zenodo, check it, unpack it.

JetClass (Zenodo record 6619768, DOI 10.5281/zenodo.6619768) ships as tarballs
``JetClass_Pythia_{part}.tar`` with MD5 sums published by the dataset's authors
(``get_datasets.py`` of jet-universe/particle_transformer). Each tarball holds
``<Process>_<NNN>.root`` files; they end up as ``DEST/{train,val,test}/<file>``.

Guarantees:

* Every file is fetched into ``CACHE`` by :func:`jetprof.data.fetch.fetch`: checked by
  its format and its checksum before it gets its final name, resumed with ``Range``
  when cut, stamped when verified (the guarantees are told there).
* Extraction goes through a temporary folder inside ``DEST`` and each file is
  renamed into place, so a rerun always ends with every file present, also when
  the tarball came from an earlier run.

The single example file (``JetClass_example_100k.root``, 100k jets of all ten
classes) is served by the authors from ``hqu.web.cern.ch``; no checksum is
published for it, so ``--md5 example=HEX`` or ``--sha256 example=HEX`` pins it.
Because it mixes all classes in one file, it is split by entry ranges into
``DEST/{train,val,test}/JetClass_example_100k_{split}.root``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
import tarfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypedDict

from jetprof.data import jetclass
from jetprof.data.fetch import Remote, fetch
from jetprof.errors import JetprofError
from jetprof.io import atomic_write, atomic_write_text

ZENODO_URL = "https://zenodo.org/records/6619768/files"
EXAMPLE_URL = "https://hqu.web.cern.ch/datasets/JetClass/example"
EXAMPLE_FILE = "JetClass_example_100k.root"

# part name -> published MD5 of JetClass_Pythia_<part>.tar
ZENODO_MD5: dict[str, str] = {
    "train_100M_part0": "de4fd2dca2e68ab3c85d5cfd3bcc65c3",
    "train_100M_part1": "9722a359c5ef697bea0fbf79bf50f003",
    "train_100M_part2": "1e9f66cd1f915f9d10e90ae1d7761720",
    "train_100M_part3": "47348fc8985319fa4806da87500482fa",
    "train_100M_part4": "6b0ce16bd93b442a8d51914466990279",
    "train_100M_part5": "416e347512e716de51d392bee327b8e9",
    "train_100M_part6": "e9b9c1557b1b39bf0a16e4ab631ae451",
    "train_100M_part7": "5bfc6cb285ccb7680cefa9ac82ad1a2e",
    "train_100M_part8": "540c1a0d66dfad78d2b363c5740ccf86",
    "train_100M_part9": "668f40b3275167ff7104c48317c0ae2a",
    "val_5M": "7235ccb577ed85023ea3ab4d5e6160cf",
    "test_20M": "64e5156d26d101adeb43b8388207d767",
}
DEFAULT_PARTS = ("train_100M_part0", "val_5M", "test_20M")
EXAMPLE_FRACTIONS = {"train": 0.8, "val": 0.1, "test": 0.1}

_ROOT_NAME = re.compile(r"^(?P<prefix>[A-Za-z0-9]+)_(?P<index>\d+)\.root$")
_CHUNK = 1 << 20


def split_of(part: str) -> str:
    """The split (``train``/``val``/``test``) a Zenodo part belongs to."""
    split = part.split("_", 1)[0]
    if split not in jetclass.SPLITS:
        raise JetprofError(f"part {part!r}: cannot tell its split (train/val/test)")
    return split


def _parse_pins(values: list[str], option: str) -> dict[str, str]:
    pins: dict[str, str] = {}
    for value in values:
        name, sep, digest = value.partition("=")
        digest = digest.strip().lower()
        if not sep or not name or not re.fullmatch(r"[0-9a-f]+", digest):
            raise JetprofError(f"{option} {value!r}: expected PART=HEXDIGEST")
        pins[name.strip()] = digest
    return pins


def remotes(
    source: str,
    parts: list[str],
    base_url: str | None,
    md5: dict[str, str] | None = None,
    sha256: dict[str, str] | None = None,
) -> list[Remote]:
    """The files to fetch for a source and a list of parts.

    Args:
        source: ``zenodo`` or ``example``.
        parts: Zenodo part names (ignored for ``example``).
        base_url: folder URL that holds the files; None for the official one.
        md5: per-part MD5 pins that replace the published ones.
        sha256: per-part SHA-256 pins (take precedence over MD5).

    Returns:
        One Remote per file.
    """
    md5, sha256 = md5 or {}, sha256 or {}
    if source == "example":
        base = (base_url or EXAMPLE_URL).rstrip("/")
        if "example" in sha256:
            algo, digest = "sha256", sha256["example"]
        elif "example" in md5:
            algo, digest = "md5", md5["example"]
        else:
            algo, digest = None, None
        return [Remote("example", f"{base}/{EXAMPLE_FILE}", EXAMPLE_FILE, algo, digest)]
    if source != "zenodo":
        raise JetprofError(f"unknown source {source!r}; expected zenodo or example")
    base = (base_url or ZENODO_URL).rstrip("/")
    out = []
    for part in parts:
        if part not in ZENODO_MD5:
            raise JetprofError(f"unknown JetClass part {part!r}; known: {', '.join(ZENODO_MD5)}")
        name = f"JetClass_Pythia_{part}.tar"
        if part in sha256:
            algo, digest = "sha256", sha256[part]
        else:
            algo, digest = "md5", md5.get(part, ZENODO_MD5[part])
        out.append(Remote(part, f"{base}/{name}", name, algo, digest))
    return out


def _wanted(name: str, processes: set[str] | None) -> bool:
    m = _ROOT_NAME.match(name)
    if not m:
        return False
    return processes is None or m.group("prefix") in processes


def extract(tarball: Path, split: str, dest: Path, processes: set[str] | None = None) -> list[Path]:
    """Unpack a JetClass tarball's ROOT files into ``dest/split``.

    Only regular files named ``<Prefix>_<NNN>.root`` (of the chosen processes)
    are taken; the tarball's own folders (``train_100M/`` ...) are dropped.
    Files already present with the right size are kept; the rest are unpacked
    into a temporary folder inside ``dest`` and renamed into place.

    Args:
        tarball: verified tarball.
        split: target split folder.
        dest: dataset root.
        processes: file prefixes to keep, or None for all.

    Returns:
        The target paths, sorted.

    Raises:
        JetprofError: unreadable tarball, or one with no matching file.
    """
    target_dir = dest / split
    try:
        with tarfile.open(tarball) as tar:
            members = [
                m for m in tar.getmembers() if m.isfile() and _wanted(Path(m.name).name, processes)
            ]
            if not members:
                raise JetprofError(
                    f"{tarball}: no <Process>_<NNN>.root files for the chosen processes"
                )
            names = [Path(m.name).name for m in members]
            if len(set(names)) != len(names):
                raise JetprofError(f"{tarball}: the same file name appears twice")
            todo = [
                m
                for m in members
                if not (
                    (target_dir / Path(m.name).name).is_file()
                    and (target_dir / Path(m.name).name).stat().st_size == m.size
                )
            ]
            if todo:
                target_dir.mkdir(parents=True, exist_ok=True)
                tmp = dest / f".extract-{tarball.name}-{os.getpid()}"
                shutil.rmtree(tmp, ignore_errors=True)
                tmp.mkdir(parents=True)
                try:
                    for m in todo:
                        src = tar.extractfile(m)
                        if src is None:
                            raise JetprofError(f"{tarball}: cannot read member {m.name}")
                        staged = tmp / Path(m.name).name
                        with src, open(staged, "wb") as out:
                            shutil.copyfileobj(src, out, _CHUNK)
                        os.replace(staged, target_dir / staged.name)
                finally:
                    shutil.rmtree(tmp, ignore_errors=True)
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise JetprofError(f"{tarball}: cannot unpack: {exc}") from None
    return sorted(target_dir / n for n in names)


def split_example(path: Path, dest: Path, fractions: dict[str, float] | None = None) -> list[Path]:
    """Split the mixed-class example file by entry ranges into train/val/test.

    Each output is a TTree ``tree`` with the same branches (jagged ``part_*``
    branches share one counter ``npart``), written through a temp file.

    Args:
        path: the verified example ROOT file.
        dest: dataset root.
        fractions: split -> fraction of entries, in order train, val, test.

    Returns:
        The written files.
    """
    import awkward as ak
    import uproot

    fractions = fractions or EXAMPLE_FRACTIONS
    stem = Path(EXAMPLE_FILE).stem
    targets = {s: dest / s / f"{stem}_{s}.root" for s in fractions}
    if all(t.is_file() for t in targets.values()):
        return list(targets.values())
    try:
        tree = uproot.open(path)[jetclass.TREE_NAME]
        arrays = tree.arrays(library="ak")
    except Exception as exc:  # uproot raises many types
        raise JetprofError(f"{path}: cannot read tree {jetclass.TREE_NAME!r}: {exc}") from None
    n = len(arrays)
    fields = arrays.fields
    jagged = [f for f in fields if arrays[f].ndim > 1]
    flat = [f for f in fields if arrays[f].ndim == 1]
    start = 0
    out = []
    for i, (split, frac) in enumerate(fractions.items()):
        stop = n if i == len(fractions) - 1 else start + round(frac * n)
        chunk = arrays[start:stop]
        start = stop
        data: dict[str, Any] = {f: ak.to_numpy(chunk[f]) for f in flat}
        groups: dict[str, dict[str, Any]] = {}
        for f in jagged:
            prefix, _, rest = f.partition("_")
            groups.setdefault(prefix, {})[rest or f] = chunk[f]
        for prefix, cols in groups.items():
            data[prefix] = ak.zip(cols)
        target = targets[split]

        def write(tmp: str, data: dict[str, Any] = data) -> None:
            with uproot.recreate(tmp) as f:
                types = {k: v.type if isinstance(v, ak.Array) else v.dtype for k, v in data.items()}
                f.mktree(jetclass.TREE_NAME, types)
                f[jetclass.TREE_NAME].extend(data)

        atomic_write(target, write)
        out.append(target)
    return out


class PartRecord(TypedDict):
    """One fetched part in ``download.json``."""

    part: str
    url: str
    file: str
    algorithm: str | None
    digest: str | None
    extracted: int


class DownloadRecord(TypedDict):
    """``download.json``: where the dataset came from and the files it unpacked, by split."""

    source: str
    record: str
    processes: list[str] | None
    parts: list[PartRecord]
    files: dict[str, list[str]]


def _done_files(done: Path, key: Mapping[str, object], dest: Path) -> list[Path] | None:
    """The files a finished part left, if its record matches and they are all intact."""
    try:
        data = json.loads(done.read_text())
    except (OSError, ValueError):
        return None
    if any(data.get(k) != v for k, v in key.items()) or not data.get("files"):
        return None
    paths = []
    for rel, size in data["files"].items():
        p = dest / rel
        if not p.is_file() or p.stat().st_size != size:
            return None
        paths.append(p)
    return paths


def download(
    source: str,
    parts: list[str],
    dest: Path,
    cache: Path,
    *,
    base_url: str | None = None,
    processes: list[str] | None = None,
    md5: dict[str, str] | None = None,
    sha256: dict[str, str] | None = None,
    retries: int = 5,
    backoff_s: float = 2.0,
    progress: bool | None = None,
) -> DownloadRecord:
    """Fetch, verify and unpack; write ``dest/download.json``.

    Returns:
        The content of ``download.json``.
    """
    prefixes: set[str] | None = None
    if processes:
        try:
            prefixes = {jetclass.process(p).file_prefix for p in processes}
        except KeyError as exc:
            raise JetprofError(str(exc.args[0])) from None
    files: dict[str, list[str]] = {s: [] for s in jetclass.SPLITS}
    record_parts: list[PartRecord] = []
    for remote in remotes(source, parts, base_url, md5, sha256):
        # a part whose files are all in place needs no tarball (it may have been deleted to save disk)
        done = dest / f".done-{remote.filename}.json"
        key = {"digest": remote.digest, "processes": sorted(prefixes) if prefixes else None}
        written = _done_files(done, key, dest)
        if written is not None:
            print(f"jetprof download: {remote.filename}: files already in place", file=sys.stderr)
        else:
            path, fetched = fetch(
                remote, cache, retries=retries, backoff_s=backoff_s, progress=progress
            )
            print(
                f"jetprof download: {remote.filename}: {'downloaded' if fetched else 'cached'}, "
                f"format and {remote.algorithm or 'sha256 (unpinned)'} ok",
                file=sys.stderr,
            )
            if source == "example":
                written = split_example(path, dest)
            else:
                written = extract(path, split_of(remote.part), dest, prefixes)
            sizes = {w.relative_to(dest).as_posix(): w.stat().st_size for w in written}
            atomic_write_text(done, json.dumps({**key, "files": sizes}, indent=1) + "\n")
        for w in written:
            files[w.parent.name].append(w.relative_to(dest).as_posix())
        record_parts.append(
            {
                "part": remote.part,
                "url": remote.url,
                "file": remote.filename,
                "algorithm": remote.algorithm,
                "digest": remote.digest,
                "extracted": len(written),
            }
        )
    record: DownloadRecord = {
        "source": source,
        "record": "https://doi.org/10.5281/zenodo.6619768",
        "processes": sorted(prefixes) if prefixes else None,
        "parts": record_parts,
        "files": {s: sorted(set(v)) for s, v in files.items()},
    }
    atomic_write_text(dest / "download.json", json.dumps(record, indent=1) + "\n")
    return record


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``jetprof download``."""
    parser.add_argument("--source", choices=("zenodo", "example"), default="zenodo",
                        help="zenodo: JetClass tarballs (Zenodo record 6619768); example: its 100k-jet example file")
    parser.add_argument(
        "--base-url", default=None, help="folder URL holding the files (default: the official one)"
    )
    parser.add_argument(
        "--parts",
        default=",".join(DEFAULT_PARTS),
        help="comma-separated Zenodo parts, e.g. train_100M_part0,val_5M,test_20M",
    )
    parser.add_argument(
        "--processes", default=None, help="comma-separated classes to keep (default: all)"
    )
    parser.add_argument("--dest", type=Path, default=Path("results/dataset"),
                        help="where the ROOT files are unpacked ({split}/...) and download.json is written")
    parser.add_argument("--cache", type=Path, default=Path("results/downloads"),
                        help="verified tarballs and resumable .part files, kept across runs")
    parser.add_argument(
        "--md5", action="append", default=[], metavar="PART=HEX", help="pin or override an MD5"
    )
    parser.add_argument(
        "--sha256", action="append", default=[], metavar="PART=HEX", help="pin a SHA-256"
    )
    parser.add_argument("--retries", type=int, default=5, help="resumes after a cut connection")
    parser.add_argument("--backoff", type=float, default=2.0, help="seconds before the first retry")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    """Run ``jetprof download``."""
    parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    processes = (
        [p.strip() for p in args.processes.split(",") if p.strip()] if args.processes else None
    )
    record = download(
        args.source,
        parts,
        args.dest,
        args.cache,
        base_url=args.base_url,
        processes=processes,
        md5=_parse_pins(args.md5, "--md5"),
        sha256=_parse_pins(args.sha256, "--sha256"),
        retries=args.retries,
        backoff_s=args.backoff,
        progress=False if args.no_progress else None,
    )
    counts = ", ".join(f"{s}: {len(v)}" for s, v in record["files"].items())
    print(f"jetprof download: {args.dest}: {counts} files", file=sys.stderr)
    return 0
