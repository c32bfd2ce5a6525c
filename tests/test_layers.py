"""Dependencies run one way (docs/architecture.md, "Layers"): the core imports no wing, and no
module imports the training wing, the profiling harness or the report from outside it.

Read from the source with ``ast`` (tests/test_package.py's import graph): imports inside
functions count, so a lazy import does not hide a dependency.
"""

from __future__ import annotations

from pathlib import Path

from test_package import PACKAGE, import_graph

#: across the wings: the contract and what every wing may import
CORE = frozenset({"jetprof", "jetprof.contract", "jetprof.records", "jetprof.config", "jetprof.jobfile",
                  "jetprof.registry", "jetprof.intervals",
                  "jetprof.stats", "jetprof.metrics", "jetprof.io", "jetprof.errors", "jetprof.httpfetch",
                  "jetprof.platforms", "jetprof.node_record", "jetprof.serving_records", "jetprof.serving_plan",
                  "jetprof.study_config"})
#: entry points above the wings: they may import a wing, never the harness or the report
ENTRY = frozenset({"jetprof.cli", "jetprof.workflow"})
WINGS = ("data", "train", "model", "profiling", "report")
#: wings that only their own modules may import (``data`` and ``model`` are read by the later wings)
SEALED = ("train", "profiling", "report")

#: imports against the layers that are still to go, each with what removes it; the test fails
#: when one is gone (delete its line then), so the list only ever shrinks
KNOWN: dict[tuple[str, str], str] = {}


def wing_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in WINGS else None


def layer_violations(graph: dict[str, set[str]]) -> dict[tuple[str, str], str]:
    """Every import against the layers: (importer, imported) -> the rule it breaks."""
    bad: dict[tuple[str, str], str] = {}
    for module, targets in graph.items():
        mine = wing_of(module)
        for target in targets:
            theirs = wing_of(target)
            if module in CORE and theirs:
                bad[(module, target)] = "the core imports a wing"
            elif theirs in SEALED and mine != theirs:
                bad[(module, target)] = f"imports the {theirs} wing from outside it"
    return bad


def unplaced(graph: dict[str, set[str]]) -> list[str]:
    """Modules outside every wing that are neither core nor an entry point."""
    return sorted(m for m in graph if wing_of(m) is None and m not in CORE | ENTRY)


def test_every_module_outside_the_wings_is_placed_in_a_layer() -> None:
    missing = unplaced(import_graph(PACKAGE))
    assert not missing, f"place these in CORE or ENTRY (and in docs/architecture.md): {missing}"


def test_dependencies_run_one_way() -> None:
    bad = layer_violations(import_graph(PACKAGE))
    new = {k: v for k, v in bad.items() if k not in KNOWN}
    assert not new, "imports against the layers:\n" + "\n".join(
        f"{a} -> {b}: {why}" for (a, b), why in sorted(new.items()))


def test_every_known_exception_still_exists() -> None:
    bad = layer_violations(import_graph(PACKAGE))
    gone = sorted(k for k in KNOWN if k not in bad)
    assert not gone, f"no longer imported, delete from KNOWN in tests/test_layers.py: {gone}"


def test_the_checker_catches_planted_bad_imports(tmp_path: Path) -> None:
    """A core module that imports a wing inside a function, a wing that imports the report,
    and the profiling harness importing its own wing (allowed)."""
    pkg = tmp_path / "jetprof"
    for sub in ("", "model", "profiling", "report"):
        (pkg / sub).mkdir(parents=True, exist_ok=True)
        (pkg / sub / "__init__.py").write_text("")
    (pkg / "records.py").write_text("def load():\n    from jetprof.profiling import record\n")
    (pkg / "model" / "build.py").write_text("from jetprof.report.style import colour\n")
    (pkg / "report" / "style.py").write_text("colour = 1\n")
    (pkg / "profiling" / "record.py").write_text("from . import measure\nfrom jetprof import records\n")
    (pkg / "profiling" / "measure.py").write_text("import jetprof.model.build\n")
    (pkg / "stray.py").write_text("")
    graph = import_graph(pkg, tmp_path)
    assert layer_violations(graph) == {
        ("jetprof.records", "jetprof.profiling.record"): "the core imports a wing",
        ("jetprof.model.build", "jetprof.report.style"): "imports the report wing from outside it",
    }
    assert unplaced(graph) == ["jetprof.stray"]
