"""The study's config as a type: one TypedDict per section of ``schemas/config.schema.yaml``.

Snakemake fills every default of the schema into the config before any rule reads it
(``validate`` in the Snakefile), so a key with a default is required here; ``NotRequired``
marks only the keys the schema leaves without one (a ``profile.models`` entry's own
configs and backends). Enums are ``Literal`` types; the backend-precision pairs are plain
strings (a registry slot of the schema: their values are :data:`jetprof.registry.BACKENDS`
x :data:`~jetprof.registry.PRECISIONS`, checked when the config is, not by the type).

``tests/test_study_config.py`` walks the schema and these types both ways: every key of
the schema is a field here with a matching type, and every field is a key of the schema.

No ``from __future__ import annotations`` here: Python 3.11's TypedDict reads
``NotRequired`` only from evaluated annotations.
"""

from collections.abc import Mapping
from typing import Literal, NotRequired, TypedDict

#: a config as the user gives it, before the schema's defaults are filled in (what the
#: config check reads): nested mappings of plain values, no key known to be there
RawConfig = Mapping[str, object]

Split = Literal["train", "val", "test"]
Source = Literal["generate", "zenodo", "example"]
Process = Literal["QCD", "Hbb", "Hcc", "Hgg", "H4q", "Hqql", "Zqq", "Wqq", "Tbqq", "Tbl"]
Weights = Literal["random", "trained", "pretrained"]
TrainDevice = Literal["cpu", "cuda"]
Optimizer = Literal["ranger", "adamW", "adam", "radam"]
LrScheduler = Literal["none", "steps", "flat+decay", "flat+linear", "flat+cos", "warmup+cos", "one-cycle"]
Layout = Literal["auto", "0.4", "0.5"]
Clock = Literal["auto", "wall", "cpu"]
Scenario = Literal["SingleStream", "Offline", "Server"]
#: the ``train`` keys that become weaver flags (:data:`jetprof.config.WEAVER_KEYS`)
WeaverKey = Literal["num_epochs", "samples_per_epoch", "samples_per_epoch_val", "batch_size", "start_lr",
                    "optimizer", "lr_scheduler", "fetch_step", "num_workers", "use_amp"]


class SplitCounts(TypedDict):
    """A count per split: ``dataset.generate.jets`` and ``dataset.generate.files``."""

    train: int
    val: int
    test: int


class GenerateConfig(TypedDict):
    """``dataset.generate``: the offline generator."""

    seed: int
    jets: SplitCounts
    files: SplitCounts
    chunk_size: int
    mpi: bool


class DownloadConfig(TypedDict):
    """``dataset.download``: the JetClass download."""

    base_url: str
    parts: list[str]
    cache: str
    sha256: dict[str, str]


class DatasetConfig(TypedDict):
    """``dataset``: where the jets come from."""

    source: Source
    processes: list[Process]
    generate: GenerateConfig
    download: DownloadConfig


class WeaverConfig(TypedDict):
    """``weaver``: the main model's weaver configs and name."""

    data_config: str
    network_config: str
    model_name: str


class TrainConfig(TypedDict):
    """``train``: weaver training."""

    device: TrainDevice
    seed: int
    num_epochs: int
    samples_per_epoch: int
    samples_per_epoch_val: int
    batch_size: int
    start_lr: float
    optimizer: Optimizer
    lr_scheduler: LrScheduler
    fetch_step: float
    num_workers: int
    use_amp: bool
    predict_batch_size: int
    threads: int


class PretrainedConfig(TypedDict):
    """``pretrained``: the official ParT checkpoint (or one's own)."""

    enabled: bool
    url: str
    sha256: str
    layout: Layout


class ModelEntry(TypedDict):
    """One entry of ``profile.models``: a model beside the main one."""

    name: str
    network_config: NotRequired[str]
    data_config: NotRequired[str]
    train: bool
    backends: NotRequired[list[str]]
    batch_sizes: NotRequired[list[int]]


class MultiplicityConfig(TypedDict):
    """``profile.multiplicity``: the latency-vs-multiplicity curve."""

    particles: list[int]
    batch_size: int
    weights: Weights
    backends: list[str]


class CompareConfig(TypedDict):
    """``profile.compare``: how the paired comparisons are judged."""

    threshold: float
    target_half_width: float
    auc_loss: float
    control: bool


class ProfileConfig(TypedDict):
    """``profile``: the forward-pass profiling grid."""

    weights: list[Weights]
    models: list[ModelEntry]
    devices: list[str]
    backends: list[str]
    batch_sizes: list[int]
    particles: list[Literal["real"] | int]
    multiplicity: MultiplicityConfig
    threads: int
    warmup: int
    rounds: int
    max_rounds: int
    max_group_s: float
    processes: int
    max_processes: int
    clock: Clock
    compare: CompareConfig
    quality_jets: int
    flush_denormal: bool
    retries: int
    timeout_s: float
    profiler_pass: bool
    gpu_model: str


class NodeConfig(TypedDict):
    """``node``: the full-node runs."""

    plans: list[list[int]]
    backends: list[str]
    models: list[str]
    batch_size: int
    duration_s: float
    calls: int
    warmup: int
    memory_per_core_gb: float


class CostConfig(TypedDict):
    """``cost``: cost per event and per billion jets."""

    jets_per_event: float
    budget_ms_per_event: float


class ServingConfig(TypedDict):
    """``serving``: the MLPerf LoadGen scenarios."""

    scenarios: list[Scenario]
    backends: list[str]
    latency_bound_ms: float
    max_batch: int
    max_queue_delay_ms: float
    jets: int
    min_duration_s: float
    min_query_count: int
    server_steps: int


class StudyConfig(TypedDict):
    """The whole study config, every default of the schema filled in."""

    regenerate: bool
    study: str
    dataset: DatasetConfig
    weaver: WeaverConfig
    train: TrainConfig
    pretrained: PretrainedConfig
    profile: ProfileConfig
    node: NodeConfig
    cost: CostConfig
    serving: ServingConfig
