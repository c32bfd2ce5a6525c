"""The study configuration's one source of defaults: its schema.

``src/jetprof/schemas/config.schema.yaml`` (:data:`jetprof.contract.CONFIG_SCHEMA`) gives
every key a ``description`` and a ``default``; Snakemake fills a config from it at
start-up. Code that has a default for a config key (a command-line option that mirrors
one, the launcher's training settings) reads it from here instead of writing the value
a second time; ``tests/test_config.py`` checks the ones that remain written out.
"""

from __future__ import annotations

import copy
import functools
import os
from typing import Any, cast

from jetprof.contract import CONFIG_SCHEMA, split_pair
from jetprof.registry import entry_configs, fill_schema, known_names, official_by_source, pair_problem
from jetprof.study_config import RawConfig, StudyConfig, WeaverKey


def load_schema(path: str | os.PathLike[str] = CONFIG_SCHEMA) -> dict[str, Any]:
    """The config schema at ``path`` (the package's by default; ``workflow/schemas/`` links to
    it), read once: the one loader of it. Callers must not change what it returns
    (:func:`config_schema` gives a copy)."""
    return _read_schema(os.path.realpath(path))


@functools.cache
def _read_schema(path: str) -> dict[str, Any]:
    import yaml

    with open(path, encoding="utf-8") as f:
        return fill_schema(yaml.safe_load(f))


def _schema() -> dict[str, Any]:
    return load_schema()


def config_schema() -> dict[str, Any]:
    """The config schema as a dict (a copy: change it freely)."""
    return copy.deepcopy(_schema())


def schema_property(key: str) -> dict[str, Any]:
    """The schema of one key, by its dotted path (``"train.lr_scheduler"``).

    Raises:
        KeyError: no such key in the schema.
    """
    node = _schema()
    for part in key.split("."):
        properties = node.get("properties", {})
        if part not in properties:
            raise KeyError(f"{key}: no such key in {CONFIG_SCHEMA.name}")
        node = properties[part]
    return copy.deepcopy(node)


def _defaults(node: dict[str, Any]) -> Any:
    if "properties" in node:
        given = copy.deepcopy(node.get("default", {}))
        for name, child in node["properties"].items():
            value = _defaults(child)
            if value is not _MISSING and name not in given:
                given[name] = value
        return given
    return copy.deepcopy(node["default"]) if "default" in node else _MISSING


_MISSING = object()


def schema_defaults(section: str | None = None) -> dict[str, Any]:
    """The defaults the schema gives a section of the config, nested objects filled in.

    Args:
        section: a dotted path to an object (``"train"``, ``"dataset.generate"``);
            None for the whole config.

    Returns:
        ``{key: default}`` for every key of the section that has a default.
    """
    node = _schema() if section is None else schema_property(section)
    if "properties" not in node:
        raise KeyError(f"{section}: not a section (an object with keys) of the config")
    return _defaults(node)


def study_defaults() -> StudyConfig:
    """The whole config as the schema's defaults make it (a fresh copy): a
    :class:`~jetprof.study_config.StudyConfig`, its sections typed (``study_defaults()["train"]``).
    ``tests/test_study_config.py`` checks every value against the type, the cast's warrant."""
    return cast(StudyConfig, schema_defaults())


def schema_default(key: str) -> Any:
    """The schema's default of one key (``"train.seed"``).

    Raises:
        KeyError: no such key, or it has no default.
    """
    value = _defaults(schema_property(key))
    if value is _MISSING:
        raise KeyError(f"{key}: has no default in {CONFIG_SCHEMA.name}")
    return value


#: the study's ``train.*`` keys that become weaver flags (``jetprof weaver --config-json``
#: takes them; the workflow passes them, the launcher turns them into flags)
WEAVER_KEYS: tuple[WeaverKey, ...] = (
    "num_epochs", "samples_per_epoch", "samples_per_epoch_val", "batch_size", "start_lr",
    "optimizer", "lr_scheduler", "fetch_step", "num_workers", "use_amp",
)


# ---------------------------------------------------------------------------
# the reference of every key, for config/README.md

DOCS_BEGIN = ("<!-- generated from src/jetprof/schemas/config.schema.yaml by "
              "scripts/gen_config_docs.py: edit the schema, then run the script -->")
DOCS_END = "<!-- end of the generated reference -->"


def _value(value: Any) -> str:
    """A default as YAML flow text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, str):
        return value if value else '""'
    if isinstance(value, list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_value(v)}" for k, v in value.items()) + "}"
    return str(value)


def _allowed(node: dict[str, Any]) -> str:
    """What values a key takes, from its type, enum, pattern and bounds."""
    if "$ref" in node:  # a registry slot of the schema's $defs: its values are the registry's
        slot = node["$ref"].rpartition("/")[2]
        return f"a `{slot}` of `jetprof.registry` (the table in docs/architecture.md)"
    if "enum" in node:
        return "one of " + ", ".join(f"`{_value(v)}`" for v in node["enum"])
    if "anyOf" in node:
        return " or ".join(_allowed(n) for n in node["anyOf"])
    kind = node.get("type", "")
    if kind == "array":
        items = node.get("items", {})
        if items.get("type") == "object":
            return "a list of mappings"
        return "a list, each " + _allowed(items) if items else "a list"
    bounds = []
    for word, sign in (("minimum", "≥"), ("exclusiveMinimum", ">"), ("maximum", "≤"),
                       ("exclusiveMaximum", "<")):
        if word in node:
            bounds.append(f"{sign} {node[word]}")
    if "pattern" in node:
        bounds.append(f"matching `{node['pattern']}`")
    text = {"integer": "an integer", "number": "a number", "string": "a string",
            "boolean": "`true` or `false`", "object": "a mapping"}.get(kind, kind)
    return ", ".join([text, *bounds]) if bounds else text


def _rows(node: dict[str, Any], prefix: str) -> list[tuple[str, str, str, str]]:
    rows = []
    for name, child in node.get("properties", {}).items():
        key = f"{prefix}{name}"
        description = " ".join(str(child.get("description", "")).split())
        if "properties" in child:
            rows.append((key, description, "a mapping of the keys below", ""))
            rows += _rows(child, key + ".")
            continue
        default = _defaults(child)
        rows.append((key, description, _allowed(child),
                     "" if default is _MISSING else f"`{_value(default)}`"))
    return rows


def config_reference() -> str:
    """Every config key as a Markdown table: key, meaning, allowed values, default."""
    lines = ["| key | meaning | values | default |", "| --- | --- | --- | --- |"]
    for key, *cells in _rows(_schema(), ""):
        lines.append("| " + " | ".join([f"`{key}`", *(c.replace("|", "\\|") for c in cells)])
                     + " |")
    return "\n".join(lines) + "\n"


def with_config_reference(text: str) -> str:
    """``text`` (config/README.md) with the part between the markers generated anew.

    Raises:
        ValueError: the markers are missing.
    """
    begin, end = text.find(DOCS_BEGIN), text.find(DOCS_END)
    if begin < 0 or end < begin:
        raise ValueError(f"no {DOCS_BEGIN!r} ... {DOCS_END!r} section")
    return text[: begin + len(DOCS_BEGIN)] + "\n\n" + config_reference() + "\n" + text[end:]


# --------------------------------------------------------------------------- config checks


def pair_problems(config: StudyConfig) -> list[str]:
    """Backend-precision pairs of ``profile`` that no listed device can run; one line each.

    A pair that runs on some of ``profile.devices`` is kept for those (``eager-fp16`` with
    ``[cpu, cuda:0]`` runs on ``cuda:0`` only); one that runs on none of them would
    silently measure nothing (``eager-fp16`` with only ``cpu``) or fail at run time
    (``onnxruntime-bf16``), so it is refused before any job, with the reason of
    :func:`jetprof.contract.pair_problem` for the first device.
    """
    prof = config["profile"]
    devices = list(prof["devices"])
    lines = []
    lists = [("profile.backends", prof["backends"]),
             ("profile.multiplicity.backends", prof["multiplicity"]["backends"])]
    lists += [(f"profile.models[{i}].backends", m["backends"]) for i, m in enumerate(prof.get("models", []))
              if m.get("backends")]
    for where, pairs in lists:
        for i, pair in enumerate(pairs):
            try:
                backend, precision = split_pair(pair)
            except ValueError as exc:
                lines.append(f"{where}[{i}]: {exc}")
                continue
            reasons = [pair_problem(backend, precision, d) for d in devices]
            if devices and all(reasons):
                lines.append(f"{where}[{i}]: {reasons[0]}; no device of profile.devices "
                             f"({', '.join(devices)}) can run it")
    return lines


def cross_key_problems(config: StudyConfig) -> list[str]:
    """Keys that are valid alone but not together, or files a key names that are not there.

    One line each, in config terms (never a command-line flag): the weaver configs must
    exist; an ``mps`` device needs an Apple-silicon Mac; weights ``pretrained`` needs
    ``pretrained.enabled``; a checkpoint other than the official files needs its
    ``pretrained.sha256``.
    """
    lines = []
    weaver = config["weaver"]
    for key, path in (("network_config", weaver.get("network_config")), ("data_config", weaver.get("data_config"))):
        if path is None:
            lines.append(f"weaver.{key}: missing (a weaver {key.replace('_', ' ')} file, e.g. workflow/weaver/...)")
        elif not os.path.isfile(path):
            lines.append(f"weaver.{key}: {path} not found (relative to the folder snakemake runs in)")
    if "mps" in config["profile"].get("devices", []):
        import platform

        if not (platform.system() == "Darwin" and platform.machine() == "arm64"):
            lines.append(f"profile.devices: mps runs on an Apple-silicon Mac only (this is {platform.system()} "
                         f"{platform.machine()}); use cpu here, and cuda:N on a GPU node")
    pre = config.get("pretrained", {})
    weights = config["profile"].get("weights", [])
    if "pretrained" in weights and not pre.get("enabled", False):
        lines.append("profile.weights: 'pretrained' needs pretrained.enabled: true (the official checkpoint, "
                     "or your own as pretrained.url), or leave it out of the list")
    if pre.get("enabled", False) and not pre.get("sha256"):

        url = str(pre.get("url", ""))
        if official_by_source(url) is None:
            lines.append(f"pretrained.sha256: required for {url} (only the official checkpoints, known by their "
                         "git blob id, may leave it empty): give the file's sha256 (sha256sum FILE)")
    grid = config["profile"].get("batch_sizes", [])
    for i, m in enumerate(config["profile"].get("models", [])):
        outside = [b for b in m.get("batch_sizes", []) if b not in grid]
        if outside:
            lines.append(f"profile.models[{i}].batch_sizes: {outside} not in profile.batch_sizes {grid} "
                         f"({m['name']} runs in the main grid's groups only)")
    return lines


def config_problems(config: RawConfig, schema_path: str) -> list[str]:
    """Check a study config against its JSON schema; one line per problem.

    Each line names the key (dotted path) and what is wrong, e.g.
    ``train.batch_size: 'x' is not of type 'integer'`` or
    ``profile: unknown key 'foo'``. A config that passes the schema is also checked
    for combinations that cannot run (:func:`pair_problems`).
    """
    import jsonschema

    validator = jsonschema.Draft202012Validator(load_schema(schema_path))
    lines = []
    for err in sorted(validator.iter_errors(config), key=lambda e: list(map(str, e.path))):
        where = ".".join(str(p) for p in err.absolute_path) or "(top level)"
        if err.validator == "additionalProperties":
            known = set(err.schema.get("properties", {}))
            extra = sorted(set(err.instance) - known)
            lines.append(
                f"{where}: unknown key(s) {', '.join(map(repr, extra))};"
                f" known: {', '.join(sorted(known))}"
            )
        else:
            lines.append(f"{where}: {err.message}")
    if not lines:
        lines += _combination_problems(cast(StudyConfig, config))
    return lines


def _combination_problems(config: StudyConfig) -> list[str]:
    """The checks of a config that passed the schema: every key it gives has the type
    :class:`~jetprof.study_config.StudyConfig` states (the cast's warrant). It may still
    leave keys to the defaults (the Snakefile fills them in after this check): the checks
    read those with ``.get``."""
    lines = pair_problems(config)
    lines += cross_key_problems(config)
    lines += node_plan_problems(config)
    names = [config["weaver"]["model_name"]] + [m["name"] for m in config["profile"].get("models", [])]
    for i, extra in enumerate(config["profile"].get("models", [])):
        where = f"profile.models[{i}]"
        if names.count(extra["name"]) > 1:
            lines.append(f"{where}.name: {extra['name']!r} names two models "
                         f"(weaver.model_name and profile.models share one namespace)")
        configs = entry_configs(extra)
        if not all(configs):
            lines.append(f"{where}.name: {extra['name']!r} is not a zoo model ({known_names()}); "
                         f"give its network_config and data_config")
            continue
        for key, path in zip(("network_config", "data_config"), configs):
            if not os.path.isfile(path):
                lines.append(f"{where}.{key}: {path} not found")
    return lines


def node_plan_problems(config: RawConfig, cores: int | None = None) -> list[str]:
    """``node.plans`` that ask for more processes x threads than this machine's cores, one line
    each (a node run must not oversubscribe: its jets/s per core would measure the scheduler);
    ``node.backends`` the node's device (cpu) cannot run."""
    from jetprof.node_record import Plan, available_cores, plan_problem

    node = config.get("node")
    node = node if isinstance(node, dict) else {}
    plans = node["plans"] if "plans" in node else schema_default("node.plans")
    have = available_cores() if cores is None else cores
    lines = [line for i, (p, t) in enumerate(plans)
             if (line := plan_problem(Plan(int(p), int(t)), have, f"node.plans[{i}]"))]
    for i, pair in enumerate(node["backends"] if "backends" in node else schema_default("node.backends")):
        backend, precision = split_pair(str(pair))
        problem = pair_problem(backend, precision, "cpu")
        if problem:
            lines.append(f"node.backends[{i}]: {problem}; the node runs on cpu")
    profile = config.get("profile")
    extras = profile.get("models", []) if isinstance(profile, dict) else []
    known = {str(m.get("name")) for m in extras if isinstance(m, dict)}
    weaver = config.get("weaver")
    known |= {str(weaver.get("model_name"))} if isinstance(weaver, dict) else set()
    for i, name in enumerate(node.get("models", [])):
        if name not in known:
            lines.append(f"node.models[{i}]: {name!r} is not a model of profile.models "
                         f"({', '.join(sorted(known)) or 'none'}); the main model runs on the node anyway")
    return lines
