"""The shape of the package: no import cycles between jetprof modules, no module or function
too long, no unexplained ``# type: ignore``, no more ``Any`` than the listed counts.

All are read from the source (nothing is imported), so they hold for every
module whatever it needs at run time. Imports inside functions count: a function-level
import hides a cycle from the interpreter until that function runs, it does not remove it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "jetprof"
MAX_LINES = 600


def module_name(path: Path, src: Path = SRC) -> str:
    """``src/jetprof/model/build.py`` -> ``jetprof.model.build``; a package is its ``__init__``."""
    parts = list(path.relative_to(src).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def import_graph(package: Path, src: Path = SRC) -> dict[str, set[str]]:
    """Every module of ``package`` -> the modules of that package it imports, anywhere in it."""
    files = sorted(package.rglob("*.py"))
    modules = {module_name(f, src): f for f in files}
    root = package.name
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        edges: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = name.split(".") if is_package else name.split(".")[:-1]
                    base = base[: len(base) - (node.level - 1)]
                    origin = ".".join(base + ([node.module] if node.module else []))
                else:
                    origin = node.module or ""
                # `from a.b import c` imports the module a.b.c when there is one, else a.b
                targets = [f"{origin}.{alias.name}" if f"{origin}.{alias.name}" in modules
                           else origin for alias in node.names]
            else:
                continue
            for target in targets:
                if target.split(".")[0] != root:
                    continue
                while target not in modules and "." in target:  # `import a.b.c` of a name
                    target = target.rsplit(".", 1)[0]
                if target in modules and target != name:
                    edges.add(target)
        graph[name] = edges
    return graph


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle (as a path that returns to its start) per strongly connected component."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(v: str) -> None:  # Tarjan; the package is small enough for recursion
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    cycles = []
    for component in components:
        members = set(component)
        start = component[0]
        # shortest way back to start inside the component (breadth first)
        paths = {start: [start]}
        queue = [start]
        cycle: list[str] = []
        while queue and not cycle:
            v = queue.pop(0)
            for w in sorted(graph[v] & members):
                if w == start:
                    cycle = paths[v] + [start]
                    break
                if w not in paths:
                    paths[w] = paths[v] + [w]
                    queue.append(w)
        cycles.append(cycle)
    return cycles


def test_no_import_cycles_between_jetprof_modules() -> None:
    graph = import_graph(PACKAGE)
    assert "jetprof.model.build" in graph and "jetprof.contract" in graph
    cycles = find_cycles(graph)
    assert not cycles, "import cycles (function-level imports included):\n" + "\n".join(
        " -> ".join(c) for c in cycles)


def test_the_cycle_finder_finds_a_hidden_cycle(tmp_path: Path) -> None:
    """A cycle hidden by a function-level import, and one through a relative import."""
    pkg = tmp_path / "jetprof"
    (pkg / "model").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "model" / "__init__.py").write_text("")
    (pkg / "model" / "build.py").write_text(
        "import os\n\ndef load():\n    from jetprof.model import pretrained\n")
    (pkg / "model" / "pretrained.py").write_text("from . import build\nfrom .layout import x\n")
    (pkg / "model" / "layout.py").write_text("import jetprof.errors\nx = 1\n")
    (pkg / "errors.py").write_text("")
    graph = import_graph(pkg, tmp_path)
    assert graph["jetprof.model.build"] == {"jetprof.model.pretrained"}
    assert graph["jetprof.model.pretrained"] == {"jetprof.model.build", "jetprof.model.layout"}
    assert graph["jetprof.model.layout"] == {"jetprof.errors"}
    assert find_cycles(graph) == [["jetprof.model.build", "jetprof.model.pretrained",
                                   "jetprof.model.build"]]


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")),
                         ids=lambda p: str(p.relative_to(SRC)))
def test_no_module_is_longer_than_600_lines(path: Path) -> None:
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{path.relative_to(SRC)}: {lines} lines (split it by purpose)"


IGNORE = "# type: ignore"


def unexplained_ignores(text: str) -> list[int]:
    """Lines whose ``# type: ignore`` names no error code or gives no reason after it."""
    import re

    bad = []
    for n, line in enumerate(text.splitlines(), 1):
        if IGNORE in line and not re.search(r"# type: ignore\[[a-z-]+(,[a-z-]+)*\]\s+#\s*\S", line):
            bad.append(n)
    return bad


def test_every_type_ignore_names_its_code_and_says_why() -> None:
    bad = [f"{p.relative_to(SRC)}:{n}" for p in sorted(PACKAGE.rglob("*.py"))
           for n in unexplained_ignores(p.read_text(encoding="utf-8"))]
    assert not bad, "a '# type: ignore[code]  # why' is needed at: " + ", ".join(bad)


def test_the_ignore_rule_finds_bare_and_unexplained_ignores() -> None:
    text = ("x = 1  # type: ignore\n"
            "y = 2  # type: ignore[attr-defined]\n"
            "z = 3  # type: ignore[misc,assignment]  # weaver's module attribute\n")
    assert unexplained_ignores(text) == [1, 2]


MAX_FUNCTION_LINES = 70

#: The functions longer than MAX_FUNCTION_LINES today, with their length: a list that can only
#: shrink. One of them may get shorter, never longer; once it is split to the cap or removed, its
#: line here goes too (the test says so), and no new function joins the list.
LONG_FUNCTIONS: dict[str, int] = {
    "jetprof/data/detector.py:detector": 72,
    "jetprof/data/fetch.py:fetch": 89,
    "jetprof/httpfetch.py:stream": 97,
    "jetprof/model/export.py:export": 92,
    "jetprof/report/ops.py:op_breakdown": 86,
}


def function_lengths(package: Path, src: Path = SRC) -> dict[str, int]:
    """``"jetprof/mod.py:Class.method"`` -> lines from ``def`` to its last line, for every function.

    A nested function is counted on its own as well as within the function holding it.
    """
    lengths: dict[str, int] = {}

    def visit(node: ast.AST, where: str, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                name = f"{where}:{prefix}{child.name}"
                assert child.end_lineno is not None
                lengths[name] = max(lengths.get(name, 0), child.end_lineno - child.lineno + 1)
                visit(child, where, f"{prefix}{child.name}.")
            elif isinstance(child, ast.ClassDef):
                visit(child, where, f"{prefix}{child.name}.")
            else:
                visit(child, where, prefix)

    for path in sorted(package.rglob("*.py")):
        visit(ast.parse(path.read_text(encoding="utf-8"), str(path)),
              path.relative_to(src).as_posix(), "")
    return lengths


def length_findings(lengths: dict[str, int], allowed: dict[str, int],
                    cap: int = MAX_FUNCTION_LINES) -> list[str]:
    """What breaks the cap: a new long function, a listed one grown, a listed one short or gone."""
    found = []
    for name, n in sorted(lengths.items()):
        if n > cap and name not in allowed:
            found.append(f"{name}: {n} lines, over {cap} (split it by what it does)")
        elif name in allowed and n > allowed[name]:
            found.append(f"{name}: {n} lines, grown from {allowed[name]} (split it by what it does)")
    for name, was in sorted(allowed.items()):
        if name not in lengths:
            found.append(f"{name}: gone; take it off LONG_FUNCTIONS")
        elif lengths[name] <= cap:
            found.append(f"{name}: {lengths[name]} lines now (was {was}); take it off LONG_FUNCTIONS")
    return found


def test_no_function_is_longer_than_70_lines_but_the_listed_ones_which_only_shrink() -> None:
    lengths = function_lengths(PACKAGE)
    assert "jetprof/data/checks.py:check_file" in lengths and "jetprof/model/pretrained.py:fetch_weights" in lengths
    findings = length_findings(lengths, LONG_FUNCTIONS)
    assert not findings, "\n".join(findings)


def test_the_length_rule_finds_long_grown_and_stale_entries(tmp_path: Path) -> None:
    pkg = tmp_path / "jetprof"
    pkg.mkdir()
    body = "".join(f"    x{i} = {i}\n" for i in range(5))
    (pkg / "m.py").write_text(
        f"def short():\n{body}\n"
        f"class C:\n    def method(self):\n{''.join('    ' + line + chr(10) for line in body.splitlines())}"
        f"\n        def inner():\n            pass\n")
    lengths = function_lengths(pkg, tmp_path)
    assert lengths == {"jetprof/m.py:short": 6, "jetprof/m.py:C.method": 9, "jetprof/m.py:C.method.inner": 2}
    assert length_findings(lengths, {}, cap=8) == [
        "jetprof/m.py:C.method: 9 lines, over 8 (split it by what it does)"]
    assert length_findings(lengths, {"jetprof/m.py:C.method": 9}, cap=8) == []
    assert length_findings(lengths, {"jetprof/m.py:C.method": 10}, cap=8) == []  # shrunk: fine
    assert length_findings(lengths, {"jetprof/m.py:C.method": 8}, cap=7) == [
        "jetprof/m.py:C.method: 9 lines, grown from 8 (split it by what it does)"]
    assert length_findings(lengths, {"jetprof/m.py:short": 7, "jetprof/m.py:gone": 80}, cap=8) == [
        "jetprof/m.py:C.method: 9 lines, over 8 (split it by what it does)",
        "jetprof/m.py:gone: gone; take it off LONG_FUNCTIONS",
        "jetprof/m.py:short: 6 lines now (was 7); take it off LONG_FUNCTIONS",
    ]


#: Every module's uses of ``Any`` today (the name or ``typing.Any``, in annotations, aliases and
#: casts alike): a list that can only shrink. ``Any`` belongs at the untyped boundary (torch
#: outputs, weaver's objects, awkward arrays, uproot files, parsed YAML); a module not listed
#: here has none. When a count falls, lower it here (the test says so); a module at 0 leaves.
ANY_COUNTS: dict[str, int] = {
    "jetprof/config.py": 12,
    "jetprof/contract.py": 2,
    "jetprof/data/checks.py": 9,
    "jetprof/data/dataconfig.py": 1,
    "jetprof/data/download.py": 3,
    "jetprof/data/generate.py": 6,
    "jetprof/httpfetch.py": 1,
    "jetprof/jobfile.py": 6,
    "jetprof/model/build.py": 1,
    "jetprof/model/export.py": 2,
    "jetprof/model/flops.py": 1,
    "jetprof/model/inputs.py": 5,
    "jetprof/model/pretrained.py": 6,
    "jetprof/model/weaver/PCNN.py": 1,
    "jetprof/model/weaver/PFN.py": 1,
    "jetprof/model/weaver/ParticleNeXt.py": 1,
    "jetprof/model/zoo.py": 6,
    "jetprof/profiling/backends.py": 1,
    "jetprof/profiling/bucketing.py": 3,
    "jetprof/profiling/cli.py": 1,
    "jetprof/profiling/env.py": 4,
    "jetprof/profiling/ops.py": 1,
    "jetprof/profiling/quality.py": 10,
    "jetprof/profiling/quantize.py": 3,
    "jetprof/profiling/spec.py": 1,
    "jetprof/records.py": 2,
    "jetprof/registry.py": 7,
    "jetprof/report/cli.py": 5,
    "jetprof/report/curves.py": 1,
    "jetprof/report/deployment.py": 3,
    "jetprof/report/models.py": 6,
    "jetprof/report/training.py": 5,
    "jetprof/train/launcher.py": 1,
    "jetprof/workflow.py": 10,
}


def any_counts(package: Path, src: Path = SRC) -> dict[str, int]:
    """``"jetprof/mod.py"`` -> how often it names ``Any``, for every module that does.

    Quoted annotations are parsed and counted too; imports are not uses.
    """
    def count(tree: ast.AST) -> int:
        n = 0
        for node in ast.walk(tree):
            if isinstance(node, ast.Name) and node.id == "Any":
                n += 1
            elif isinstance(node, ast.Attribute) and node.attr == "Any":
                n += 1
            elif isinstance(node, (ast.arg, ast.AnnAssign)) and isinstance(node.annotation, ast.Constant):
                n += count(ast.parse(str(node.annotation.value), mode="eval"))
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and isinstance(node.returns, ast.Constant):
                n += count(ast.parse(str(node.returns.value), mode="eval"))
        return n

    counts = {}
    for path in sorted(package.rglob("*.py")):
        n = count(ast.parse(path.read_text(encoding="utf-8"), str(path)))
        if n:
            counts[path.relative_to(src).as_posix()] = n
    return counts


def any_findings(counts: dict[str, int], allowed: dict[str, int]) -> list[str]:
    """What breaks the rule: ``Any`` in a new module, a listed count grown, or one now too high."""
    found = []
    for name, n in sorted(counts.items()):
        if n > allowed.get(name, 0):
            found.append(f"{name}: {n} Any, up from {allowed.get(name, 0)} (give the values their types)")
    for name, was in sorted(allowed.items()):
        if counts.get(name, 0) < was:
            now = counts.get(name, 0)
            found.append(f"{name}: {now} Any now (was {was}); " +
                         ("take it off ANY_COUNTS" if now == 0 else f"lower ANY_COUNTS to {now}"))
    return found


def test_any_is_used_no_more_than_the_listed_counts_which_only_shrink() -> None:
    assert list(ANY_COUNTS) == sorted(ANY_COUNTS), "keep ANY_COUNTS sorted by module"
    findings = any_findings(any_counts(PACKAGE), ANY_COUNTS)
    assert not findings, "\n".join(findings)


def test_the_any_rule_counts_every_use_and_finds_grown_and_stale_entries(tmp_path: Path) -> None:
    pkg = tmp_path / "jetprof"
    pkg.mkdir()
    (pkg / "m.py").write_text(
        "import typing\nfrom typing import Any, cast\n\n"
        "Alias = dict[str, Any]\n\n\n"
        "def f(x: Any, y: 'list[Any]', *a: typing.Any) -> 'Any':\n"
        "    z: dict[str, Any] = cast(Any, x)\n    return z\n")
    (pkg / "clean.py").write_text("def g(x: int) -> int:\n    return x\n")
    counts = any_counts(pkg, tmp_path)
    assert counts == {"jetprof/m.py": 7}
    assert any_findings(counts, {"jetprof/m.py": 7}) == []
    assert any_findings(counts, {"jetprof/m.py": 6}) == [
        "jetprof/m.py: 7 Any, up from 6 (give the values their types)"]
    assert any_findings(counts, {}) == ["jetprof/m.py: 7 Any, up from 0 (give the values their types)"]
    assert any_findings(counts, {"jetprof/m.py": 9, "jetprof/clean.py": 1}) == [
        "jetprof/clean.py: 0 Any now (was 1); take it off ANY_COUNTS",
        "jetprof/m.py: 7 Any now (was 9); lower ANY_COUNTS to 7",
    ]
