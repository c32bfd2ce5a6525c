"""``jetprof`` command line: one subcommand per stage of the study.

Each subcommand lives in its own module, imported only when that subcommand
runs (so ``jetprof validate`` never imports torch). A module provides
``add_arguments(parser)`` and ``run(args) -> int``.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from jetprof.errors import JetprofError

# subcommand -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "generate": ("jetprof.data.generate", "generate one JetClass-format ROOT file with Pythia 8 + FastJet"),
    "manifest": ("jetprof.data.manifest", "write a dataset manifest (counts, content hashes, settings)"),
    "download": ("jetprof.data.download", "download JetClass from Zenodo (MD5-checked, resumable)"),
    "validate": ("jetprof.data.validate", "check JetClass ROOT files and write a validation report"),
    "weaver": ("jetprof.train.launcher", "run the weaver CLI with every random generator seeded"),
    "evaluate": ("jetprof.train.evaluate", "metrics and figures from weaver --predict output"),
    "export": ("jetprof.model.export", "export a checkpoint to ONNX and write its model card"),
    "fetch-weights": ("jetprof.model.pretrained", "fetch an official ParT/ParticleNet checkpoint and convert it"),
    "profile": ("jetprof.profiling.cli", "profile ParT's forward pass over a grid of points"),
    "summarize": ("jetprof.report.summarize", "collect profile records into one table"),
    "plot": ("jetprof.report.plots", "draw the study's figures from stored records"),
}


def _usage() -> str:
    width = max(len(c) for c in COMMANDS)
    lines = ["usage: jetprof <command> [options]", "", "commands:"]
    lines += [f"  {c:<{width}}  {h}" for c, (_, h) in COMMANDS.items()]
    lines += ["", "`jetprof <command> --help` shows a command's options."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run one subcommand; return its exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(_usage())
        return 0 if argv else 2
    if argv[0] == "--version":
        from jetprof import __version__

        print(f"jetprof {__version__}")
        return 0
    command, rest = argv[0], argv[1:]
    if command not in COMMANDS:
        print(f"jetprof: error: unknown command {command!r}\n\n{_usage()}", file=sys.stderr)
        return 2
    module = importlib.import_module(COMMANDS[command][0])
    parser = argparse.ArgumentParser(prog=f"jetprof {command}", description=COMMANDS[command][1])
    module.add_arguments(parser)
    args = parser.parse_args(rest)
    try:
        return int(module.run(args) or 0)
    except JetprofError as exc:
        print(f"jetprof {command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"jetprof {command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
