"""``jetprof export``: a checkpoint → ONNX, checked against eager PyTorch, plus a model card.

The model is built the way weaver builds it for export (``get_model(...,
for_inference=True)``: softmax output, no sequence trimming), the checkpoint is
loaded strictly through :func:`jetprof.model.load_weights` (a truncated or
mismatched file stops here with one message naming it), and exported with
``torch.onnx.export(..., dynamo=False)`` (the dynamo exporter fails on ParT's
``nonzero``) with dynamic batch and particle axes from the network config's
``model_info``. ParT does not use ``pf_points``: the exported graph drops that
input, so ONNX Runtime is fed only ``session.get_inputs()``.

Parity: ``--batches`` batches of real jets from ``--data`` (the first jets of the
sorted files, preprocessed by weaver's own code, see
:mod:`jetprof.model.inputs`) run through eager PyTorch and ONNX Runtime,
once padded to the config's length (128) and once cut to the batch's longest
jet (exercising the dynamic particle axis). The largest |Δ softmax| goes into
the card; above ``--tolerance`` (1e-4) the export fails and nothing is written.

FLOPs per jet: :func:`jetprof.model.flops.count_flops` (torch's
FlopCounterMode plus the CPU attention kernel; elementwise ops not counted) on
one synthetic jet with ``--flops-particles`` (128) real particles.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NotRequired, TypedDict

import numpy as np

from jetprof.errors import JetprofError

if TYPE_CHECKING:
    import torch

    from jetprof.model.inputs import DataConfigView


class ParityCheck(TypedDict):
    """One batch of the parity check, padded or trimmed."""

    batch: int
    kind: str
    shape: list[int]
    max_abs_diff_softmax: float


class Parity(TypedDict):
    """The model card's ``parity``: the worst difference over every check, and the verdict."""

    max_abs_diff_softmax: float
    checks: list[ParityCheck]
    jets: int
    tolerance: NotRequired[float]
    passed: NotRequired[bool]


class FileHash(TypedDict):
    """A file the model card names, and its SHA-256."""

    path: str
    sha256: str


class ModelCard(TypedDict):
    """The model card (``--card``, JSON; ``--card-md`` renders it)."""

    schema_version: int
    model: str
    params: int
    flops_per_jet: int
    flops_particles: int
    flops_method: str
    input_names: list[str]
    onnx_inputs: list[str]
    unused_inputs_dropped: list[str]
    input_shapes: dict[str, list[int | str]]
    input_length_padded: int
    output_names: list[str]
    output_shape: list[int | str]
    classes: list[str]
    dynamic_axes: dict[str, dict[str, str]]
    opset: int
    exporter: str
    network_options: dict[str, bool]
    legacy_04: bool
    parity: Parity
    files: dict[str, FileHash]
    versions: dict[str, str | None]
    training_config: object
    data_files: list[str]
    platform: str


def _versions() -> dict[str, str | None]:
    from importlib import metadata

    out: dict[str, str | None] = {"python": platform.python_version()}
    for name in ("torch", "weaver-core", "onnx", "onnxruntime", "numpy", "awkward", "uproot", "jetprof"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def _load_training_config(value: str | None) -> tuple[object, str | None]:
    """``--training-config``: a JSON/YAML file or an inline JSON object → (config, path or None)."""
    if value is None:
        return None, None
    if value.lstrip().startswith("{"):
        try:
            return json.loads(value), None
        except json.JSONDecodeError as exc:
            raise JetprofError(f"--training-config: not a valid JSON object ({exc})") from None
    path = Path(value)
    if path.is_file():
        text = path.read_text()
        try:
            if path.suffix in (".yaml", ".yml"):
                import yaml

                return yaml.safe_load(text), str(path)
            return json.loads(text), str(path)
        except Exception as exc:
            raise JetprofError(f"{path}: cannot parse the training config ({exc})") from None
    try:
        return json.loads(value), None
    except json.JSONDecodeError:
        raise JetprofError(f"--training-config {value!r}: neither a file nor a JSON object") from None


def _batches(files: list[str], data_config: DataConfigView, n_batches: int,
             batch_size: int) -> list[dict[str, np.ndarray]]:
    from jetprof.model.inputs import real_batch

    whole = real_batch(files, data_config, n_batches * batch_size)
    if whole.source.get("repeated"):
        have = whole.source.get("distinct_jets")
        raise JetprofError(
            f"{files[0]}: the data holds {have} jets, fewer than --batches x --batch-size = {n_batches * batch_size}"
        )
    return [
        {k: v[i * batch_size : (i + 1) * batch_size] for k, v in whole.arrays.items()} for i in range(n_batches)
    ]


def _trim(batch: dict[str, np.ndarray], mask_name: str, min_length: int = 1) -> dict[str, np.ndarray]:
    from jetprof.model.inputs import trim_to_longest

    return trim_to_longest(batch, batch[mask_name].reshape(len(batch[mask_name]), -1).sum(axis=1), min_length)


def export_onnx(model: torch.nn.Module, model_info: dict[str, Any], tensors: Sequence[torch.Tensor], path: str,
                opset: int = 17) -> None:
    """Export an inference-mode model (``for_inference=True``) with dynamic batch/particle axes.

    ``model_info`` is weaver's (``get_model``'s second value): input and output names, dynamic axes.

    ``torch.onnx.export`` with ``dynamo=False`` (the dynamo exporter fails on ParT's
    ``nonzero``). Trace on at least two jets: a trace on one jet hard-codes a batch of 1.
    """
    import torch

    with torch.no_grad(), warnings.catch_warnings():
        # tracing ParT's shape asserts warns once per assert; the parity checks are the real test
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model, tuple(tensors), path, input_names=list(model_info["input_names"]),
            output_names=list(model_info["output_names"]), dynamic_axes=model_info["dynamic_axes"],
            opset_version=opset, dynamo=False,
        )


def check_parity(model: torch.nn.Module, session: Any, batches: list[dict[str, np.ndarray]],
                 mask_name: str) -> Parity:
    """Max |Δ softmax| between eager PyTorch and ONNX Runtime over the batches (full and trimmed).

    ``session``: an ``onnxruntime.InferenceSession`` (onnxruntime is untyped).
    """
    import torch

    from jetprof.model.inputs import min_particles

    feed_names = [i.name for i in session.get_inputs()]
    order = list(batches[0])
    floor = min_particles(model)
    worst = 0.0
    rows: list[ParityCheck] = []
    for i, full in enumerate(batches):
        for kind, batch in (("padded", full), ("trimmed", _trim(full, mask_name, floor))):
            with torch.no_grad():
                eager = model(*[torch.from_numpy(batch[k]) for k in order]).numpy()
            ort = session.run(None, {k: batch[k] for k in feed_names})[0]
            if ort.shape != eager.shape:
                raise JetprofError(f"ONNX output shape {ort.shape} differs from eager {eager.shape}")
            diff = float(np.max(np.abs(ort - eager)))
            worst = max(worst, diff)
            rows.append({"batch": i, "kind": kind, "shape": list(batch[mask_name].shape),
                         "max_abs_diff_softmax": diff})
    return {"max_abs_diff_softmax": worst, "checks": rows, "jets": sum(len(b[mask_name]) for b in batches)}


def _md(card: ModelCard) -> str:
    p = card["parity"]
    lines = [
        f"# Model card: {card['model']}",
        "",
        f"- Parameters: {card['params']:,}",
        f"- FLOPs per jet: {card['flops_per_jet'] / 1e6:.1f} MFLOP at {card['flops_particles']} particles "
        f"({card['flops_method']}; elementwise ops not counted)",
        "- Inputs: " + ", ".join(f"`{n}` {card['input_shapes'][n]}" for n in card["onnx_inputs"]),
        "- Outputs: " + ", ".join(f"`{n}`" for n in card["output_names"]),
        "- Dynamic axes: " + "; ".join(f"`{k}`: {v}" for k, v in card["dynamic_axes"].items()),
        f"- ONNX opset {card['opset']}, exported with torch.onnx.export(dynamo=False)",
        f"- Parity vs eager PyTorch on {p['jets']} real jets (padded and trimmed): max |Δ softmax| = "
        f"{p['max_abs_diff_softmax']:.2e} (tolerance {p['tolerance']:.0e}): {'passed' if p['passed'] else 'FAILED'}",
        f"- Checkpoint: `{card['files']['checkpoint']['path']}` "
        f"(sha256 {card['files']['checkpoint']['sha256'][:16]}…; weaver 0.4 layout converted: {card['legacy_04']})",
        "",
        "| file | sha256 |",
        "| --- | --- |",
    ]
    lines += [f"| `{f['path']}` | `{f['sha256']}` |" for f in card["files"].values()]
    lines += ["", "Versions: " + ", ".join(f"{k} {v}" for k, v in card["versions"].items() if v), ""]
    if card.get("training_config") is not None:
        lines += ["Training config:", "", "```json", json.dumps(card["training_config"], indent=1), "```", ""]
    return "\n".join(lines)


def _atomic_text(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_text(text)
    return tmp


def export(args: argparse.Namespace) -> ModelCard:
    """Export, check, and write the ONNX file and the model card (see the module docstring)."""
    import onnx
    import onnxruntime as ort
    import torch

    from jetprof.io import sha256_file
    from jetprof.model.build import build_model, load_weights
    from jetprof.model.flops import FLOPS_METHOD, count_flops
    from jetprof.model.inputs import expand_data_glob, synthetic_batch

    training_config, training_config_path = _load_training_config(args.training_config)
    files = expand_data_glob(args.data)
    torch.manual_seed(0)
    built = build_model(args.network_config, args.data_config, for_inference=True)
    ckpt = load_weights(built, args.checkpoint)
    model, info, dc = built.model, built.model_info, built.data_config
    names = list(info["input_names"])
    mask_name = next((n for n in names if "mask" in n), None)
    if mask_name is None:
        raise JetprofError(f"{args.data_config}: no *mask input")
    batches = _batches(files, dc, args.batches, args.batch_size)

    onnx_path = Path(args.onnx)
    onnx_path.parent.mkdir(parents=True, exist_ok=True)
    tmp_onnx = onnx_path.with_name(f".{onnx_path.name}.tmp{os.getpid()}.onnx")
    tmps = [tmp_onnx]
    try:
        example = tuple(torch.from_numpy(batches[0][k]) for k in names)
        export_onnx(model, info, example, str(tmp_onnx), opset=args.opset)
        onnx.checker.check_model(str(tmp_onnx))
        so = ort.SessionOptions()
        so.intra_op_num_threads = 1
        session = ort.InferenceSession(str(tmp_onnx), so, providers=["CPUExecutionProvider"])
        parity = check_parity(model, session, batches, mask_name)
        parity["tolerance"], parity["passed"] = args.tolerance, parity["max_abs_diff_softmax"] <= args.tolerance
        if not parity["passed"]:
            raise JetprofError(
                f"{args.onnx}: ONNX output differs from eager PyTorch by {parity['max_abs_diff_softmax']:.3e} "
                f"(> tolerance {args.tolerance:.0e}); nothing written"
            )
        flops_batch = synthetic_batch(dc, 1, args.flops_particles, seed=0)
        flops = count_flops(model, [torch.from_numpy(flops_batch.arrays[k]) for k in names])
        onnx_inputs = [i.name for i in session.get_inputs()]
        file_list = {
            "checkpoint": args.checkpoint, "onnx": str(onnx_path),
            "data_config": args.data_config, "network_config": args.network_config,
        }
        if training_config_path:
            file_list["training_config"] = training_config_path
        hashes: dict[str, FileHash] = {
            k: {"path": str(p), "sha256": sha256_file(tmp_onnx if k == "onnx" else p)} for k, p in file_list.items()
        }
        card: ModelCard = {
            "schema_version": 1,
            "model": onnx_path.stem,
            "params": int(sum(p.numel() for p in model.parameters())),
            "flops_per_jet": int(flops),
            "flops_particles": int(args.flops_particles),
            "flops_method": FLOPS_METHOD,
            "input_names": names,
            "onnx_inputs": onnx_inputs,
            "unused_inputs_dropped": [n for n in names if n not in onnx_inputs],
            "input_shapes": {k: ["N", *list(v[1:-1]), "n_particles"] for k, v in
                             ((k, list(info["input_shapes"][k])) for k in names)},
            "input_length_padded": int(info["input_shapes"][names[0]][-1]),
            "output_names": list(info["output_names"]),
            "output_shape": ["N", len(dc.label_value)],
            "classes": list(dc.label_value),
            "dynamic_axes": {k: {str(a): n for a, n in v.items()} for k, v in info["dynamic_axes"].items()},
            "opset": args.opset,
            "exporter": "torch.onnx.export(dynamo=False)",
            "network_options": {"for_inference": True},
            "legacy_04": bool(ckpt["legacy_04"]),
            "parity": parity,
            "files": hashes,
            "versions": _versions(),
            "training_config": training_config,
            "data_files": files[:20],
            "platform": platform.platform(),
        }
        tmp_card = _atomic_text(Path(args.card), json.dumps(card, indent=1) + "\n")
        tmps.append(tmp_card)
        tmp_md = _atomic_text(Path(args.card_md), _md(card))
        tmps.append(tmp_md)
        os.replace(tmp_onnx, onnx_path)
        os.replace(tmp_card, args.card)
        os.replace(tmp_md, args.card_md)
        return card
    finally:
        for t in tmps:
            Path(t).unlink(missing_ok=True)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", required=True, help="weaver state file (*_state.pt)")
    parser.add_argument("--data-config", required=True, help="weaver data config")
    parser.add_argument("--network-config", required=True, help="weaver network config (ParT.py)")
    parser.add_argument("--data", required=True, nargs="+", help="glob(s) of real jets for the parity check")
    parser.add_argument("--onnx", required=True, help="output ONNX file")
    parser.add_argument("--card", required=True, help="output model card (JSON)")
    parser.add_argument("--card-md", required=True, help="output model card (Markdown)")
    parser.add_argument("--training-config", help="training config: JSON/YAML file or inline JSON")
    parser.add_argument("--batches", type=int, default=4, help="real batches for the parity check")
    parser.add_argument("--batch-size", type=int, default=8, help="jets per parity batch")
    parser.add_argument("--tolerance", type=float, default=1e-4, help="max |Δ softmax| allowed")
    parser.add_argument("--opset", type=int, default=17, help="ONNX opset")
    parser.add_argument("--flops-particles", type=int, default=128, help="particles per jet for the FLOP count")


def run(args: argparse.Namespace) -> int:
    if args.batches < 1 or args.batch_size < 1:
        raise JetprofError("--batches and --batch-size must be at least 1")
    card = export(args)
    print(
        f"jetprof export: {args.onnx}: {card['params']:,} parameters, "
        f"{card['flops_per_jet'] / 1e6:.1f} MFLOP/jet at {card['flops_particles']} particles, "
        f"max |Δ softmax| {card['parity']['max_abs_diff_softmax']:.2e}",
        file=sys.stderr,
    )
    return 0
