"""File-format checks of JetClass files: is a tarball or a ROOT file whole and readable?

:func:`header_problem` tells a missing, non-ROOT or truncated ROOT file from its header
(``jetprof validate`` runs it first on every file); :func:`format_problem` checks a fetched
``.tar`` or ``.root`` file (``jetprof download``, :mod:`jetprof.data.fetch`) and says whether
its bytes are the start of a good file (resume them) or wrong (throw them away).
"""

from __future__ import annotations

import os
import tarfile
from dataclasses import dataclass
from pathlib import Path

from jetprof.data import jetclass


def header_problem(path: Path) -> str | None:
    """A missing, non-ROOT or truncated file, told from the ROOT file header.

    A truncated file's message starts with ``truncated:`` (the header's end of file lies
    past the file's size).
    """
    try:
        with open(path, "rb") as f:
            head = f.read(20)
            size = os.fstat(f.fileno()).st_size
    except FileNotFoundError:
        return "no such file"
    except OSError as exc:
        return f"cannot read: {exc.strerror}"
    if head[:4] != b"root":
        return "not a ROOT file (no 'root' signature at the start)"
    if len(head) < 20:
        return f"truncated: {size} bytes, shorter than a ROOT file header"
    version = int.from_bytes(head[4:8], "big")
    end = int.from_bytes(head[12:20] if version >= 1000000 else head[12:16], "big")
    if size < end:
        return f"truncated: {size} bytes, the ROOT header says {end}"
    return None


@dataclass(frozen=True)
class Problem:
    """Why a fetched file is not usable.

    Attributes:
        message: what is wrong, naming no path (the caller adds it).
        short: the bytes look like the start of a good file (resume them with ``Range``);
            False: they are wrong (throw them away).
    """

    message: str
    short: bool


def _tar_problem(path: Path) -> Problem | None:
    """A tarball whose headers or end-of-archive marker are missing or unreadable."""
    size = path.stat().st_size
    try:
        with tarfile.open(path, "r:") as tar:
            members = tar.getmembers()  # walks every header, seeking past the data
            end = tar.offset
    except tarfile.ReadError as exc:
        # "unexpected end of data": a member's data runs past the end of the file
        short = "end of data" in str(exc) or size < tarfile.BLOCKSIZE
        return Problem(f"not a readable tarball ({exc})", short)
    except (OSError, EOFError) as exc:
        return Problem(f"not a readable tarball ({exc})", True)
    if not members:
        return Problem("a tarball without members", False)
    with open(path, "rb") as f:
        f.seek(end)
        marker = f.read(2 * tarfile.BLOCKSIZE)
    if marker != bytes(2 * tarfile.BLOCKSIZE):
        return Problem(
            f"truncated: {size} bytes, no end-of-archive marker after the member headers", True
        )
    return None


def _root_problem(path: Path) -> Problem | None:
    """A ROOT file whose header promises more bytes than it has, or whose tree does not read."""
    import uproot

    header = header_problem(path)
    if header is not None:
        return Problem(header, header.startswith("truncated"))
    try:
        with uproot.open(path) as f:
            tree = f[jetclass.TREE_NAME]
            n = int(tree.num_entries)
            if n < 1:
                return Problem(f"tree {jetclass.TREE_NAME!r} has no entries", False)
            tree.arrays(entry_start=n - 1, entry_stop=n, library="np")  # the last baskets
    except Exception as exc:  # uproot raises many types for broken files
        detail = (str(exc).splitlines() or [""])[0][:160]
        return Problem(
            f"tree {jetclass.TREE_NAME!r} not readable ({type(exc).__name__}: {detail})", False
        )
    return None


def format_problem(path: Path) -> Problem | None:
    """Check a fetched file by its format: ``.tar`` and ``.root`` files; None if it is fine."""
    if path.name.endswith(".tar") or path.name.endswith(".tar.part"):
        return _tar_problem(path)
    if path.name.endswith(".root") or path.name.endswith(".root.part"):
        return _root_problem(path)
    return None
