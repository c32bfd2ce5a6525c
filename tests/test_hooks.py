"""The hook seam of the measuring process (jetprof.profiling.hooks): how a hook is named and
called, its errors, and a benchmark's hook acting inside the timed calls."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from jetprof.errors import JetprofError
from jetprof.profiling import hooks

REPO = Path(__file__).resolve().parents[1]


def test_without_a_hook_every_point_is_a_no_op(monkeypatch):
    monkeypatch.delenv(hooks.VARIABLE, raising=False)
    assert not hooks.active()
    hooks.call("turn", spec=None, slot=None)
    with pytest.raises(ValueError, match="unknown hook point 'turns'"):
        hooks.call("turns")


def test_the_named_object_is_called_with_the_point_and_its_context(tmp_path, monkeypatch):
    (tmp_path / "mine.py").write_text("seen = []\ndef hook(point, **context):\n    seen.append((point, context))\n")
    monkeypatch.setenv(hooks.VARIABLE, f"{tmp_path / 'mine.py'}:hook")
    hooks.call("prepare", spec="S", slot="V")
    hook = hooks._load(f"{tmp_path / 'mine.py'}:hook")
    assert hook.__globals__["seen"] == [("prepare", {"spec": "S", "slot": "V"})]


@pytest.mark.parametrize(("value", "message"), [("nofile", "expected path/to/file.py:NAME"),
                                                ("{tmp}/gone.py:hook", "no such file"),
                                                ("{tmp}/mine.py:absent", "has no callable absent")])
def test_a_bad_hook_name_is_one_line_naming_the_variable(tmp_path, monkeypatch, value, message):
    (tmp_path / "mine.py").write_text("x = 1\n")
    monkeypatch.setenv(hooks.VARIABLE, value.format(tmp=tmp_path))
    with pytest.raises(JetprofError, match=message) as err:
        hooks.call("turn")
    assert str(err.value).startswith("JETPROF_HOOKS=")


def test_the_benchmark_slowdown_hook_acts_inside_the_timed_calls(tmp_path, monkeypatch):
    """The known slowdown (benchmarks/slowdown.py) doubles the random variant's time per call
    against its control replica, which it leaves alone: the hook runs inside the timing."""
    pytest.importorskip("torch")
    from jetprof.contract import DEFAULT_DATA_CONFIG, DEFAULT_NETWORK_CONFIG
    from jetprof.profiling.measure import measure_group
    from jetprof.profiling.spec import GroupSpec, VariantSpec

    sys.path.insert(0, str(REPO / "benchmarks"))
    from slowdown import env

    for name, value in env("random", 1.0).items():
        monkeypatch.setenv(name, value)
    variants = [VariantSpec("ParT_full", "random", "eager", "fp32", str(DEFAULT_NETWORK_CONFIG),
                            str(DEFAULT_DATA_CONFIG), replica=r) for r in (0, 1)]
    spec = GroupSpec("cpu", 16, 1, variants, out=str(tmp_path), rounds=4, max_rounds=4, warmup=1,
                     profiler_pass=False)
    doc = measure_group(spec)
    slow, control = (sorted(v["round_latency_ms"])[2] for v in doc["variants"])
    assert 1.6 < slow / control < 2.6, (slow, control)
    assert json.loads(spec.record_path(variants[0]).read_text())["status"] == "ok"
