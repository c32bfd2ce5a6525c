"""``jetprof.study_config`` types the config the schema describes: walked both ways, every key
of ``config.schema.yaml`` (through nested objects, array items and ``$defs``) is a field of the
matching TypedDict with a compatible type, and every field is a key of the schema.

A key is a required field exactly when the schema gives it a default (Snakemake fills it in)
or lists it as required; enums are ``Literal`` types with the same values.

No ``from __future__ import annotations``: Python 3.11's TypedDict sees ``NotRequired`` (in the
test's own TypedDicts below) only in evaluated annotations.
"""

import types
import typing
from pathlib import Path
from typing import Literal, NotRequired, TypedDict, Union, get_args, get_origin, get_type_hints

import pytest
import yaml

from jetprof.config import config_schema, schema_defaults
from jetprof.study_config import StudyConfig

REPO = Path(__file__).resolve().parents[1]
SCALARS: dict[str, type] = {"integer": int, "number": float, "string": str, "boolean": bool}


def _resolve(node: dict[str, typing.Any], defs: dict[str, typing.Any]) -> dict[str, typing.Any]:
    ref = node.get("$ref")
    if ref is None:
        return node
    assert ref.startswith("#/$defs/"), ref
    return defs[ref.rpartition("/")[2]]


def _is_union(tp: object) -> bool:
    return get_origin(tp) in (Union, types.UnionType)


def mismatches(node: dict[str, typing.Any], tp: object, where: str,
               defs: dict[str, typing.Any]) -> list[str]:
    """Every way ``tp`` and the schema ``node`` disagree, one line each (none: they match)."""
    node = _resolve(node, defs)
    if "anyOf" in node:
        members = list(get_args(tp)) if _is_union(tp) else [tp]
        options = node["anyOf"]
        lines = [f"{where}: anyOf option {o} matches no member of {tp}" for o in options
                 if all(mismatches(o, m, where, defs) for m in members)]
        return lines + [f"{where}: {m} matches no anyOf option" for m in members
                        if all(mismatches(o, m, where, defs) for o in options)]
    if "enum" in node:
        if get_origin(tp) is not Literal:
            return [f"{where}: the schema has enum {node['enum']}, the type is {tp}, not a Literal"]
        if set(get_args(tp)) != set(node["enum"]):
            return [f"{where}: Literal{list(get_args(tp))} against enum {node['enum']}"]
        return []
    if get_origin(tp) is Literal:
        return [f"{where}: the type is {tp}, the schema has no enum"]
    kind = node.get("type")
    if kind == "object" and "properties" in node:
        return _object_mismatches(node, tp, where, defs)
    if kind == "object":
        extra = node.get("additionalProperties")
        if get_origin(tp) is not dict or get_args(tp)[0] is not str:
            return [f"{where}: a mapping in the schema, {tp} in the type"]
        return mismatches(extra, get_args(tp)[1], f"{where}.*", defs) if isinstance(extra, dict) else []
    if kind == "array":
        if get_origin(tp) is not list:
            return [f"{where}: an array in the schema, {tp} in the type"]
        return mismatches(node.get("items", {}), get_args(tp)[0], f"{where}[]", defs)
    if kind in SCALARS:
        return [] if tp is SCALARS[kind] else [f"{where}: {kind} in the schema, {tp} in the type"]
    return [f"{where}: schema node {node} has no type the walk knows"]


def _object_mismatches(node: dict[str, typing.Any], tp: object, where: str,
                       defs: dict[str, typing.Any]) -> list[str]:
    if not typing.is_typeddict(tp):
        return [f"{where}: an object with keys in the schema, {tp} in the type (not a TypedDict)"]
    fields = get_type_hints(tp)
    required = tp.__required_keys__  # type: ignore[attr-defined]  # is_typeddict said it has them
    props = node["properties"]
    lines = [f"{where}.{k}: in the schema, not a field of {tp.__name__}" for k in props if k not in fields]
    lines += [f"{where}.{k}: a field of {tp.__name__}, not in the schema" for k in fields if k not in props]
    for key in props.keys() & fields.keys():
        child = _resolve(props[key], defs)
        must = "default" in child or key in node.get("required", [])
        if must != (key in required):
            lines.append(f"{where}.{key}: {'required' if key in required else 'NotRequired'} in "
                         f"{tp.__name__}, but the schema {'gives' if must else 'has no'} default "
                         f"(or required)")
        lines += mismatches(child, fields[key], f"{where}.{key}", defs)
    return lines


def value_problems(value: object, tp: object, where: str) -> list[str]:
    """Where a plain value (parsed YAML) is not of type ``tp``: the types hold real configs."""
    if _is_union(tp):
        ok = any(not value_problems(value, m, where) for m in get_args(tp))
        return [] if ok else [f"{where}: {value!r} is none of {tp}"]
    if get_origin(tp) is Literal:
        return [] if value in get_args(tp) else [f"{where}: {value!r} not in {get_args(tp)}"]
    if typing.is_typeddict(tp):
        if not isinstance(value, dict):
            return [f"{where}: {value!r} is not a mapping"]
        hints = get_type_hints(tp)
        lines = [f"{where}.{k}: missing" for k in tp.__required_keys__ if k not in value]  # type: ignore[attr-defined]  # a TypedDict
        lines += [f"{where}.{k}: not a field" for k in value if k not in hints]
        for k in value.keys() & hints.keys():
            lines += value_problems(value[k], hints[k], f"{where}.{k}")
        return lines
    origin, args = get_origin(tp), get_args(tp)
    if origin is list:
        if not isinstance(value, list):
            return [f"{where}: {value!r} is not a list"]
        return [line for i, v in enumerate(value) for line in value_problems(v, args[0], f"{where}[{i}]")]
    if origin is dict:
        if not isinstance(value, dict):
            return [f"{where}: {value!r} is not a mapping"]
        return [line for k, v in value.items() for line in value_problems(v, args[1], f"{where}.{k}")]
    if tp is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    elif tp is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    else:
        ok = isinstance(value, tp)  # type: ignore[arg-type]  # str or bool here
    return [] if ok else [f"{where}: {value!r} is not {tp}"]


# ---------------------------------------------------------------------------- the real pair


def test_the_study_config_type_and_the_schema_name_the_same_keys_with_the_same_types() -> None:
    schema = config_schema()
    found = mismatches(schema, StudyConfig, "config", schema.get("$defs", {}))
    assert not found, "jetprof.study_config and config.schema.yaml disagree:\n" + "\n".join(found)


def test_the_schema_defaults_and_the_shipped_config_are_study_configs() -> None:
    assert not value_problems(schema_defaults(), StudyConfig, "defaults")
    with open(REPO / "config" / "config.yaml", encoding="utf-8") as f:
        shipped = yaml.safe_load(f)
    # the shipped config may leave keys to the schema's defaults: fill them as Snakemake does
    found = [line for line in value_problems(shipped, StudyConfig, "config.yaml") if not line.endswith("missing")]
    assert not found, "\n".join(found)


# ---------------------------------------------------------------------------- the walk can fail


class _Inner(TypedDict):
    n: int


class _Wrong(TypedDict):
    count: str  # the schema: integer
    mode: Literal["a", "b"]  # the schema: enum [a, b, c]
    inner: _Inner  # the schema's inner has n and m
    tags: list[int]  # the schema: array of strings
    extra: bool  # not in the schema
    loose: int  # the schema gives no default: must be NotRequired
    either: Literal["x"] | str  # the schema: anyOf [enum x, integer]
    pins: dict[str, int]  # the schema: additionalProperties string


class _Right(TypedDict):
    count: int
    mode: Literal["a", "b", "c"]
    inner: _Inner
    tags: list[str]
    loose: NotRequired[int]
    either: Literal["x"] | int
    pins: dict[str, str]
    missing: float


_SCHEMA: dict[str, typing.Any] = {
    "type": "object",
    "properties": {
        "count": {"type": "integer", "default": 1},
        "mode": {"type": "string", "enum": ["a", "b", "c"], "default": "a"},
        "inner": {"type": "object", "default": {}, "properties": {
            "n": {"type": "integer", "default": 0}, "m": {"type": "integer", "default": 0}}},
        "tags": {"type": "array", "items": {"type": "string"}, "default": []},
        "loose": {"type": "integer"},
        "either": {"anyOf": [{"type": "string", "enum": ["x"]}, {"type": "integer"}], "default": "x"},
        "pins": {"type": "object", "additionalProperties": {"type": "string"}, "default": {}},
        "missing": {"type": "number", "default": 1.5},
    },
}


def test_the_walk_finds_every_kind_of_disagreement() -> None:
    found = "\n".join(mismatches(_SCHEMA, _Wrong, "c", {}))
    for expected in ("c.count: integer in the schema", "c.mode: Literal['a', 'b'] against enum",
                     "c.inner.m: in the schema, not a field of _Inner", "c.tags[]: string in the schema",
                     "c.extra: a field of _Wrong, not in the schema", "c.loose: required in _Wrong",
                     "c.either: anyOf option {'type': 'integer'} matches no member",
                     "c.either: <class 'str'> matches no anyOf option", "c.pins.*: string in the schema",
                     "c.missing: in the schema, not a field of _Wrong"):
        assert expected in found, f"{expected!r} not found in:\n{found}"
    # _Right differs from the schema only in _Inner (shared with _Wrong)
    assert mismatches(_SCHEMA, _Right, "c", {}) == ["c.inner.m: in the schema, not a field of _Inner"]


def test_the_value_check_finds_values_of_the_wrong_type() -> None:
    config = schema_defaults()
    config["profile"]["particles"] = ["real", 16, "many"]
    config["train"]["start_lr"] = "fast"
    config["serving"]["scenarios"] = ["Burst"]
    del config["node"]["plans"]
    found = value_problems(config, StudyConfig, "c")
    assert sorted(found) == sorted([
        "c.profile.particles[2]: 'many' is none of typing.Union[typing.Literal['real'], int]",
        "c.train.start_lr: 'fast' is not <class 'float'>",
        "c.serving.scenarios[0]: 'Burst' not in ('SingleStream', 'Offline', 'Server')",
        "c.node.plans: missing"])


@pytest.mark.parametrize("key", ["dataset", "profile", "serving"])
def test_a_section_of_the_type_missing_from_the_schema_is_caught(key: str) -> None:
    schema = config_schema()
    del schema["properties"][key]
    found = mismatches(schema, StudyConfig, "config", schema.get("$defs", {}))
    assert found == [f"config.{key}: a field of StudyConfig, not in the schema"]
