"""The one exception type that the command line turns into a one-line message."""

from __future__ import annotations


class JetprofError(Exception):
    """A problem the user can fix (bad input, missing file, unknown device).

    The command line prints ``jetprof <command>: error: <message>`` and exits
    non-zero instead of showing a traceback. Messages name the file and, where
    there is one, the branch, key or value at fault.
    """
