"""What one measuring process is given: a comparison group, as a dataclass that
travels to the child as JSON. ``jetprof profile`` makes one per (particles, batch size)
of a job document (:class:`jetprof.jobfile.ProfileJob`), whose variants it shares."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from jetprof.contract import Group, Point, group_path, record_path
from jetprof.jobfile import DEFAULT_QUALITY_JETS, DEFAULT_THRESHOLD, JobSettings, VariantSpec

__all__ = ["GroupSpec", "VariantSpec"]


_DEFAULT = JobSettings()  # the config schema's defaults (jetprof.jobfile)


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
    threads: int = _DEFAULT.threads
    warmup: int = _DEFAULT.warmup
    rounds: int = _DEFAULT.rounds
    max_rounds: int = _DEFAULT.max_rounds
    max_group_s: float = _DEFAULT.max_group_s
    processes: int = _DEFAULT.processes
    max_processes: int = _DEFAULT.max_processes
    target_half_width: float = _DEFAULT.target_half_width
    # "wall" or "cpu" (the job's clock, resolved for this device and thread count)
    clock: str = "wall"
    # which of the group's fresh processes this is (0: the one that also measures memory, FLOPs, quality
    # and the profiler pass and writes the records; 1, 2, ...: timing only, their rounds to rounds_out)
    process_index: int = 0
    rounds_out: str | None = None
    threshold: float = DEFAULT_THRESHOLD
    flush_denormal: bool = _DEFAULT.flush_denormal
    profiler_pass: bool = _DEFAULT.profiler_pass
    profiler_calls: int = _DEFAULT.profiler_calls
    seed: int = _DEFAULT.seed
    config_hash: str | None = None
    # a folder the groups of one call share (the ONNX exports of their weights)
    cache_dir: str | None = None
    # how the measuring process was made: "fork" (from a warm parent) or "spawn"
    process: str = "spawn"
    # labelled test jets (ROOT files) every point is scored on after its timed rounds,
    # against eager fp32 with the same weights (record field ``quality``); none: no score
    quality_data: list[str] = field(default_factory=list)
    quality_jets: int = DEFAULT_QUALITY_JETS

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
