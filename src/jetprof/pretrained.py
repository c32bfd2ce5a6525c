"""Official ParT checkpoints: fetch with a checked hash, and upgrade 0.4-era layouts.

PLACEHOLDER owned by the pretrained-weights work: ``to_current_layout`` must
detect a weaver 0.4-era state dict and convert it.
"""

from __future__ import annotations

from typing import Any


def to_current_layout(state: dict[str, Any], model: Any) -> tuple[dict[str, Any], bool]:
    """Return (state in weaver 0.5 layout, whether it was a 0.4-era checkpoint)."""
    return state, False
