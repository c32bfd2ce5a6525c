"""Running one comparison group in a fresh process, and what its end means.

``run_group`` forks (CPU, from a warm parent) or spawns (CUDA, MPS) the measuring
process (:mod:`jetprof.profiling.child`), waits for it with a time limit and reads
how it ended: a clean exit with its records; ``EXIT_BAD_INPUT`` (stop everything with
its one line); killed by the kernel for memory (``oom`` records: the cgroup counted
an OOM kill, or the process's peak memory reached 90 % of what it may use); or a
transient death (another signal, a timeout): measured again ``retries`` times, then
the call fails naming the group, with nothing written for it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from jetprof.errors import BadInputError, JetprofError
from jetprof.profiling.child import EXIT_BAD_INPUT, THREAD_VARIABLES
from jetprof.profiling.spec import GroupSpec
from jetprof.records import PointRecord, load_record


def memory_limit_bytes() -> int | None:
    """The memory a child may use before the kernel kills it: the cgroup limit, else RAM.

    ``JETPROF_MEMORY_LIMIT_BYTES`` overrides it (tests of the kernel-kill path).
    """
    override = os.environ.get("JETPROF_MEMORY_LIMIT_BYTES")
    if override:
        return int(override)
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            text = Path(path).read_text().strip()
        except OSError:
            continue
        if text.isdigit() and int(text) < 1 << 60:
            return int(text)
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):
        return None


def _oom_kills() -> int | None:
    """The cgroup's count of kernel OOM kills so far (None where it cannot be read)."""
    for path in ("/sys/fs/cgroup/memory.events",):
        try:
            for line in Path(path).read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill":
                    return int(value)
        except OSError:
            continue
    return None


class ChildResult:
    """How a group's process ended: exit status (negative: signal; None: timed out),
    its stderr, peak resident memory, and whether the kernel's OOM killer took it."""

    def __init__(self, status: int | None, stderr: str, maxrss_bytes: int, oom_killed: bool) -> None:
        self.status, self.stderr, self.maxrss_bytes, self.oom_killed = status, stderr, maxrss_bytes, oom_killed


def maxrss_bytes(ru_maxrss: int, platform: str = sys.platform) -> int:
    """``getrusage``'s ``ru_maxrss`` in bytes: Linux counts kibibytes, macOS bytes."""
    return ru_maxrss if platform == "darwin" else ru_maxrss * 1024


def _wait(pid: int, timeout_s: float | None) -> tuple[int | None, int]:
    """(exit status or None on timeout, peak RSS in bytes) of child ``pid``."""
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    try:
        while True:
            done, raw, usage = os.wait4(pid, os.WNOHANG)
            if done:
                return os.waitstatus_to_exitcode(raw), maxrss_bytes(usage.ru_maxrss)
            if deadline is not None and time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
                _, _, usage = os.wait4(pid, 0)
                return None, maxrss_bytes(usage.ru_maxrss)
            time.sleep(0.01)
    except BaseException:
        try:
            os.kill(pid, signal.SIGKILL)
            os.wait4(pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
        raise


def _classify(status: int | None, maxrss: int, kills_before: int | None) -> bool:
    """Whether a SIGKILLed child was the kernel's OOM victim: the cgroup counted an OOM
    kill meanwhile, or the child's peak memory reached 90 % of what it may use."""
    if status != -signal.SIGKILL:
        return False
    after = _oom_kills()
    if kills_before is not None and after is not None and after > kills_before:
        return True
    limit = memory_limit_bytes()
    return bool(limit and maxrss >= 0.9 * limit)


def _spawn(spec: GroupSpec, timeout_s: float | None) -> ChildResult:
    env = {**os.environ, **dict.fromkeys(THREAD_VARIABLES, str(spec.threads))}
    src = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = src + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    kills = _oom_kills()
    with tempfile.NamedTemporaryFile("w", suffix=".group.json", dir=spec.cache_dir, delete=False) as f:
        f.write(spec.to_json())
    try:
        with tempfile.TemporaryFile("w+") as err:
            proc = subprocess.Popen([sys.executable, "-m", "jetprof.profiling.child", f.name], env=env,
                                    stdout=subprocess.DEVNULL, stderr=err)
            status, maxrss = _wait(proc.pid, timeout_s)
            proc.returncode = status  # reaped by _wait
            err.seek(0)
            text = err.read()
    finally:
        os.unlink(f.name)
    return ChildResult(status, text, maxrss, _classify(status, maxrss, kills))


def _fork(spec: GroupSpec, timeout_s: float | None) -> ChildResult:
    from jetprof.profiling.child import measure_here

    kills = _oom_kills()
    with tempfile.TemporaryFile("w+") as err:
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:  # the child: measure, then leave without running the parent's exit handlers
            code = 1
            try:
                os.dup2(err.fileno(), 2)
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, 1)
                signal.signal(signal.SIGINT, signal.SIG_DFL)
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                code = measure_here(spec)
            except BaseException:
                traceback.print_exc()
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        status, maxrss = _wait(pid, timeout_s)
        err.seek(0)
        return ChildResult(status, err.read(), maxrss, _classify(status, maxrss, kills))


def _describe(result: ChildResult, timeout_s: float | None) -> str:
    if result.status is None:
        return f"timed out after {timeout_s} s"
    if result.status < 0:
        return f"killed by {signal.Signals(-result.status).name}"
    return f"exited with status {result.status}"


def group_name(spec: GroupSpec) -> str:
    return f"{spec.device} p{spec.particles} bs{spec.batch_size}"


def child_runner(timeout_s: float | None) -> Callable[[GroupSpec], ChildResult]:
    """Makes one measuring process for a spec (forked or spawned, as ``spec.process`` says) and waits."""
    return lambda child: (_fork if child.process == "fork" else _spawn)(child, timeout_s)


def share_out_processes(specs: list[GroupSpec], timeout_s: float | None) -> None:
    """More processes for the job's groups still open (:func:`jetprof.profiling.replicate.share_out`)."""
    from jetprof.profiling.replicate import share_out

    share_out([(spec, group_name(spec)) for spec in specs], child_runner(timeout_s))


def run_group(spec: GroupSpec, timeout_s: float | None = None, retries: int = 0) -> list[PointRecord]:
    """Measure ``spec`` in a fresh process (``spec.process``); its records.

    Raises:
        BadInputError: the child found that no group can be measured with this input.
        JetprofError: the child died for a transient reason ``retries + 1`` times
            (nothing is written for the group: a rerun measures it again).
    """
    from jetprof.profiling.measure import clear_outputs

    attempts: list[str] = []
    for _attempt in range(retries + 1):
        started = time.perf_counter()
        result = (_fork if spec.process == "fork" else _spawn)(spec, timeout_s)
        if result.status == EXIT_BAD_INPUT:
            lines = [line for line in result.stderr.strip().splitlines() if line.strip()]
            raise BadInputError(lines[-1] if lines else "the measuring process refused the input")
        paths = [spec.record_path(v) for v in spec.variants if not v.replica]
        if result.status == 0 and all(p.is_file() for p in paths):
            from jetprof.profiling.replicate import replicate

            replicate(spec, child_runner(timeout_s), group_name(spec))
            return [load_record(json.loads(p.read_text()), str(p)) for p in paths]
        tail = " | ".join(line for line in result.stderr.strip().splitlines()[-3:] if line.strip())
        clear_outputs(spec)
        if result.oom_killed:
            why = (f"killed by the kernel for memory (SIGKILL at a peak of {result.maxrss_bytes / 2**20:.0f} MiB"
                   f" resident; limit {(memory_limit_bytes() or 0) / 2**20:.0f} MiB)")
            return write_failed_group(spec, "oom", why, time.perf_counter() - started)
        attempts.append(_describe(result, timeout_s) + (f" ({tail[:300]})" if tail else ""))
        print(f"jetprof profile: group {group_name(spec)}: measuring process {attempts[-1]}"
              + ("; measuring it again" if len(attempts) <= retries else ""), file=sys.stderr)
    records = ", ".join(str(spec.record_path(v)) for v in spec.variants if not v.replica)
    raise JetprofError(f"group {group_name(spec)} ({records}): "
                       f"the measuring process failed {len(attempts)} time(s), last {attempts[-1]}; "
                       "nothing written for it, rerun to measure it again")


def write_failed_group(spec: GroupSpec, status: str, message: str, duration: float) -> list[PointRecord]:
    """Records (and the rounds file) for a group whose process could not write them itself."""
    from datetime import UTC, datetime

    from jetprof.io import atomic_write_text
    from jetprof.profiling.env import environment
    from jetprof.profiling.measure import write_empty_profile
    from jetprof.profiling.record import blank_record, group_document, write_record

    started = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    env = environment(spec.device, spec.config_hash)
    env.update(threads=spec.threads, interop_threads=1)
    measured = []
    for variant in spec.variants:
        rec = blank_record(spec, variant)
        rec.fail(status, message)
        rec.duration_s, rec.started_utc, rec.env = round(duration, 3), started, env
        measured.append((variant, rec))
        if not variant.replica:
            if spec.profiler_pass:
                write_empty_profile(spec.record_path(variant))
            write_record(rec, spec.record_path(variant))
    doc = group_document(spec, measured, [], env, started, round(duration, 3), None)
    atomic_write_text(spec.group_path, json.dumps(doc, indent=1) + "\n")
    return [rec for v, rec in measured if not v.replica]
