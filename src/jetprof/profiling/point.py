"""The inputs of one measured point, as a typed dataclass that travels to the child."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

BACKENDS = ("eager", "onnxruntime", "compile")
PRECISIONS = ("fp32", "bf16", "fp16")
WEIGHTS = ("random", "trained", "pretrained")


@dataclass
class Point:
    """Everything one child needs to measure one (device, batch size, ...) point.

    ``particles`` is an int (synthetic jets with exactly that many particles)
    or ``"real"`` (jets read from ``data`` files).
    """

    device: str
    batch_size: int
    weights: str
    backend: str
    precision: str
    particles: int | str
    out_dir: str
    checkpoint: str | None = None
    data: list[str] = field(default_factory=list)
    threads: int = 1
    warmup: int = 1
    repeats: int = 20
    min_time_s: float = 0.0
    profiler_pass: bool = True
    profiler_calls: int = 2
    model_name: str = "ParT_full"
    network_config: str = ""
    data_config: str = ""
    seed: int = 0
    config_hash: str | None = None
    # a folder the points of one sweep share (the ONNX export of their common weights)
    cache_dir: str | None = None
    # how the measuring process was made: "fork" (from the sweep's warm parent) or "spawn"
    process: str = "spawn"

    @property
    def record_path(self) -> Path:
        return Path(self.out_dir) / f"bs{self.batch_size}.json"

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Point:
        return cls(**json.loads(text))

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)
