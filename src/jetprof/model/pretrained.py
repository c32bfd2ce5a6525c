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
import contextlib
import hashlib
import json
import os
import re
import shutil
import tempfile
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jetprof import httpfetch as http
from jetprof import registry
from jetprof.contract import DEFAULT_NETWORK_CONFIG, WEAVER_CONFIGS
from jetprof.errors import JetprofError
from jetprof.io import atomic_write, sha256_file
from jetprof.model import build as jmodel
from jetprof.model.layout import LAYOUTS, detect_layout, to_current_layout
from jetprof.registry import OfficialCheckpoint, official_checkpoints

# The official checkpoints are entries of the zoo in the core registry (git blob ids from
# jet-universe/particle_transformer, unchanged since its initial commit 512fcd1,
# 2022-03-28; read from its tree at 2925bdb). The sha256 of the files is not published;
# the git blob id (sha1 of b"blob <size>\0" + bytes) pins the same bytes.
OFFICIAL_CHECKPOINTS: tuple[OfficialCheckpoint, ...] = official_checkpoints()


def official_by_blob(blob_sha1: str) -> OfficialCheckpoint | None:
    """The official checkpoint with this git blob id, if any."""
    return next((c for c in OFFICIAL_CHECKPOINTS if c.git_blob_sha1 == blob_sha1), None)


def official_by_source(source: str) -> OfficialCheckpoint | None:
    """The official checkpoint a URL points at (github.com or raw.githubusercontent.com), if any."""
    return registry.official_by_source(source, OFFICIAL_CHECKPOINTS)


def git_blob_sha1(path: str | os.PathLike[str], chunk: int = 1 << 20) -> str:
    """The id git gives a file's content: ``sha1(b"blob <size>\\0" + bytes)``."""
    h = hashlib.sha1(f"blob {os.path.getsize(path)}\0".encode())
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


# --------------------------------------------------------------------------- fetching


def fetch(source: str, dest: Path) -> None:
    """Get ``source`` into ``dest``: an http(s) URL in one try (:func:`jetprof.httpfetch.stream`), else
    a file:// URL or a local path copied."""
    url = urllib.parse.urlparse(source)
    if url.scheme in ("http", "https"):
        http.stream(source, dest, name=Path(url.path).name, retries=0, who="jetprof fetch-weights",
                    resumable=False)
        return
    src = Path(urllib.request.url2pathname(url.path) if url.scheme == "file" else source)
    if not src.is_file():
        raise JetprofError(f"{src}: checkpoint not found")
    shutil.copyfile(src, dest)


def _pf_features(data_config: str | os.PathLike[str]) -> int:
    return len(jmodel.load_data_config(data_config).input_dicts["pf_features"])


def select_configs(
    source: str,
    official: OfficialCheckpoint | None,
    model: str | None = None,
    network_config: str | os.PathLike[str] | None = None,
    data_config: str | os.PathLike[str] | None = None,
) -> tuple[Path, Path]:
    """The (network config, data config) a checkpoint is built with.

    ``model`` names a shipped network config (``jetprof/model/weaver/<model>.py``);
    ``network_config`` is any other file. Without either, an official checkpoint
    brings its own model and data config, anything else is ParT with the full
    feature set. An official checkpoint asked into another model, or with a data
    config of another feature set, is refused here, before any download.
    """
    from jetprof.model import zoo

    if model is not None and network_config is not None:
        raise JetprofError("give --model or --network-config, not both")
    if model is not None and model not in zoo.MODELS:
        raise JetprofError(f"--model {model}: not a shipped model ({', '.join(zoo.MODELS)})")
    if official is not None and model is not None and model != official.model:
        raise JetprofError(
            f"{source}: is the official {official.name} checkpoint, a {official.model} model, "
            f"not {model}: {_as_model(official.model)}"
        )
    name = model or (official.model if official is not None else None)
    if network_config is not None:
        network = Path(network_config)
    else:
        network = zoo.MODELS[name].network_config if name else DEFAULT_NETWORK_CONFIG
    if data_config is None:
        data = WEAVER_CONFIGS / (official.data_config if official else "JetClass_full.yaml")
        return network, data
    data = Path(data_config)
    if official is not None:
        have, want = _pf_features(data), zoo.FEATURE_SETS[official.feature_set]
        if have != want:
            raise JetprofError(
                f"{source}: is the official {official.name} checkpoint, for the {official.feature_set} "
                f"feature set ({want} particle features), but data config {data} has {have} "
                f"({zoo.feature_set_name(have)}): use {official.data_config}"
            )
    return network, data


def _as_model(model: str) -> str:
    """What to do when a checkpoint belongs to ``model``, in config terms and in flags."""
    return (f"measure it as {model} (in a study config: weaver.network_config, or a profile.models entry, "
            f"for {model}; on the command line: --model {model})")


def _kept(source: str) -> str:
    """What happened to the bytes after a refusal: only jetprof's temporary copy is gone."""
    if "://" in source and not source.startswith("file://"):
        return "the downloaded copy was deleted"
    return f"jetprof's temporary copy was deleted; {source} itself is unchanged"


def check_checkpoint_model(
    source: str, state: dict[str, Any], model: Any, network_config: Path, data_config: Path
) -> str | None:
    """Refuse a state dict made for another zoo model or feature set; the built model's zoo name.

    One message naming the file, the model or feature set the checkpoint is for, and
    the config that differs (a plain missing-keys list says neither).
    """
    from jetprof.model import zoo

    ours = zoo.identify(model.state_dict())
    theirs = zoo.identify(state)
    if ours is not None and theirs is not None and theirs != ours:
        raise JetprofError(
            f"{source}: is a {theirs} checkpoint, but network config {network_config} builds "
            f"{ours}: {_as_model(theirs)}"
        )
    count = zoo.feature_count(state, theirs) if theirs is not None and theirs == ours else None
    if count is not None:
        have, key = count
        want = zoo.feature_count(model.state_dict(), ours)
        if want is not None and want[0] != have:
            raise JetprofError(
                f"{source}: checkpoint is for {have} particle features ({zoo.feature_set_name(have)}; "
                f"{key} {tuple(state[key].shape)}), but data config {data_config} gives {want[0]} "
                f"({zoo.feature_set_name(want[0])}): feature set mismatch, pass the matching "
                "--data-config"
            )
    return ours


def fetch_weights(
    source: str,
    out: str | os.PathLike[str],
    sha256: str | None,
    layout: str = "auto",
    data_config: str | os.PathLike[str] | None = None,
    network_config: str | os.PathLike[str] | None = None,
    model: str | None = None,
) -> dict[str, Any]:
    """Fetch a checkpoint, check its hash, convert it to the 0.5 layout, check it fits, save it.

    Nothing is left at ``out`` (or beside it) unless every step succeeded. The same
    checkpoint gives the same bytes at ``out`` (and so the same ``out_sha256``) every time.

    Args:
        source: http(s)/file URL or local path.
        out: where the converted state dict goes (written atomically).
        sha256: expected sha256 of the fetched file; may be ``None`` only for the
            official checkpoints, which are then checked by their git blob id.
        layout: ``auto``, ``0.4`` or ``0.5`` (see :func:`to_current_layout`); it
            concerns ParT's attention blocks only: a model without them
            (ParticleNet, PFN, PCNN) loads its checkpoint as it is.
        data_config: weaver data config the model is built from (its feature set
            must match the checkpoint's; default: the official file's, else
            ``JetClass_full.yaml``).
        network_config: weaver network config file (excludes ``model``).
        model: a shipped model (``ParT``, ``ParticleNet``, ...; see
            :mod:`jetprof.model.zoo`); default: the official file's, else ParT.

    Returns:
        Provenance: source, hashes, size, official name, model, layouts, parameter count.
    """
    by_source = _check_request(source, sha256, layout, model, network_config, data_config)
    out = Path(out)
    with _temporary_beside(out) as tmp:
        fetch(source, tmp)
        got = _identify(source, tmp, sha256, by_source)
        _check_layout_request(source, got.official, layout)
        # the URL's official name still tells the model when --sha256 vouched for other bytes
        network, data = select_configs(
            source, got.official or by_source, model, network_config, data_config
        )
        conv = _convert(source, tmp, got.official, layout, network, data)
        atomic_write(out, lambda tmp_out: _save_state_dict(conv.state, tmp_out))  # 0644: collaborators read it
    return _provenance(source, out, layout, got, conv)


@dataclass(frozen=True)
class _Fetched:
    """What the fetched bytes are: size, hashes and the official checkpoint they match, if any."""

    size: int
    sha256: str
    git_blob_sha1: str
    official: OfficialCheckpoint | None


@dataclass(frozen=True)
class _Converted:
    """A checkpoint in weaver 0.5's layout, loaded into the model it was built for."""

    state: dict[str, Any]
    layout_detected: str | None
    converted_from_04: bool
    built: jmodel.BuiltModel
    model: str | None  # the zoo model the built network is, if it is one
    network_config: Path
    data_config: Path


def _check_request(
    source: str,
    sha256: str | None,
    layout: str,
    model: str | None,
    network_config: str | os.PathLike[str] | None,
    data_config: str | os.PathLike[str] | None,
) -> OfficialCheckpoint | None:
    """Refuse a request that cannot succeed, before any download; the official file the URL names."""
    if layout not in LAYOUTS:
        raise JetprofError(
            f"unknown checkpoint layout {layout!r} (choose from {', '.join(LAYOUTS)})"
        )
    if sha256 is not None and not re.fullmatch(r"[0-9a-fA-F]{64}", sha256):
        raise JetprofError(f"--sha256 {sha256!r} is not 64 hex digits")
    by_source = official_by_source(source)
    if sha256 is None and by_source is None:
        raise JetprofError(
            f"{source}: give its sha256 (in a study config: pretrained.sha256; on the command line: "
            "--sha256): only the official checkpoints are known by their git blob id"
        )
    # a wrong model or feature set for an official URL stops here too
    select_configs(source, by_source, model, network_config, data_config)
    return by_source


@contextlib.contextmanager
def _temporary_beside(out: Path) -> Iterator[Path]:
    """An empty temporary file in ``out``'s folder (made if need be), deleted on leaving."""
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".part", dir=out.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
    finally:
        tmp.unlink(missing_ok=True)


def _identify(
    source: str, tmp: Path, sha256: str | None, by_source: OfficialCheckpoint | None
) -> _Fetched:
    """Hash the fetched bytes; refuse them unless they are the ones ``sha256`` or the URL names."""
    size, digest, blob = tmp.stat().st_size, sha256_file(tmp), git_blob_sha1(tmp)
    if sha256 is not None and digest.lower() != sha256.lower():
        raise JetprofError(
            f"{source}: sha256 mismatch: expected {sha256.lower()}, "
            f"got {digest} ({size} bytes); {_kept(source)}"
        )
    official = official_by_blob(blob)
    if sha256 is None and (official is None or official != by_source):
        assert by_source is not None  # _check_request asks a sha256 of any other source
        raise JetprofError(
            f"{source}: not the official {by_source.repo_path}: git blob id {blob}, "
            f"expected {by_source.git_blob_sha1} ({size} bytes); {_kept(source)}"
        )
    return _Fetched(size, digest, blob, official)


def _check_layout_request(source: str, official: OfficialCheckpoint | None, layout: str) -> None:
    """Refuse ``--layout 0.5`` for an official checkpoint known to be 0.4-era."""
    if official is not None and official.layout == "0.4" and layout == "0.5":
        raise JetprofError(
            f"{source}: is the official {official.name} checkpoint, which is 0.4-era; "
            "--layout 0.5 would give wrong outputs"
        )


def _convert(
    source: str,
    tmp: Path,
    official: OfficialCheckpoint | None,
    layout: str,
    network: Path,
    data_config: Path,
) -> _Converted:
    """Read the fetched state dict, build its model, convert to the 0.5 layout, load it strictly."""
    state = jmodel.read_state_dict(tmp, name=source)  # the user's file or URL, not the temp copy
    found = detect_layout(state)
    effective = (
        official.layout if official is not None and official.layout and layout == "auto" else layout
    )
    built = jmodel.build_model(network, data_config)
    built_model = check_checkpoint_model(source, state, built.model, network, Path(data_config))
    if detect_layout(built.model.state_dict()) is None:
        # no ParT attention blocks (ParticleNet, PFN, PCNN): no channel order to convert
        converted, legacy = state, False
    else:
        converted, legacy = to_current_layout(state, built.model, effective)
    jmodel.check_state_fits(built.model, converted, f"{source} (with data config {data_config})")
    built.model.load_state_dict(converted, strict=True)
    return _Converted(converted, found, legacy, built, built_model, network, Path(data_config))


def _save_state_dict(state: dict[str, Any], path: str | os.PathLike[str]) -> None:
    """``torch.save`` a state dict to ``path``, the same bytes for the same tensors.

    Saved through an open file, the archive's inner folder is always ``archive/``;
    saved to a path, torch names it after the file, so the random temporary name an
    atomic write uses would give each save of the same weights another sha256.
    """
    import torch

    with open(path, "wb") as f:
        torch.save(state, f)


def _weaver_version() -> str | None:
    try:
        from importlib.metadata import version

        return version("weaver-core")
    except Exception:
        return None


def _provenance(
    source: str, out: Path, layout: str, got: _Fetched, conv: _Converted
) -> dict[str, Any]:
    """The record of one fetch: where from, which bytes, what was built and done."""
    from jetprof.model import zoo

    pf_features = len(conv.built.data_config.input_dicts["pf_features"])
    return {
        "source": source,
        "out": str(out),
        "size_bytes": got.size,
        "sha256": got.sha256,
        "git_blob_sha1": got.git_blob_sha1,
        "official": got.official.name if got.official else None,
        "model": conv.model,
        "network_config": str(conv.network_config),
        "layout_detected": conv.layout_detected,
        "layout_requested": layout,
        "converted_from_04": conv.converted_from_04,
        "out_sha256": sha256_file(out),
        "data_config": str(conv.data_config),
        "feature_set": zoo.feature_set_name(pf_features),
        "params": conv.built.num_params,
        "weaver": _weaver_version(),
    }


# --------------------------------------------------------------------------- CLI


def _zoo_names() -> tuple[str, ...]:
    from jetprof.model import zoo

    return tuple(zoo.MODELS)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``jetprof fetch-weights``."""
    parser.add_argument(
        "--url", required=True, help="http(s)/file URL or local path of the checkpoint"
    )
    parser.add_argument(
        "--sha256",
        help="expected sha256 of the file (optional only for the official "
        "ParT_*.pt and ParticleNet_*.pt URLs)",
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
    which = parser.add_mutually_exclusive_group()
    which.add_argument(
        "--model",
        choices=list(_zoo_names()),
        help="the model the checkpoint is for, built from its shipped network config "
        "(default: the official file's model, else ParT)",
    )
    which.add_argument("--network-config", help="weaver network config file (instead of --model)")
    parser.add_argument("--record", help="also write what was fetched and done as JSON here")


def run(args: argparse.Namespace) -> int:
    """Fetch, check, convert and write one checkpoint."""
    info = fetch_weights(
        args.url, args.out, args.sha256, args.layout, args.data_config, args.network_config,
        model=args.model,
    )
    if args.record:
        record = Path(args.record)
        record.parent.mkdir(parents=True, exist_ok=True)
        tmp = record.with_name(f".{record.name}.tmp")
        tmp.write_text(json.dumps(info, indent=2, sort_keys=True) + "\n")
        os.replace(tmp, record)
    what = f"official {info['official']}, " if info["official"] else ""
    model = f"{info['model'] or Path(info['network_config']).stem} ({info['feature_set']}), "
    if info["converted_from_04"]:
        conv = "converted from weaver 0.4 layout"
    elif info["layout_detected"] is None:
        conv = "loaded as it is (no attention layout to convert)"
    else:
        conv = "already in weaver 0.5 layout"
    print(
        f"{info['out']}: {what}{model}{conv}, {info['params']:,} parameters, "
        f"sha256 {info['out_sha256'][:12]}"
    )
    return 0
