"""``jetprof`` command line: one subcommand per stage of the study.

Each subcommand lives in its own module, imported only when that subcommand
runs (so ``jetprof validate`` never imports torch). A module provides
``add_arguments(parser)`` and ``run(args) -> int``.

``jetprof --log FILE <command> ...`` (what every Snakemake rule runs) appends
everything the command writes to FILE, its child processes and C libraries
included, and, when the command fails, also prints its one-line error
(``jetprof <command>: error: ...``) on the real stderr: the user sees it in the
terminal under Snakemake's error block instead of having to open the log.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import sys
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

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
    "node": ("jetprof.profiling.node", "a full node: N measuring processes x T threads, jets/s per core, RSS per slot"),
    "serve": ("jetprof.profiling.serve_cli", "serve one rung through MLPerf LoadGen in one scenario"),
    "serving-summary": ("jetprof.report.serving", "collect serving records into results/summary/serving.csv"),
    "findings": ("jetprof.report.findings", "the report's opening page: what the study found, one line each"),
    "summarize": ("jetprof.report.summarize", "collect profile records into one table"),
    "compare": ("jetprof.report.compare", "paired comparisons (ratios, CIs, verdicts) and the weights answer"),
    "cost": ("jetprof.report.cost", "the node runs as a table, and their cost per event and per billion jets"),
    "plot": ("jetprof.report.cli", "draw the study's figures from stored records"),
}


def _usage() -> str:
    width = max(len(c) for c in COMMANDS)
    lines = ["usage: jetprof [--log FILE] <command> [options]", "", "commands:"]
    lines += [f"  {c:<{width}}  {h}" for c, (_, h) in COMMANDS.items()]
    lines += [
        "",
        "--log FILE  append the command's output to FILE; a failure's one-line error",
        "            also goes to the terminal",
        "`jetprof <command> --help` shows a command's options.",
    ]
    return "\n".join(lines)


class _UsageError(Exception):
    """A command line that argparse refused (its message, without the usage)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise _UsageError(message)


@contextlib.contextmanager
def _output_to(path: str) -> Iterator[None]:
    """Send stdout and stderr (the file descriptors, so child processes and C code too)
    to ``path``, appended and line-buffered; restore both on exit."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o666)
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    saved = os.dup(1), os.dup(2)
    streams = sys.stdout, sys.stderr
    # closed in the finally below, after the descriptors are restored
    log = open(fd, "w", buffering=1, encoding="utf-8", errors="backslashreplace", closefd=False)
    try:
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        sys.stdout = sys.stderr = log  # one stream: lines stay in the order they were written
        yield
    finally:
        log.close()  # flushes; the descriptor stays open (closefd=False)
        sys.stdout, sys.stderr = streams
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for f in (*saved, fd):
            os.close(f)


def _split_log(argv: list[str]) -> tuple[str | None, list[str]]:
    """``--log FILE`` / ``--log=FILE`` in front of the command, and the rest."""
    if argv and argv[0] == "--log":
        if len(argv) < 2 or not argv[1]:
            raise _UsageError("--log needs a FILE")
        return argv[1], argv[2:]
    if argv and argv[0].startswith("--log="):
        if argv[0] == "--log=":
            raise _UsageError("--log needs a FILE")
        return argv[0].removeprefix("--log="), argv[1:]
    return None, argv


def _run(command: str, rest: list[str], log: str | None) -> tuple[int, str | None]:
    """Parse and run one command; return (exit status, its one-line error or None).

    Messages go to ``sys.stderr`` (the log, when redirected). Without a log an
    unexpected exception propagates (a traceback, as Python shows it); with one, its
    traceback goes to the log and the status is 1.
    """
    prog = f"jetprof {command}"
    module = importlib.import_module(COMMANDS[command][0])
    parser = _Parser(prog=prog, description=COMMANDS[command][1])
    module.add_arguments(parser)
    try:
        args = parser.parse_args(rest)
    except _UsageError as exc:
        parser.print_usage(sys.stderr)
        line = f"{prog}: error: {exc}"
        print(line, file=sys.stderr)
        return 2, line
    try:
        rc = int(module.run(args) or 0)
    except JetprofError as exc:
        line = f"{prog}: error: {exc}"
        print(line, file=sys.stderr)
        return 1, line
    except KeyboardInterrupt:
        line = f"{prog}: interrupted"
        print(line, file=sys.stderr)
        return 130, line
    except Exception as exc:
        if log is None:
            raise
        traceback.print_exc(file=sys.stderr)
        first = (str(exc).splitlines() or [""])[0][:200]
        line = f"{prog}: error: {type(exc).__name__}: {first} (traceback in {log})"
        print(line, file=sys.stderr)
        return 1, line
    if rc != 0 and log is not None:
        line = f"{prog}: error: exited with status {rc} (see {log})"
        print(line, file=sys.stderr)
        return rc, line
    return rc, None


def main(argv: list[str] | None = None) -> int:
    """Run one subcommand; return its exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        log, argv = _split_log(argv)
    except _UsageError as exc:
        print(f"jetprof: error: {exc}\n\n{_usage()}", file=sys.stderr)
        return 2
    if not argv or argv[0] in ("-h", "--help"):
        print(_usage())
        return 0 if argv else 2
    if argv[0] == "--version":
        from jetprof import __version__

        print(f"jetprof {__version__}")
        return 0
    from jetprof.platforms import refusal

    if problem := refusal():
        print(f"jetprof: error: {problem}", file=sys.stderr)
        return 2
    command, rest = argv[0], argv[1:]
    if command not in COMMANDS:
        print(f"jetprof: error: unknown command {command!r}\n\n{_usage()}", file=sys.stderr)
        return 2
    if log is None:
        return _run(command, rest, None)[0]
    with _output_to(log):
        print(f"# jetprof {command} (pid {os.getpid()})", flush=True)
        rc, line = _run(command, rest, log)
    if line is not None:
        print(line, file=sys.stderr, flush=True)  # the terminal again
    return rc


if __name__ == "__main__":
    sys.exit(main())
