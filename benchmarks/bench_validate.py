"""Validation throughput against uproot's raw read of the same branches.

Usage::

    python benchmarks/bench_validate.py [--data-config C] [--repeats 3] [--plots] [FILE ...]

Without files it writes a few JetClass-format files (the test suite's maker,
``--jets`` jets each) into a temporary folder. Prints jets/s for a bare
``tree.arrays(branches)`` and for ``jetprof.data.validate.validate`` on the same
files (best of ``--repeats``, files already in the page cache), and their ratio
(1.0 = validation costs nothing beyond reading).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import uproot

REPO = Path(__file__).resolve().parents[1]


def _raw_read(files: list[Path], branches: list[str]) -> int:
    n = 0
    for f in files:
        with uproot.open(f) as rf:
            arrays = rf["tree"].arrays(branches, library="ak", how=dict)
            n += len(arrays[branches[0]])
    return n


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the ratio."""
    from jetprof.data.dataconfig import read_data_config_needs
    from jetprof.data.validate import validate

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-config", type=Path, default=REPO / "workflow/weaver/JetClass_full.yaml")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--jets", type=int, default=20000, help="jets per generated file")
    p.add_argument("--nfiles", type=int, default=2)
    p.add_argument(
        "--plots", action="store_true", help="also keep the plot samples (as with --plots)"
    )
    p.add_argument("files", nargs="*", type=Path)
    args = p.parse_args(argv)
    needs = read_data_config_needs(args.data_config)
    tmp = None
    files = list(args.files)
    if not files:
        sys.path.insert(0, str(REPO / "tests"))
        from test_validate import make_jetclass_file

        tmp = tempfile.TemporaryDirectory()
        files = [
            make_jetclass_file(
                Path(tmp.name) / f"mixed_{i:03d}.root",
                [j % 10 for j in range(args.jets)],
                n_jets=args.jets,
                seed=i,
            )
            for i in range(args.nfiles)
        ]
    _raw_read(files, needs.branches)  # warm the page cache
    raw_s = val_s = float("inf")
    njets = 0
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        njets = _raw_read(files, needs.branches)
        raw_s = min(raw_s, time.perf_counter() - t0)
        t0 = time.perf_counter()
        results, _ = validate(files, needs, sample=args.plots)
        val_s = min(val_s, time.perf_counter() - t0)
        bad = [q for r in results for q in r.problems]
        if bad:
            print("\n".join(bad), file=sys.stderr)
            return 1
    print(f"files: {len(files)}, jets: {njets}, branches: {len(needs.branches)}")
    print(f"uproot raw read : {njets / raw_s:10.0f} jets/s ({raw_s:.3f} s)")
    print(f"jetprof validate: {njets / val_s:10.0f} jets/s ({val_s:.3f} s)")
    print(f"ratio validate/raw throughput: {raw_s / val_s:.2f} (target >= 0.8)")
    if tmp is not None:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
