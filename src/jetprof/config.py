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
from typing import Any

from jetprof.contract import CONFIG_SCHEMA


@functools.cache
def _schema() -> dict[str, Any]:
    import yaml

    with open(CONFIG_SCHEMA, encoding="utf-8") as f:
        return yaml.safe_load(f)


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


def schema_default(key: str) -> Any:
    """The schema's default of one key (``"train.seed"``).

    Raises:
        KeyError: no such key, or it has no default.
    """
    value = _defaults(schema_property(key))
    if value is _MISSING:
        raise KeyError(f"{key}: has no default in {CONFIG_SCHEMA.name}")
    return value


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
