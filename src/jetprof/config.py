"""The study config's schema as the one source of defaults.

``jetprof.contract.CONFIG_SCHEMA`` describes every key of a study config with its
default; the CLI options that mirror config keys take their defaults from here.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from jetprof.contract import CONFIG_SCHEMA


@lru_cache(maxsize=1)
def schema() -> dict[str, Any]:
    import yaml

    return yaml.safe_load(CONFIG_SCHEMA.read_text())


def schema_defaults(*path: str) -> dict[str, Any]:
    """The defaults of the object at ``path`` (e.g. ``schema_defaults("profile")``)."""
    node = schema()
    for key in path:
        node = node["properties"][key]
    return {k: v["default"] for k, v in node.get("properties", {}).items() if "default" in v}
