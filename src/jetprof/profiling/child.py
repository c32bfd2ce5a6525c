"""The measuring process of one point.

One fresh process per point, made in one of two ways (see ``cli.run_point``):

* **fork** (CPU points of a ``jetprof profile`` run): the sweep's parent pins the
  thread counts, imports torch, weaver's model code and the input pipeline
  once, never runs a torch operation itself, and forks one child per point;
* **spawn** (CUDA and MPS points, or when the caller had imported torch before
  the sweep began): ``python -m jetprof.profiling.child POINT.json``, which pins
  its threads before torch is imported.

Either way the child builds the model (seeded random init or a checkpoint), makes
the batch, then:

1. warm-up calls (past the SequenceTrimmer's 5 untrimmed calls);
2. timed repeats of the plain, un-profiled forward with device synchronisation
   (CUDA events on CUDA; ``perf_counter`` and process CPU time on CPU);
3. one forward for the memory figure (see :mod:`jetprof.profiling.memory`);
4. FLOPs of one forward (see :mod:`jetprof.model.flops`);
5. a separate short torch.profiler pass (or ORT's profiler) for the per-op
   table and the trace — nothing is timed inside it.

It always writes a schema-valid record: ``ok``, ``oom`` (out of memory,
recovered outside the ``except`` block) or ``error`` with the message; except
when the model cannot be built or the checkpoint does not fit it
(:class:`~jetprof.errors.BadInputError`): then it writes nothing, prints one line
on stderr and exits with ``EXIT_BAD_INPUT``, and the parent stops the sweep.

Test hook (for the tests of the failure paths only): the environment variable
``JETPROF_TEST_FAULT`` = ``crash@BS`` makes the child kill itself with SIGKILL at
batch size BS; ``hang@BS`` makes it sleep for an hour (for ``--timeout-s``); ``oom@BS`` raises ``torch.OutOfMemoryError`` in the first timed
forward; ``memcap@BS=BYTES`` caps the child's address space (RLIMIT_AS) to its
current size + BYTES before the batch is built, so torch's allocator fails for real.
"""

from __future__ import annotations

import os
import sys


THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS")


def pin_threads(threads: int) -> None:
    """Set the thread-count variables; must run before torch is imported."""
    os.environ.update(dict.fromkeys(THREAD_VARIABLES, str(threads)))


EXIT_BAD_INPUT = 3


def measure_here(point) -> int:
    """Measure ``point`` in this process; the exit status the child should end with."""
    from jetprof.errors import BadInputError
    from jetprof.profiling.measure import measure_point

    try:
        measure_point(point)
    except BadInputError as exc:
        print(str(exc).replace("\n", " "), file=sys.stderr, flush=True)
        return EXIT_BAD_INPUT
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    from pathlib import Path

    from jetprof.profiling.point import Point

    point = Point.from_json(Path(argv[0]).read_text())
    pin_threads(point.threads)
    return measure_here(point)


if __name__ == "__main__":
    sys.exit(main())
