"""The registry is the one source: every axis value it holds is styled, documented,
accepted by the schemas and has what it needs, and what used to be written out
elsewhere (the contract's lists, the schemas' patterns, the capability rule, the
styles, the figure rules) is derived from it."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml

from jetprof import contract, registry, workflow
from jetprof.config import config_problems, config_schema
from jetprof.profiling import backends
from jetprof.records import _validator
from jetprof.registry import BACKENDS, FIGURE_KINDS, FIGURES, PRECISIONS, ZOO, fill_schema, pair_problem
from jetprof.report import style
from jetprof.report.cli import figure_function

REPO = Path(__file__).resolve().parents[1]
ARCHITECTURE = (REPO / "docs" / "architecture.md").read_text(encoding="utf-8")
DEVICES = ("cpu", "cuda:0", "mps")


def _docs_row(name: str) -> bool:
    return re.search(rf"^\| `{re.escape(name)}` \|", ARCHITECTURE, re.MULTILINE) is not None


def _runs_somewhere(backend: str, precision: str) -> bool:
    return any(pair_problem(backend, precision, d) is None for d in DEVICES)


@pytest.fixture(scope="module")
def config() -> dict:
    cfg = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    jsonschema.Draft202012Validator(config_schema())  # the filled schema is a valid schema
    return cfg


# -- every backend -------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(BACKENDS))
def test_every_backend_is_styled_documented_accepted_and_runnable(name):
    b = BACKENDS[name]
    assert style.BACKEND_STYLES[name] == b.linestyle and style.BACKEND_COLOURS[name] == b.colour
    assert _docs_row(name), f"docs/architecture.md has no row for backend {name}"
    assert b.description and b.graph in ("torch", "onnx")
    assert set(b.devices) <= {"cpu", "cuda", "mps"} and set(b.precisions) <= set(PRECISIONS)
    record = _validator("profile record")
    pair = re.compile(config_schema()["$defs"]["pair"]["pattern"])
    for precision in b.precisions:
        assert pair.match(f"{name}-{precision}")
    assert not list(record.iter_errors({"backend": name})) or all(
        e.validator == "required" for e in record.iter_errors({"backend": name}))
    factory = backends.runner_factory(name)
    assert callable(factory), f"{b.runner}: not a callable"
    assert all(p.module and p.install.startswith("pip install") for p in registry.packages_for(name, "int8"))
    assert any(_runs_somewhere(name, p) for p in PRECISIONS)


def test_every_extra_a_backend_names_is_a_pyproject_extra_that_installs_its_packages():
    import tomllib

    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    for b in BACKENDS.values():
        if b.extra is None:
            continue
        assert b.extra in extras, f"{b.name}: no extra [{b.extra}] in pyproject.toml"
        installed = {re.split(r"[=<>;\[ ]", req, maxsplit=1)[0] for req in extras[b.extra]}
        assert {p.module for p in b.packages} <= installed
        assert all(f"jetprof[{b.extra}]" in p.install for p in b.packages)


def test_no_two_backends_draw_alike():
    assert len(set(map(str, style.BACKEND_STYLES.values()))) == len(BACKENDS)
    assert len(set(style.BACKEND_COLOURS.values())) == len(BACKENDS)


# -- every precision -----------------------------------------------------------------------


@pytest.mark.parametrize("name", list(PRECISIONS))
def test_every_precision_is_styled_documented_and_accepted(name):
    p = PRECISIONS[name]
    assert style.PRECISION_MARKERS[name] == p.marker
    assert _docs_row(name), f"docs/architecture.md has no row for precision {name}"
    assert name in fill_schema(json.loads(contract.RECORD_SCHEMA.read_text()))["$defs"]["precision"]["enum"]
    if p.autocast:
        torch = pytest.importorskip("torch")
        assert isinstance(getattr(torch, p.autocast), torch.dtype)
        assert backends.AUTOCAST_DTYPES[name] == p.autocast
    assert any(_runs_somewhere(b, name) for b in BACKENDS)


def test_no_two_precisions_share_a_marker():
    assert len(set(style.PRECISION_MARKERS.values())) == len(PRECISIONS)


# -- every zoo model -----------------------------------------------------------------------


@pytest.mark.parametrize("name", list(ZOO))
def test_every_zoo_model_has_its_configs_its_style_and_a_schema_accepted_name(name, config):
    m = ZOO[name]
    assert m.network_config.is_file() and (REPO / "workflow" / "weaver" / f"{name}.py").is_file()
    assert m.network_config.read_text().startswith('"""weaver network config'), "its docstring documents it"
    assert m.colour in style.MODEL_COLOURS and m.description
    for feature_set in registry.FEATURE_SETS:
        network, data = registry.default_configs(f"{name}_{feature_set}") or ("", "")
        assert (REPO / network).is_file() and (REPO / data).is_file()
    for checkpoint in m.checkpoints:
        assert checkpoint.model == name and (registry.WEAVER_CONFIGS / checkpoint.data_config).is_file()
    cfg = json.loads(json.dumps(config))
    cfg["profile"]["models"] = [{"name": f"{name}_kin"}]
    assert config_problems(cfg, str(REPO / "workflow" / "schemas" / "config.schema.yaml")) == []


def test_the_zoo_markers_tell_every_model_apart():
    markers = [m.marker for m in ZOO.values()]
    assert len(set(markers)) == len(markers)
    assert set(contract.PACKAGE.joinpath("model", "weaver").glob("*.py")) == {m.network_config for m in ZOO.values()}


def test_the_old_names_are_the_registry_s():
    from jetprof.model import pretrained, zoo
    from jetprof.report import models

    assert zoo.MODELS is ZOO and zoo.FEATURE_SETS is registry.FEATURE_SETS
    assert pretrained.OFFICIAL_CHECKPOINTS == registry.official_checkpoints()
    assert {c.name for c in pretrained.OFFICIAL_CHECKPOINTS} == {
        f"{m}_{fs}" for m in ("ParT", "ParticleNet") for fs in registry.FEATURE_SETS}
    assert models.PAPER == {m.name: m.paper for m in ZOO.values() if m.paper}
    assert contract.BACKENDS == tuple(BACKENDS) and contract.PRECISIONS == tuple(PRECISIONS)
    assert contract.FIGURES == tuple(FIGURES) and contract.pair_problem is pair_problem
    assert contract.ONNX_BACKENDS == tuple(b for b in BACKENDS if BACKENDS[b].graph == "onnx")


# -- every figure --------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(FIGURES))
def test_every_figure_has_its_function_caption_kind_and_rule(name, config):
    f = FIGURES[name]
    assert callable(figure_function(name)), f"{f.function}: not a callable"
    caption = REPO / "workflow" / "report" / f.caption
    assert caption.is_file() and caption.read_text().strip(), f"no caption {caption}"
    assert f.kind in FIGURE_KINDS and f.category in ("2. Training", "3. Profile", "4. Deployment", "4. Serving")
    assert workflow.FIGURE_CATEGORY[name] == f.category
    cfg = json.loads(json.dumps(config))
    inputs = workflow.figure_inputs(cfg, name, ["results/profile/x.json"], ["results/profile/peak/cpu.json"])
    command = workflow.figure_command(cfg, name, inputs, "log")
    assert f"plot {name} " in command
    for given in inputs.values():
        if isinstance(given, str):
            assert given in command


# -- the schemas ---------------------------------------------------------------------------


def test_the_schema_files_name_no_backend_and_the_loaders_fill_them():
    def values(node):  # every enum value and pattern of a schema
        if isinstance(node, dict):
            yield from (str(v) for v in node.get("enum", []))
            yield from ([node["pattern"]] if isinstance(node.get("pattern"), str) else [])
            for child in node.values():
                yield from values(child)
        elif isinstance(node, list):
            for child in node:
                yield from values(child)

    for path in (contract.CONFIG_SCHEMA, contract.RECORD_SCHEMA):
        spelt = [v for v in values(yaml.safe_load(path.read_text())) if any(b in v for b in BACKENDS)]
        assert spelt == [], f"{path.name} spells out backends itself: {spelt}"
    record = fill_schema(json.loads(contract.RECORD_SCHEMA.read_text()))
    assert record["$defs"]["backend"]["enum"] == list(BACKENDS)
    assert _validator("profile record").schema == record
    assert config_schema()["$defs"]["pair"] == {"$comment": registry.SLOT, **registry.schema_slots()["pair"]}


def test_the_filled_schema_refuses_what_the_registry_does_not_know(config):
    cfg = json.loads(json.dumps(config))
    cfg["profile"]["backends"] = ["tensorrt-fp32"]
    problems = config_problems(cfg, str(REPO / "workflow" / "schemas" / "config.schema.yaml"))
    assert len(problems) == 1 and problems[0].startswith("profile.backends.0: 'tensorrt-fp32' does not match")


def test_a_slot_the_registry_does_not_have_is_refused():
    with pytest.raises(KeyError, match="no slot of that name"):
        fill_schema({"$defs": {"colour": {"$comment": registry.SLOT}}})


# -- the capability rule -------------------------------------------------------------------


def test_every_ladder_rung_runs_on_cpu_and_the_noopt_rung_is_one():
    rungs = registry.ladder_pairs()
    assert "onnxruntime_noopt-fp32" in rungs and rungs[0] == "eager-fp32"
    for rung in rungs:
        backend, precision = rung.split("-")
        assert registry.pair_problem(backend, precision, "cpu") is None, rung


def test_the_capability_rule_is_the_registry_s_fields():
    for b in BACKENDS.values():
        for p in PRECISIONS.values():
            for device in DEVICES:
                kind = device.split(":")[0]
                runs = p.name in b.precisions and kind in b.devices and kind in p.devices
                assert (pair_problem(b.name, p.name, device) is None) == runs


# -- layering ------------------------------------------------------------------------------


@pytest.mark.parametrize("module", ["jetprof.registry", "jetprof.config", "jetprof.contract"])
def test_the_core_imports_no_wing(module):
    code = (f"import sys, {module}; print(sorted(m for m in sys.modules if m.startswith('jetprof.') and "
            f"m.split('.')[1] in ('profiling', 'report', 'model', 'train', 'data')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", f"{module} imports {out.stdout.strip()}"
