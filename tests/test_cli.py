"""The `jetprof` command line: `--log FILE` keeps the output in the log and puts the
one-line error on the terminal too (what a failed Snakemake rule shows)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from jetprof import cli
from jetprof.cli import main

FAKE = '''
import os, sys
from jetprof.errors import JetprofError

def add_arguments(parser):
    parser.add_argument("what", choices=["ok", "jetprof", "crash", "status"])

def run(args):
    print("to stdout")
    print("to stderr", file=sys.stderr)
    os.system("echo from a child process")
    if args.what == "jetprof":
        raise JetprofError("results/x.root: branch jet_pt: missing")
    if args.what == "crash":
        raise RuntimeError("boom\\nsecond line")
    return 3 if args.what == "status" else 0
'''


@pytest.fixture()
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A `jetprof fake` command that writes from Python and from a child process."""
    (tmp_path / "jetprof_fake_cmd.py").write_text(textwrap.dedent(FAKE))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(cli.COMMANDS, "fake", ("jetprof_fake_cmd", "a test command"))
    return "fake"


@pytest.mark.parametrize(
    ("what", "rc", "line"),
    [
        ("jetprof", 1, "jetprof fake: error: results/x.root: branch jet_pt: missing"),
        ("crash", 1, "jetprof fake: error: RuntimeError: boom (traceback in {log})"),
        ("status", 3, "jetprof fake: error: exited with status 3 (see {log})"),
        ("bad", 2, "jetprof fake: error: argument what: invalid choice: 'bad' (choose from "),
    ],
)
def test_log_gets_everything_and_the_terminal_one_line(
    fake: str, tmp_path: Path, capfd: pytest.CaptureFixture[str], what: str, rc: int, line: str
) -> None:
    log = tmp_path / "logs" / "fake.log"
    assert main(["--log", str(log), fake, what]) == rc
    out, err = capfd.readouterr()
    assert out == "" and err.startswith(line.format(log=log)) and err.count("\n") == 1
    text = log.read_text()
    assert text.startswith("# jetprof fake (pid ")
    assert text.endswith(err)  # the same line closes the log
    if what != "bad":
        assert "to stdout\nto stderr\n" in text and "from a child process\n" in text
    if what == "crash":
        assert "Traceback (most recent call last)" in text and "second line" in text
    if what == "bad":
        assert "usage: jetprof fake" in text


def test_log_is_appended_and_success_is_quiet(
    fake: str, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "fake.log"
    assert main([f"--log={log}", fake, "ok"]) == 0
    assert main(["--log", str(log), fake, "ok"]) == 0
    assert capfd.readouterr() == ("", "")
    assert log.read_text().count("# jetprof fake (pid ") == 2
    # and the terminal is back: output after the command is not in the log
    print("after")
    assert capfd.readouterr().out == "after\n"
    assert "after" not in log.read_text()


def test_without_log_output_goes_to_the_terminal(
    fake: str, capfd: pytest.CaptureFixture[str]
) -> None:
    assert main([fake, "jetprof"]) == 1
    out, err = capfd.readouterr()
    assert out == "to stdout\nfrom a child process\n"
    assert err == "to stderr\njetprof fake: error: results/x.root: branch jet_pt: missing\n"
    with pytest.raises(RuntimeError, match="boom"):
        main([fake, "crash"])


def test_log_needs_a_file(capfd: pytest.CaptureFixture[str]) -> None:
    assert main(["--log"]) == 2
    assert capfd.readouterr().err.startswith("jetprof: error: --log needs a FILE\n")


def test_real_command_error_on_the_terminal_and_in_the_log(tmp_path: Path) -> None:
    """What a rule runs: `jetprof --log {log} validate ...` on a missing file."""
    log = tmp_path / "validate.log"
    missing = tmp_path / "dir with space" / "HToBB_000.root"
    proc = subprocess.run(
        [sys.executable, "-m", "jetprof.cli", "--log", str(log), "validate", str(missing)],
        capture_output=True, text=True, check=False,
    )
    line = f"jetprof validate: error: 1 problem(s) in 1 of 1 file(s); first: {missing}: no such file"
    assert proc.returncode == 1
    assert proc.stdout == "" and proc.stderr == line + "\n"
    assert log.read_text().splitlines()[-2:] == [f"{missing}: no such file", line]


@pytest.mark.parametrize("command", sorted(cli.COMMANDS))
def test_every_option_of_every_command_says_what_it_does(command):
    import argparse
    import importlib

    from jetprof.cli import COMMANDS

    parser = argparse.ArgumentParser(prog=f"jetprof {command}")
    importlib.import_module(COMMANDS[command][0]).add_arguments(parser)
    bare = [a.option_strings[0] if a.option_strings else a.dest for a in parser._actions
            if not isinstance(a, argparse._HelpAction) and not a.help]
    assert not bare, f"jetprof {command}: no help text for {bare}"
