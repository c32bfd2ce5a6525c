"""Named points in the measuring process where a caller-owned hook may act (a seam for tests).

The measuring code holds no test scaffolding: the failure paths (a killed, hung or
out-of-memory measuring process) are exercised by a hook that the tests own
(``tests/faults.py``), named by the environment variable

    ``JETPROF_HOOKS=path/to/file.py:NAME``

The object ``NAME`` of that file is called as ``hook(point, **context)`` at each of
the ``POINTS``; it may return nothing, kill the process, sleep, or raise (an exception
it raises inside a variant's step fails that variant as a real one would). Unset, no
file is read and every call is a no-op.

Points and their context:

- ``group_start`` (``spec``): the measuring process has pinned its threads, nothing built yet;
- ``prepare`` (``spec``, ``slot``): a variant's batch is made, before its runner is;
- ``turn`` (``spec``, ``slot``): before a variant's turn in a timed round;
- ``call_end`` (``spec``, ``slot``, ``seconds``: the forward's own time): after each timed
  forward, inside its timing (with a hook set, a call is timed around the forward and this
  point; ``benchmarks/slowdown.py`` adds a slowdown of known size here).
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

from jetprof.errors import JetprofError

VARIABLE = "JETPROF_HOOKS"
POINTS = ("group_start", "prepare", "turn", "call_end")

#: a hook: called as ``hook(point, **context)``; what it returns is not used
Hook = Callable[..., object]


@lru_cache(maxsize=4)
def _load(value: str) -> Hook:
    path, sep, name = value.rpartition(":")
    if not sep or not path or not name:
        raise JetprofError(f"{VARIABLE}={value!r}: expected path/to/file.py:NAME")
    file = Path(path)
    if not file.is_file():
        raise JetprofError(f"{VARIABLE}={value!r}: no such file {file}")
    spec = importlib.util.spec_from_file_location(f"jetprof_hooks_{file.stem}", file)
    if spec is None or spec.loader is None:
        raise JetprofError(f"{VARIABLE}={value!r}: {file} is not a Python file")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    hook = getattr(module, name, None)
    if not callable(hook):
        raise JetprofError(f"{VARIABLE}={value!r}: {file} has no callable {name}")
    return hook


def active() -> bool:
    """Whether a hook is set (``JETPROF_HOOKS``)."""
    return bool(os.environ.get(VARIABLE))


def call(point: str, **context: object) -> None:
    """Call the hook ``JETPROF_HOOKS`` names, if any, at ``point`` with ``context``."""
    if point not in POINTS:
        raise ValueError(f"unknown hook point {point!r} (known: {', '.join(POINTS)})")
    value = os.environ.get(VARIABLE)
    if value:
        _load(value)(point, **context)
