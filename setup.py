"""Refuse, in one line and before any dependency is fetched, a platform or Python jetprof does not support.

Everything else is in pyproject.toml. The table is jetprof/platforms.py, read by file path because
jetprof is not installed yet; JETPROF_ALLOW_UNSUPPORTED=1 lets the install go on anyway.
"""

import runpy
import sys
from pathlib import Path

from setuptools import setup

problem = runpy.run_path(str(Path(__file__).resolve().parent / "src" / "jetprof" / "platforms.py"))["refusal"]()
if problem:
    sys.exit(f"jetprof: cannot install here: {problem}")
setup()
