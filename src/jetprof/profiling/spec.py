"""What one measuring process is given: a comparison group, as a dataclass that
travels to the child as JSON."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from jetprof.contract import Group, Point, Variant, group_path, record_path


@dataclass
class VariantSpec:
    """One variant of a group and the files it is built from."""

    model: str
    weights: str
    backend: str
    precision: str
    network_config: str
    data_config: str
    checkpoint: str | None = None
    replica: int = 0

    @property
    def variant(self) -> Variant:
        return Variant(self.model, self.weights, self.backend, self.precision, self.replica)

    @property
    def label(self) -> str:
        return self.variant.label


@dataclass
class GroupSpec:
    """Everything a child needs to measure one group: its variants at one device,
    particle count (or real jets) and batch size, interleaved over rounds."""

    device: str
    particles: int | str
    batch_size: int
    variants: list[VariantSpec]
    out: str = "results"
    data: list[str] = field(default_factory=list)
    threads: int = 1
    warmup: int = 1
    rounds: int = 10
    max_rounds: int = 40
    max_group_s: float = 60.0
    threshold: float = 0.05
    flush_denormal: bool = False
    profiler_pass: bool = True
    profiler_calls: int = 1
    seed: int = 0
    config_hash: str | None = None
    # a folder the groups of one call share (the ONNX exports of their weights)
    cache_dir: str | None = None
    # how the measuring process was made: "fork" (from a warm parent) or "spawn"
    process: str = "spawn"
    # labelled test jets (ROOT files) every point is scored on after its timed rounds,
    # against eager fp32 with the same weights (record field ``quality``); none: no score
    quality_data: list[str] = field(default_factory=list)
    quality_jets: int = 500

    def __post_init__(self) -> None:
        self.variants = [v if isinstance(v, VariantSpec) else VariantSpec(**v) for v in self.variants]

    @property
    def group(self) -> Group:
        return Group(self.device, str(self.particles), self.batch_size,
                     tuple(v.variant for v in self.variants))

    def record_path(self, v: VariantSpec) -> Path:
        return Path(record_path(v.model, v.weights, self.device, v.backend, v.precision,
                                self.particles, self.batch_size, root=self.out))

    @property
    def group_path(self) -> Path:
        return Path(group_path(self.device, self.particles, self.batch_size, root=self.out))

    @property
    def points(self) -> list[Point]:
        return self.group.points

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> GroupSpec:
        return cls(**json.loads(text))

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)
