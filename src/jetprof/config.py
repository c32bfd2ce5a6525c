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
