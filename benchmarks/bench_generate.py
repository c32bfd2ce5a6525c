"""Generator speed: accepted jets per CPU-second for each JetClass class.

Usage: ``python benchmarks/bench_generate.py [--jets N] [--processes Hbb,QCD,...]``.
Pythia initialisation is excluded; event generation, detector, clustering,
substructure and writing are included (``time.process_time``). The target is
at least 40 jets per CPU-second for the hadronic classes.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from jetprof.data import jetclass
from jetprof.data.generate import Generator, GeneratorSettings, write_file


def main() -> None:
    """Print one line per class: jets, events tried, CPU s, jets per CPU-second."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jets", type=int, default=100)
    parser.add_argument("--processes", default=",".join(p.short for p in jetclass.PROCESSES))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--mpi", action=argparse.BooleanOptionalAction, default=False,
                        help="multi-parton interactions (the default study runs without: --no-mpi)")
    args = parser.parse_args()
    print(f"multi-parton interactions: {'on' if args.mpi else 'off'}")
    print(f"{'class':<6} {'jets':>5} {'events':>7} {'cpu_s':>7} {'wall_s':>7} {'jets_per_cpu_s':>15}")
    with tempfile.TemporaryDirectory() as tmp:
        for short in args.processes.split(","):
            gen = Generator(short, "train", 0, args.seed, GeneratorSettings(mpi=args.mpi))
            c0, w0 = time.process_time(), time.perf_counter()
            n = write_file(Path(tmp) / f"{short}.root", gen, args.jets, chunk_size=200)
            cpu, wall = time.process_time() - c0, time.perf_counter() - w0
            print(f"{short:<6} {n:>5} {gen.events_tried:>7} {cpu:>7.2f} {wall:>7.2f} {n / cpu:>15.1f}", flush=True)


if __name__ == "__main__":
    main()
