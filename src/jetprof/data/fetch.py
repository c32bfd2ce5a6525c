"""Fetch one file into the download cache, checked, resumable and stamped (``jetprof download``).

Guarantees:

* A download is written to ``CACHE/<name>.part`` and renamed to its final name
  only after it passed its format check (a tarball's headers and end-of-archive
  marker, a ROOT file's header against its size and its tree readable to the last
  entry) and, when pinned, its checksum. A cut connection, and a body that a server
  ends by closing the connection short of the file (no ``Content-Length``: the
  format check finds it cut), resume from the ``.part`` size with an HTTP ``Range``
  request (a bounded number of times, and again on the next run), pinned or not.
  Only bytes that are whole but wrong (a checksum mismatch, not a ROOT file) are
  thrown away.
* A verified file carries a ``.md5ok`` stamp (checks, hash, size, mtime) and is never
  downloaded or re-checked again while it is unchanged. A file in the cache without
  a valid stamp (e.g. from an older jetprof that stamped files unchecked) is checked
  again before use: a cut one is resumed, a bad one fetched again.

The bytes come through :func:`jetprof.httpfetch.stream`; the format checks are
:func:`jetprof.data.formats.format_problem`.
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from jetprof import httpfetch as http
from jetprof.data.formats import Problem, format_problem
from jetprof.errors import JetprofError
from jetprof.io import atomic_write_text, file_digest

#: what a ``.md5ok`` stamp vouches for; stamps without it (older jetprof) are checked again
STAMP_CHECKS = "format+digest"


@dataclass(frozen=True)
class Remote:
    """One file to fetch: its URL, cache name and expected checksum.

    Attributes:
        part: part name (``val_5M``) or ``example``.
        url: where to get it.
        filename: name in the cache folder.
        algorithm: ``md5`` or ``sha256``, or None when nothing pins the file.
        digest: expected hex digest, or None.
    """

    part: str
    url: str
    filename: str
    algorithm: str | None
    digest: str | None


def _stamp_path(path: Path) -> Path:
    return path.with_name(path.name + ".md5ok")


def _stamp_ok(path: Path, remote: Remote) -> bool:
    stamp = _stamp_path(path)
    if not path.is_file() or not stamp.is_file():
        return False
    try:
        data = json.loads(stamp.read_text())
    except (OSError, ValueError):
        return False
    st = path.stat()
    return bool(
        data.get("checked") == STAMP_CHECKS
        and data.get("algorithm") == remote.algorithm
        and data.get("digest") == remote.digest
        and data.get("size") == st.st_size
        and data.get("mtime_ns") == st.st_mtime_ns
    )


def _write_stamp(path: Path, algorithm: str | None, digest: str | None) -> None:
    st = path.stat()
    body = {
        "checked": STAMP_CHECKS,
        "algorithm": algorithm,
        "digest": digest,
        "size": st.st_size,
        "mtime_ns": st.st_mtime_ns,
    }
    atomic_write_text(_stamp_path(path), json.dumps(body, indent=1) + "\n")


def _check(path: Path, remote: Remote) -> tuple[Problem | None, str]:
    """(problem or None, sha256 or pinned digest seen) of a fetched file.

    The format check runs first: a file cut short fails it whatever its checksum, and is
    resumed rather than thrown away. Bytes that are wrong rather than missing are named
    by their checksum mismatch where a pin exists, else by the format check.
    """
    problem = format_problem(path)
    if problem is not None and problem.short:
        return problem, ""
    seen = file_digest(path, remote.algorithm or "sha256")
    if remote.algorithm and remote.digest and seen != remote.digest:
        return Problem(
            f"{remote.algorithm.upper()} mismatch: expected {remote.digest}, got {seen}", False
        ), seen
    return problem, seen


def fetch(
    remote: Remote,
    cache: Path,
    *,
    retries: int = 5,
    backoff_s: float = 2.0,
    timeout_s: float = 60.0,
    progress: bool | None = None,
) -> tuple[Path, bool]:
    """Download one file into ``cache`` (resumable), check its format and its digest.

    Args:
        remote: what to fetch.
        cache: folder for the ``.part`` file and the verified file.
        retries: how many times a cut connection (or a body found cut short) is resumed
            before giving up; the ``.part`` file is kept for the next run.
        backoff_s: wait before the first retry (doubles each time).
        timeout_s: socket timeout per request.
        progress: show a tqdm bar; None = only on a terminal.

    Returns:
        (path of the verified file, whether anything was downloaded).

    Raises:
        JetprofError: HTTP error, too many dropped connections, a file that fails its
            format check or its checksum.
    """
    cache.mkdir(parents=True, exist_ok=True)
    final = cache / remote.filename
    part = cache / (remote.filename + ".part")
    if _stamp_ok(final, remote):
        return final, False
    if final.is_file():
        problem, _ = _check(final, remote)
        if problem is None:
            _write_stamp(final, remote.algorithm, remote.digest)
            return final, False
        if problem.short and not part.exists():
            os.replace(final, part)  # the start of the file: resume it
        else:
            final.unlink()
        _stamp_path(final).unlink(missing_ok=True)
        print(
            f"jetprof download: {final}: {problem.message}; fetching it again",
            file=sys.stderr,
        )
    failures = 0
    while True:
        exhausted = http.stream(
            remote.url,
            part,
            name=remote.filename,
            retries=retries,
            backoff_s=backoff_s,
            timeout_s=timeout_s,
            progress=progress,
            who="jetprof download",
        )
        problem, seen = _check(part, remote)
        if problem is None:
            break
        if problem.short and not exhausted:
            # the server closed the body early without saying how long it was
            failures += 1
            if failures > retries:
                raise JetprofError(
                    f"{final}: {problem.message} after {retries} retries; the partial "
                    f"download is kept as {part.name} and resumed on the next run"
                )
            print(
                f"jetprof download: {remote.filename}: {problem.message}; "
                f"resuming (try {failures}/{retries})",
                file=sys.stderr,
            )
            time.sleep(backoff_s * 2 ** (failures - 1))
            continue
        part.unlink()
        source = " (the server has no more bytes)" if problem.short else ""
        raise JetprofError(f"{final}: {problem.message}{source}; the bad download was removed")
    if not remote.digest:
        print(
            f"jetprof download: warning: no checksum pins {remote.filename}; "
            f"its sha256 is {seen} (pin it in the study config as dataset.download.sha256: "
            f"{{{remote.part}: {seen}}}, or on the command line with --sha256 {remote.part}={seen})",
            file=sys.stderr,
        )
    os.replace(part, final)
    _write_stamp(final, remote.algorithm, remote.digest)
    return final, True
