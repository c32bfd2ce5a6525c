"""Faults for the tests of the measuring process's failure paths, through its hook seam.

``jetprof.profiling.hooks`` calls the object named by ``JETPROF_HOOKS`` at named points;
:func:`env` names :func:`inject` here and the faults in ``JETPROF_FAULTS``, a
comma-separated list of ``KIND@BS`` or ``KIND@BS=ARG`` (BS: the group's batch size):

- ``crash@BS``: the measuring process kills itself with SIGKILL;
- ``term@BS``: it ends by SIGTERM (a transient kill); ``flaky@BS``: so on the first attempt only;
- ``hang@BS``: it sleeps for an hour (for ``--timeout-s``);
- ``crashreplica@BS``: a group's timing-only process (``process_index`` > 0) kills itself with
  SIGKILL; its full process 0 is left alone;
- ``oomkill@BS=BYTES``: it fills BYTES of memory, then SIGKILLs itself as the kernel's OOM
  killer would (with ``JETPROF_MEMORY_LIMIT_BYTES`` near that size the parent calls it out of memory);
- ``oom@BS``: every variant's first timed turn raises ``torch.OutOfMemoryError``;
- ``memcap@BS=BYTES``: the address space (RLIMIT_AS) is capped at its current size + BYTES
  once a variant's batch is made, so torch's allocator fails for real.
"""

from __future__ import annotations

import os
import resource
import signal
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve()
FAULTS = "JETPROF_FAULTS"


def env(faults: str) -> dict[str, str]:
    """The environment that injects ``faults`` into every measuring process it reaches."""
    return {"JETPROF_HOOKS": f"{HERE}:inject", FAULTS: faults}


def _fault(batch_size: int) -> tuple[str, str] | None:
    """(kind, argument) of the fault for this batch size, if any."""
    for item in filter(None, os.environ.get(FAULTS, "").split(",")):
        kind, _, rest = item.partition("@")
        bs, _, arg = rest.partition("=")
        if bs and int(bs) == batch_size:
            return kind, arg
    return None


def _cap_address_space(extra_bytes: int) -> None:
    hard = resource.getrlimit(resource.RLIMIT_AS)[1]
    vm = int(Path("/proc/self/statm").read_text().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    resource.setrlimit(resource.RLIMIT_AS, (vm + extra_bytes, hard))


def _at_start(kind: str, arg: str, spec: Any) -> None:
    if kind == "crash":
        os.kill(os.getpid(), signal.SIGKILL)
    elif kind == "term":
        os.kill(os.getpid(), signal.SIGTERM)
    elif kind == "flaky":  # killed by a signal the first time only: a transient failure
        marker = Path(spec.cache_dir or tempfile.gettempdir()) / f"flaky-{spec.batch_size}"
        if not marker.exists():
            marker.touch()
            os.kill(os.getpid(), signal.SIGTERM)
    elif kind == "oomkill":  # grow, then die as the kernel's OOM killer kills
        hog = bytearray(int(arg))  # zero-filled: every page touched
        os.kill(os.getpid(), signal.SIGKILL)
        del hog
    elif kind == "hang":
        time.sleep(3600)
    elif kind == "crashreplica" and spec.process_index > 0:
        os.kill(os.getpid(), signal.SIGKILL)


def inject(point: str, spec: Any, **context: Any) -> None:
    """The hook: act on the fault ``JETPROF_FAULTS`` names for this group, at its point."""
    fault = _fault(spec.batch_size)
    if fault is None:
        return
    kind, arg = fault
    if point == "group_start":
        _at_start(kind, arg, spec)
    elif point == "prepare" and kind == "memcap":
        _cap_address_space(int(arg))
    elif point == "turn" and kind == "oom":
        import torch

        raise torch.OutOfMemoryError("injected out-of-memory (tests/faults.py)")
