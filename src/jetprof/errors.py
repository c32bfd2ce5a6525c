"""The one exception type that the command line turns into a one-line message."""

from __future__ import annotations


class JetprofError(Exception):
    """A problem the user can fix (bad input, missing file, unknown device).

    The command line prints ``jetprof <command>: error: <message>`` and exits
    non-zero instead of showing a traceback. Messages name the file and, where
    there is one, the branch, key or value at fault.
    """


class BadInputError(JetprofError):
    """Input that no point of a sweep could be measured with (a checkpoint that does
    not fit the model, an unusable network or data config).

    Found by the first measuring process; the sweep stops with the one-line
    message instead of writing an ``error`` record for every point.
    """
