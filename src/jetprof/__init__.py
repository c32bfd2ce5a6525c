"""jetprof: what the ParticleTransformer jet tagger costs to run."""

from __future__ import annotations

__version__ = "0.1.0"
