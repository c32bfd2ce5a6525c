"""The measuring process of one comparison group.

One fresh process per group (a device, a batch size, a set of jets, and every
variant compared there), made in one of two ways (see ``cli.run_group``):

* **fork** (CPU groups): the parent pins the thread counts, imports torch, weaver's
  model code and the input pipeline once, never runs a torch operation itself, and
  forks one child per group;
* **spawn** (CUDA and MPS groups, or when the caller had imported torch before):
  ``python -m jetprof.profiling.child GROUP.json``, which pins its threads before
  torch is imported.

The child then runs :func:`jetprof.profiling.measure.measure_group`: it builds every
variant, makes the batch, warms each variant up past its own warm-up (ParT's
SequenceTrimmer leaves its first 5 calls untrimmed), times the variants interleaved
in rounds, then measures memory, FLOPs and subnormal counts, and runs the profiler
pass per variant. It writes one schema-valid record per variant (``ok``, ``oom``
or ``error`` with the message) and the group's rounds file; except when a model
cannot be built or a checkpoint does not fit it
(:class:`~jetprof.errors.BadInputError`): then it writes nothing, prints one line
on stderr and exits with ``EXIT_BAD_INPUT``, and the parent stops.

The failure paths (a child killed, hung or out of memory) are tested through the hook
seam of :mod:`jetprof.profiling.hooks` (``JETPROF_HOOKS``); the faults themselves are the
tests' own (``tests/faults.py``).
"""

from __future__ import annotations

import os
import sys

THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS")
EXIT_BAD_INPUT = 3


def pin_threads(threads: int) -> None:
    """Set the thread-count variables; must run before torch is imported."""
    os.environ.update(dict.fromkeys(THREAD_VARIABLES, str(threads)))


def measure_here(spec) -> int:
    """Measure the group ``spec`` in this process; the exit status the child should end with."""
    from jetprof.errors import BadInputError
    from jetprof.profiling.measure import measure_group

    try:
        if spec.process_index:
            from jetprof.profiling.replicate import time_only

            time_only(spec)
        else:
            measure_group(spec)
    except BadInputError as exc:
        print(str(exc).replace("\n", " "), file=sys.stderr, flush=True)
        return EXIT_BAD_INPUT
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    from pathlib import Path

    from jetprof.profiling.spec import GroupSpec

    spec = GroupSpec.from_json(Path(argv[0]).read_text())
    pin_threads(spec.threads)
    return measure_here(spec)


if __name__ == "__main__":
    sys.exit(main())
