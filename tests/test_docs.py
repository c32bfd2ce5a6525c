"""The docs that describe the code are checked against it.

- ``config/README.md``'s key reference is what ``scripts/gen_config_docs.py`` writes
  from the config schema;
- ``docs/architecture.md`` names modules that exist, and its stage table names real
  ``jetprof`` subcommands with real options and real rules.
"""

from __future__ import annotations

import argparse
import importlib
import re
import subprocess
import sys
from pathlib import Path

import pytest

from jetprof.cli import COMMANDS
from jetprof.config import config_reference, schema_defaults, with_config_reference

REPO = Path(__file__).resolve().parents[1]
ARCHITECTURE = REPO / "docs" / "architecture.md"
CONFIG_README = REPO / "config" / "README.md"


# ---------------------------------------------------------------------------- config/README.md


def test_config_readme_is_generated_from_the_schema() -> None:
    text = CONFIG_README.read_text(encoding="utf-8")
    assert with_config_reference(text) == text, (
        "config/README.md differs from the schema: run python scripts/gen_config_docs.py")


def test_config_reference_lists_every_key_with_its_default() -> None:
    reference = config_reference()
    assert "| `train.lr_scheduler` | weaver --lr-scheduler |" in reference
    assert "`warmup+cos`" in reference
    train = schema_defaults("train")
    for key, value in train.items():
        row = next(line for line in reference.splitlines() if line.startswith(f"| `train.{key}` |"))
        assert row.rstrip(" |").endswith(f"`{str(value).lower() if isinstance(value, bool) else value}`")


def test_gen_config_docs_script_checks_and_writes(tmp_path: Path) -> None:
    stale = tmp_path / "README.md"
    text = CONFIG_README.read_text(encoding="utf-8")
    stale.write_text(text.replace("| `train.seed` |", "| `train.seed_old` |"), encoding="utf-8")
    script = [sys.executable, str(REPO / "scripts" / "gen_config_docs.py"), "--readme", str(stale)]
    check = subprocess.run([*script, "--check"], capture_output=True, text=True)
    assert check.returncode == 1 and "out of date" in check.stderr
    assert subprocess.run(script, capture_output=True, text=True).returncode == 0
    assert stale.read_text(encoding="utf-8") == text


# ---------------------------------------------------------------------------- architecture.md


def _section(text: str, heading: str) -> str:
    start = text.index(heading)
    end = text.find("\n## ", start + len(heading))
    return text[start: end if end >= 0 else len(text)]


def _table_rows(section: str) -> list[list[str]]:
    rows = [line for line in section.splitlines() if line.startswith("|")]
    header = [c.strip() for c in rows[0].strip("|").split("|")]
    return [dict(zip(header, (c.strip() for c in re.split(r"(?<!\\)\|", r.strip()[1:-1]))))
            for r in rows[2:]]


def _spans(cell: str) -> list[str]:
    return re.findall(r"`([^`]+)`", cell)


def _options(command: str) -> set[str]:
    parser = argparse.ArgumentParser(prog=f"jetprof {command}")
    importlib.import_module(COMMANDS[command][0]).add_arguments(parser)
    return {s for action in parser._actions for s in action.option_strings}


def _module_exists(name: str) -> bool:
    path = REPO / "src" / Path(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


STAGES = _table_rows(_section(ARCHITECTURE.read_text(encoding="utf-8"), "## Stages"))


@pytest.mark.parametrize("row", STAGES, ids=[row["stage"] for row in STAGES])
def test_stage_table_matches_the_code(row: dict[str, str]) -> None:
    commands = [s for s in _spans(row["command"]) if s.startswith("jetprof ")]
    assert commands, f"stage {row['stage']}: no jetprof command"
    for command in commands:
        words = command.split()
        assert words[1] in COMMANDS, f"{command}: no subcommand {words[1]!r}"
        options = _options(words[1])
        flags = []
        for word in words[2:]:
            if word == "--":  # what follows goes to weaver
                break
            if word.startswith("--"):
                flags.append(word.split("=")[0])
        unknown = [f for f in flags if f not in options]
        assert not unknown, f"{command}: jetprof {words[1]} has no option(s) {unknown}"
    for module in _spans(row["module"]):
        if module.startswith("src/"):
            assert (REPO / module).exists(), module
        else:
            assert _module_exists(module), f"stage {row['stage']}: no module {module}"
    rules = "\n".join(p.read_text(encoding="utf-8") for p in (REPO / "workflow" / "rules").glob("*.smk"))
    for rule in _spans(row["rule"]):
        if "<" not in rule:
            assert re.search(rf"^\s*(rule|checkpoint) {re.escape(rule)}:", rules, re.M), f"no rule {rule}"


def test_stage_table_covers_every_subcommand() -> None:
    shown = {s.split()[1] for row in STAGES for s in _spans(row["command"])
             if s.startswith("jetprof ")}
    assert set(COMMANDS) <= shown, sorted(set(COMMANDS) - shown)


def test_architecture_names_only_modules_and_paths_that_exist() -> None:
    text = ARCHITECTURE.read_text(encoding="utf-8")
    spans = set(_spans(text))
    modules = {s for s in spans if re.fullmatch(r"jetprof(\.\w+)+", s)}
    paths = {s for s in spans if re.fullmatch(r"(src|workflow|config|scripts|tests|docs)/[\w./-]+", s)}
    assert modules and paths
    missing = sorted(m for m in modules if not _module_exists(m) and not _is_attribute(m))
    assert not missing, f"docs/architecture.md names modules that do not exist: {missing}"
    missing = sorted(p for p in paths if not (REPO / p).exists())
    assert not missing, f"docs/architecture.md names paths that do not exist: {missing}"


def _is_attribute(name: str) -> bool:
    """``jetprof.contract.record_path``: an attribute of an existing module."""
    module, _, attribute = name.rpartition(".")
    return _module_exists(module) and hasattr(importlib.import_module(module), attribute)


def test_architecture_names_every_module_of_the_package() -> None:
    """The other way round: no module of src/jetprof is left out of the map (the shipped weaver
    network configs under model/weaver/ are data, not modules of the package)."""
    named = set(re.findall(r"jetprof(?:\.\w+)+", ARCHITECTURE.read_text(encoding="utf-8")))
    src = REPO / "src"
    modules = sorted(".".join(p.relative_to(src).with_suffix("").parts) for p in (src / "jetprof").rglob("*.py")
                     if p.name != "__init__.py" and "weaver" not in p.relative_to(src / "jetprof").parts)
    missing = [m for m in modules if m not in named]
    assert not missing, f"docs/architecture.md does not name: {missing}"
