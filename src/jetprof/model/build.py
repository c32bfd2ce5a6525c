"""Build weaver's ParT from a network config + data config, and load weights.

This is the one place where jetprof turns config files into a ``torch.nn.Module``;
export, profiling and pretrained-weight handling all call it, so a checkpoint
that does not fit the model fails here with one message naming the file.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from jetprof.contract import DEFAULT_DATA_CONFIG, DEFAULT_NETWORK_CONFIG
from jetprof.errors import JetprofError
from jetprof.io import sha256_file
from jetprof.model.layout import to_current_layout

if TYPE_CHECKING:
    import torch

    from jetprof.model.inputs import DataConfigView
    from jetprof.model.layout import StateDict


def _quiet_weaver() -> None:
    # weaver logs every config detail at INFO; keep our commands' output readable
    logging.getLogger("weaver").setLevel(logging.WARNING)


def load_data_config(path: str | os.PathLike[str]) -> DataConfigView:
    """Load a weaver data config (weaver's ``DataConfig``) without writing anything beside it.

    Raises:
        JetprofError: the file is missing or is not a weaver data config.
    """
    path = Path(path)
    if not path.is_file():
        raise JetprofError(f"{path}: data config not found")
    _quiet_weaver()
    from weaver.utils.data.config import DataConfig

    try:
        config: DataConfigView = DataConfig.load(str(path), load_observers=False, load_reweight_info=False)
    except Exception as exc:  # weaver raises bare KeyError/AssertionError on bad configs
        raise JetprofError(f"{path}: not a usable weaver data config ({type(exc).__name__}: {exc})") from None
    return config


def import_network_config(path: str | os.PathLike[str]) -> ModuleType:
    """Import a weaver network config file (a module with ``get_model``)."""
    path = Path(path)
    if not path.is_file():
        raise JetprofError(f"{path}: network config not found")
    name = "_jetprof_network_" + hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:10]
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # a broken file: say which, in one line
        del sys.modules[name]
        raise JetprofError(f"{path}: network config does not import ({type(exc).__name__}: "
                           f"{str(exc).splitlines()[0] if str(exc) else ''})") from None
    if not hasattr(module, "get_model"):
        raise JetprofError(f"{path}: network config has no get_model(data_config, **kwargs)")
    return module


@dataclass
class BuiltModel:
    """A model with what was used to build it."""

    model: torch.nn.Module
    model_info: dict[str, Any]  # weaver's: input and output names, dynamic axes (exporting reads it)
    data_config: DataConfigView  # weaver's DataConfig: what jetprof reads of it
    network_config: Path
    data_config_path: Path
    options: dict[str, object] = field(default_factory=dict)

    @property
    def input_names(self) -> list[str]:
        return list(self.data_config.input_names)

    @property
    def num_params(self) -> int:
        return sum(p.numel() for p in self.model.parameters())


def build_model(
    network_config: str | os.PathLike[str] = DEFAULT_NETWORK_CONFIG,
    data_config: str | os.PathLike[str] = DEFAULT_DATA_CONFIG,
    **options: object,
) -> BuiltModel:
    """Build the network the way weaver does (``get_model(data_config, **options)``).

    The model comes back in eval mode with random (seeded by the caller) weights.
    """
    dc = load_data_config(data_config)
    module = import_network_config(network_config)
    try:
        model, info = module.get_model(dc, **options)
    except Exception as exc:  # the config does not build with this data config
        first = str(exc).splitlines()[0] if str(exc) else ""
        raise JetprofError(f"{network_config}: get_model does not build a model with data config "
                           f"{data_config} ({type(exc).__name__}: {first})") from None
    model.eval()
    return BuiltModel(model, info, dc, Path(network_config), Path(data_config), dict(options))


def read_state_dict(path: str | os.PathLike[str], name: str | None = None) -> StateDict:
    """Read a checkpoint as a plain state dict with ``torch.load(weights_only=True)``.

    Accepts a weaver state file (``*_state.pt``) or a dict holding one under
    ``state_dict``/``model``. Raises JetprofError naming the file (``name``: what the user
    knows it as, e.g. the URL a temporary copy came from) when it is missing, truncated, not
    a state dict, or holds pickled objects beyond tensors (refused: nothing in it runs).
    """
    import pickle

    import torch

    path = Path(path)
    label = name or str(path)
    if not path.is_file():
        raise JetprofError(f"{label}: checkpoint not found")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        # torch's own hint ("re-running with weights_only=False will likely succeed") is the wrong
        # advice for a file of unknown origin: that would run whatever code it carries
        raise JetprofError(
            f"{label}: refused: the checkpoint holds pickled Python objects besides tensors, which could run "
            "code when loaded (none was run). Use a plain state dict of tensors, saved with "
            "torch.save(model.state_dict(), FILE), from a source you trust"
        ) from None
    except Exception as exc:
        size = path.stat().st_size
        raise JetprofError(
            f"{label}: cannot read checkpoint ({size} bytes; truncated or not a torch file?): "
            f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
        ) from None
    if isinstance(obj, dict) and "state_dict" in obj and isinstance(obj["state_dict"], dict):
        obj = obj["state_dict"]
    elif isinstance(obj, dict) and "model" in obj and isinstance(obj["model"], dict):
        obj = obj["model"]
    if not isinstance(obj, dict) or not all(hasattr(v, "shape") for v in obj.values()):
        raise JetprofError(f"{label}: not a state dict of tensors")
    return obj


def check_state_fits(model: torch.nn.Module, state: StateDict, source: str) -> None:
    """Raise JetprofError listing missing/unexpected keys and shape mismatches."""
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    shapes = [
        f"{k}: checkpoint {tuple(state[k].shape)} vs model {tuple(own[k].shape)}"
        for k in own
        if k in state and tuple(state[k].shape) != tuple(own[k].shape)
    ]
    problems = []
    if shapes:
        hint = ""
        if any(k.endswith("embed.input_bn.weight") or "embed.embed.0" in k for k in shapes):
            hint = " (different particle feature set? check the data config: full/kin/kinpid)"
        problems.append(f"{len(shapes)} shape mismatch(es){hint}: " + "; ".join(shapes[:4]))
    if missing:
        problems.append(f"{len(missing)} missing key(s): " + ", ".join(missing[:4]))
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected key(s): " + ", ".join(unexpected[:4]))
    if problems:
        raise JetprofError(f"{source}: checkpoint does not fit the model: " + " | ".join(problems))


def load_weights(
    built: BuiltModel, path: str | os.PathLike[str], layout: str = "auto"
) -> dict[str, object]:
    """Load a checkpoint into ``built.model`` (strict), upgrading 0.4-era layouts.

    Args:
        layout: ``auto`` (recognise 0.4-era files by key names and known hashes),
            ``0.4`` or ``0.5``; see :func:`jetprof.model.layout.to_current_layout`.

    Returns:
        What was learnt about the checkpoint: ``{"path", "sha256", "legacy_04"}``.
    """
    state = read_state_dict(path)
    # 0.4-era key names differ: convert first, then check names and shapes
    state, legacy = to_current_layout(state, built.model, layout=layout)
    check_state_fits(built.model, state, str(path))
    built.model.load_state_dict(state, strict=True)
    built.model.eval()
    return {"path": str(path), "sha256": sha256_file(path), "legacy_04": legacy}
