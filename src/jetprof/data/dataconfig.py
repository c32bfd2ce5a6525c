"""What a weaver data config reads from the ROOT files (``jetprof validate``).

Every ROOT branch that its ``selection``, ``new_variables`` expressions, ``inputs``,
``labels``, ``observers``, ``monitor_variables`` and ``weights`` use, derived variables
resolved down to raw branches; the one-hot labels; the input features.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jetprof.errors import JetprofError

_MODULES = {"np", "numpy", "ak", "awkward", "math"}


@dataclass
class DataConfigNeeds:
    """What a weaver data config reads from the ROOT files.

    Attributes:
        branches: raw ROOT branches, sorted.
        labels: one-hot label branches (``labels.type: simple``), in order.
        features: input variables (raw or derived), first-seen order.
        new_variables: derived variable -> expression.
    """

    branches: list[str]
    labels: list[str]
    features: list[str]
    new_variables: dict[str, str]


def names_in(expr: str, where: str) -> set[str]:
    """Identifiers an expression reads, without module names and builtins."""
    try:
        tree = ast.parse(str(expr), mode="eval")
    except SyntaxError as exc:
        raise JetprofError(f"{where}: cannot parse expression {expr!r}: {exc.msg}") from None
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    return {
        n
        for n in names
        if n not in _MODULES and n not in dir(__builtins__) and n not in ("True", "False", "None")
    }


def needs_of(config: dict[str, Any], where: str = "data config") -> DataConfigNeeds:
    """Work out the raw branches, labels and features a weaver data config uses.

    Args:
        config: the parsed YAML.
        where: name for error messages (the config's path).

    Raises:
        JetprofError: an unparsable expression or a malformed section.
    """
    new_vars = {str(k): str(v) for k, v in (config.get("new_variables") or {}).items()}
    for name, expr in new_vars.items():  # every expression must parse, used or not
        names_in(expr, f"{where}: new_variables.{name}")
    wanted: set[str] = set()
    features: list[str] = []
    for sel_key in ("selection", "test_time_selection"):
        if config.get(sel_key):
            wanted |= names_in(config[sel_key], f"{where}: {sel_key}")
    for group, spec in (config.get("inputs") or {}).items():
        if not isinstance(spec, dict) or "vars" not in spec:
            raise JetprofError(f"{where}: inputs.{group}: no 'vars' list")
        for var in spec["vars"]:
            name = str(var[0] if isinstance(var, (list, tuple)) else var)
            wanted.add(name)
            if name not in features:
                features.append(name)
    labels_cfg = config.get("labels") or {}
    labels: list[str] = []
    if labels_cfg.get("type", "simple") == "simple":
        labels = [str(v) for v in labels_cfg.get("value") or []]
        wanted |= set(labels)
    else:  # custom labels: expressions
        for name, expr in (labels_cfg.get("value") or {}).items():
            wanted |= names_in(str(expr), f"{where}: labels.{name}")
    for key in ("observers", "monitor_variables"):
        wanted |= {str(v) for v in config.get(key) or []}
    weights = config.get("weights") or {}
    if isinstance(weights, dict):
        wanted |= {str(v) for v in weights.get("reweight_vars", {}) or {}}
        wanted |= {str(v) for v in weights.get("reweight_classes", []) or []}
        if weights.get("use_precomputed_weights") and weights.get("weight_branch"):
            wanted.add(str(weights["weight_branch"]))
    # resolve derived variables down to ROOT branches
    raw: set[str] = set()
    seen: set[str] = set()
    stack = sorted(wanted)
    while stack:
        name = stack.pop()
        if name in seen:
            continue
        seen.add(name)
        if name in new_vars:
            stack.extend(
                sorted(names_in(new_vars[name], f"{where}: new_variables.{name}") - {name})
            )
        else:
            raw.add(name)
    return DataConfigNeeds(sorted(raw), labels, features, new_vars)


def read_data_config_needs(path: Path) -> DataConfigNeeds:
    """Read a weaver data config (YAML) and return what it needs."""
    import yaml

    try:
        config = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise JetprofError(f"{path}: cannot read data config: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise JetprofError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(config, dict):
        raise JetprofError(f"{path}: a weaver data config must be a YAML mapping")
    return needs_of(config, str(path))
