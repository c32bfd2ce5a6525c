"""HTTP downloads, written once for every wing: stream a URL into a file, resumed with ``Range``.

``jetprof download`` (JetClass tarballs of many GB, resumed across cut connections and
across runs, see :mod:`jetprof.data.fetch`) and ``jetprof fetch-weights`` (a checkpoint,
one try, see :mod:`jetprof.model.pretrained`) both fetch through :func:`stream`. Every
failure is a :class:`~jetprof.errors.JetprofError` naming the URL.
"""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path
from typing import Any

from jetprof.errors import JetprofError

#: statuses that mean "try again later": retried like a cut connection
RETRY_STATUS = frozenset({429, 502, 503, 504})
_NET_CHUNK = 1 << 16  # what a cut connection can lose of a partly received block


def _total_from(resp: Any, offset: int) -> int | None:
    """Full file size from a 206 Content-Range or a 200 Content-Length."""
    crange = resp.headers.get("Content-Range", "")
    m = re.match(r"bytes \d+-\d+/(\d+)", crange)
    if m:
        return int(m.group(1))
    length = resp.headers.get("Content-Length")
    if length is not None and length.isdigit():
        return int(length) + (offset if resp.status_code == 206 else 0)
    return None


def stream(
    url: str,
    part: Path,
    *,
    name: str | None = None,
    retries: int = 5,
    backoff_s: float = 2.0,
    timeout_s: float = 60.0,
    progress: bool | None = None,
    who: str = "jetprof",
    resumable: bool = True,
) -> bool:
    """Append the rest of ``url`` to ``part`` until the server ends the body.

    ``part``'s size is the offset asked for with ``Range`` (a missing or empty file: the
    whole body); a server that ignores ``Range`` (200) has the file started over. A
    connection cut before the announced length, or an answer of 429/502/503/504, is
    retried (resuming with ``Range``) up to ``retries`` times, waiting ``backoff_s``
    before the first retry and twice as long before each next one.

    Args:
        url: http(s) URL.
        part: file the bytes are appended to (created if missing).
        name: shown on the progress bar and in the retry messages (default: ``part``'s name).
        retries: retries after a cut connection or a retry status; 0 for one try.
        backoff_s: wait before the first retry (doubles each time).
        timeout_s: socket timeout per request.
        progress: show a tqdm bar; None = only on a terminal.
        who: prefix of the retry messages on stderr (``jetprof download``).
        resumable: the caller keeps ``part`` for the next run (the download cache), so a
            give-up message says so.

    Returns:
        True when the server answered 416 (it has no byte past ``part``'s size: the file
        there is complete, or all the server has); False when the body ended.

    Raises:
        JetprofError: an HTTP error status, a request that cannot be made, or a
            connection still cut after ``retries`` retries. ``part`` keeps what arrived.
    """
    import requests
    from tqdm import tqdm

    name = name or part.name
    failures = 0
    with requests.Session() as session:
        while True:
            offset = part.stat().st_size if part.is_file() else 0
            headers = {"Range": f"bytes={offset}-"} if offset else {}
            try:
                with session.get(url, headers=headers, stream=True, timeout=timeout_s) as resp:
                    if resp.status_code == 416 and offset:
                        return True
                    if resp.status_code in RETRY_STATUS and failures < retries:
                        raise requests.ConnectionError(f"HTTP {resp.status_code}")
                    if resp.status_code >= 400:
                        raise JetprofError(f"{url}: HTTP {resp.status_code} {resp.reason or ''}".rstrip())
                    if resp.status_code != 206:
                        offset = 0  # server ignored the Range header: start over
                    total = _total_from(resp, offset)
                    mode = "ab" if offset else "wb"
                    with (
                        open(part, mode) as out,
                        tqdm(
                            total=total,
                            initial=offset,
                            unit="B",
                            unit_scale=True,
                            unit_divisor=1024,
                            desc=name,
                            disable=(not progress) if progress is not None else None,
                            file=sys.stderr,
                        ) as bar,
                    ):
                        for block in resp.iter_content(chunk_size=_NET_CHUNK):
                            out.write(block)
                            bar.update(len(block))
                    size = part.stat().st_size
                    if total is not None and size < total:
                        raise requests.ConnectionError(f"connection closed at {size} of {total} bytes")
                    return False
            except (
                requests.ConnectionError,
                requests.Timeout,
                requests.exceptions.ChunkedEncodingError,
            ) as exc:
                failures += 1
                if failures > retries:
                    after = f" after {retries} {'retry' if retries == 1 else 'retries'}" if retries else ""
                    kept = part.stat().st_size if part.is_file() else 0
                    resume = (f"; the {kept:,} bytes that arrived are kept in {part} and the next run resumes "
                              "from there" if resumable and kept else "")
                    raise JetprofError(f"{url}: download failed{after}: {exc}{resume}") from None
                print(f"{who}: {name}: {exc}; resuming (try {failures}/{retries})", file=sys.stderr)
                time.sleep(backoff_s * 2 ** (failures - 1))
            except requests.RequestException as exc:  # a URL or an answer that no retry mends
                raise JetprofError(f"{url}: download failed ({type(exc).__name__}: {exc})") from None
