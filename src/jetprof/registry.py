"""The registry: every backend, precision, zoo model and figure of the study, once.

Each entry says all jetprof knows about one axis value: what runs it (a dotted path,
imported lazily by the wing that runs it), where it can run, what it needs installed,
how it is drawn, what it is. The contract's lists (:mod:`jetprof.contract`), the
schemas' backend, precision and model slots (:func:`fill_schema`), the capability rule
(:func:`pair_problem`), the report's styles and the figure rules are derived from here;
``tests/test_registry.py`` walks every entry and checks it is styled, documented,
accepted by the schemas and has what it needs.

Adding one:

- a backend: one module in ``jetprof/profiling/`` with a runner factory, one
  :class:`Backend` below, its tests, its row in ``docs/architecture.md``;
- a figure: one function returning a ``Plot``, one :class:`Figure`, one caption
  ``workflow/report/<name>.rst``;
- a zoo model: one weaver network config ``jetprof/model/weaver/<name>.py`` and one
  :class:`ZooModel`.

This module is core: pure data and small functions, it imports no wing.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: the shipped weaver network and data configs (``workflow/weaver/`` links here)
WEAVER_CONFIGS = Path(__file__).resolve().parent / "model" / "weaver"

# ---------------------------------------------------------------------------- entries


@dataclass(frozen=True)
class Package:
    """An optional package a backend or precision needs: the module to import, how to get it."""

    module: str
    install: str


@dataclass(frozen=True)
class Backend:
    """One way of running a forward pass.

    ``runner`` is ``"module:function"``: the factory the harness calls, of the
    signature its ``graph`` asks for (``torch``: ``jetprof.profiling.backends.torch_runner``'s,
    ``onnx``: ``exported_runner``'s). ``precisions`` and ``devices`` (device kinds) are
    where it runs; outside them ``pair_problem`` answers ``precision_note`` or
    ``device_note``.
    """

    name: str
    description: str
    runner: str
    graph: str  # "torch": the torch module; "onnx": the ONNX export (softmax output, no trimmer)
    precisions: tuple[str, ...]
    devices: tuple[str, ...]
    precision_note: str = ""
    device_note: str = ""
    #: packages every precision needs, and those one precision needs besides
    packages: tuple[Package, ...] = ()
    precision_packages: dict[str, tuple[Package, ...]] = field(default_factory=dict)
    #: the pip extra of jetprof that installs its packages (``pip install 'jetprof[X]'``)
    extra: str | None = None
    #: fed each batch trimmed to its longest jet (False: the padded batch)
    trims: bool = True
    #: cuts each batch into sub-batches by particle count (jetprof.profiling.bucketing)
    bucketed: bool = False
    #: its precisions that are rungs of the CPU deployment ladder (benchmarks/bench_backends.py)
    ladder: tuple[str, ...] = ()
    linestyle: str | tuple[int, tuple[int, ...]] = "-"
    colour: str = "#3f90da"


@dataclass(frozen=True)
class Precision:
    """One numeric precision: where it runs, how torch autocasts to it, how it is drawn."""

    name: str
    description: str
    devices: tuple[str, ...]
    device_note: str = ""
    autocast: str | None = None  # torch dtype name under autocast; None: none
    marker: str = "o"


@dataclass(frozen=True)
class OfficialCheckpoint:
    """One of the checkpoints published with the ParT paper."""

    name: str
    repo_path: str
    git_blob_sha1: str
    data_config: str  # file name under jetprof/model/weaver/
    #: "0.4": ParT attention blocks in weaver 0.4's channel order (converted on fetch);
    #: None: no attention blocks, the file loads as it is
    layout: str | None = "0.4"
    #: the zoo model it is for (network config jetprof/model/weaver/<model>.py)
    model: str = "ParT"

    @property
    def url(self) -> str:
        return f"https://github.com/jet-universe/particle_transformer/raw/main/{self.repo_path}"

    @property
    def network_config(self) -> str:
        """The network config's file name under jetprof/model/weaver/."""
        return f"{self.model}.py"

    @property
    def feature_set(self) -> str:
        """``full``, ``kinpid`` or ``kin`` (from the data config's name)."""
        return self.data_config.removeprefix("JetClass_").removesuffix(".yaml")


@dataclass(frozen=True)
class ZooModel:
    """One network config of the zoo (``jetprof/model/weaver/<name>.py``), how to tell its
    state dicts, the paper's figures for it and its official checkpoints."""

    name: str
    description: str
    #: a key ending that only this model's state dicts have (after any ``mod.`` prefix)
    marker: str
    #: the key ending whose first dimension is the number of particle features
    features_key: str
    #: the position of that dimension in the tensor's shape
    features_axis: int = 0
    #: a key ending this model must NOT have (tells ParT_plain from ParT)
    absent: str | None = None
    #: the ParT paper's figures (arXiv:2202.03772, Table 2: params, MACs, accuracy, AUC)
    paper: dict[str, float] | None = None
    checkpoints: tuple[OfficialCheckpoint, ...] = ()
    colour: str = "#94a4a2"

    @property
    def network_config(self) -> Path:
        """Its shipped weaver network config."""
        return WEAVER_CONFIGS / f"{self.name}.py"


@dataclass(frozen=True)
class Figure:
    """One figure of the study (``results/figures/<name>.png``).

    ``kind`` says what it is drawn from and how it is selected (:data:`FIGURE_KINDS`);
    ``function`` is ``"module:function"`` in the report wing; ``caption`` a file in
    ``workflow/report/``.
    """

    name: str
    kind: str
    function: str
    category: str = "3. Profile"

    @property
    def caption(self) -> str:
        return f"{self.name}.rst"


#: what a figure is drawn from: the input file its kind reads, or the records
FIGURE_KINDS: dict[str, str] = {
    "batch": "the summary table, one model, weight state and inputs, against batch size",
    "multiplicity": "the summary table's fixed-multiplicity points",
    "roofline": "the summary table and the peak records",
    "models_table": "the summary table, every model with random weights",
    "records": "the records and their per-op tables",
    "metrics": "the main model's evaluation metrics",
    "comparisons": "the paired comparisons (jetprof compare's comparisons.csv)",
    "deployment": "the deployment ladder (jetprof compare's deployment.json)",
    "models": "the models side by side (jetprof summarize's models.csv)",
    "node": "the full-node runs (jetprof cost's node.csv)",
    "serving": "the serving runs through MLPerf LoadGen (jetprof serving-summary's serving.csv)",
}

# ---------------------------------------------------------------------------- the values

_ORT = Package("onnxruntime", "pip install onnxruntime")
_ONNX = Package("onnx", "pip install onnx")
_ORT_PRECISIONS = ("fp32", "int8")
_ORT_PRECISION_NOTE = "the ONNX export is fp32 only (int8: its dynamic quantisation)"
_ORT_DEVICES = ("cpu", "cuda")
_ORT_DEVICE_NOTE = "ONNX Runtime does not run on mps"
_ALL_DEVICES = ("cpu", "cuda", "mps")
_TORCH = "jetprof.profiling.backends:torch_runner"


def _ort(name: str, description: str, runner: str = "jetprof.profiling.backends:ort_runner",
         **kw: Any) -> Backend:
    return Backend(name, description, runner, "onnx", _ORT_PRECISIONS, _ORT_DEVICES, _ORT_PRECISION_NOTE,
                   _ORT_DEVICE_NOTE, packages=(_ORT,), precision_packages={"int8": (_ONNX,)}, **kw)


BACKEND_LIST: tuple[Backend, ...] = (
    Backend("eager", "eager PyTorch", _TORCH, "torch", ("fp32", "bf16", "fp16", "int8"), _ALL_DEVICES,
            ladder=("fp32", "bf16", "int8"), linestyle="-", colour="#3f90da"),
    Backend("compile", "torch.compile of the eager module", _TORCH, "torch", ("fp32", "bf16", "fp16"),
            _ALL_DEVICES, precision_note="int8 is eager-int8 or onnxruntime-int8 (dynamic quantisation)",
            linestyle=":", colour="#832db6"),
    _ort("onnxruntime", "ONNX Runtime on the ONNX export, fed each batch trimmed to its longest jet",
         ladder=("fp32", "int8"), linestyle="--", colour="#e76300"),
    _ort("onnxruntime_padded", "ONNX Runtime fed the batch padded to the data config's length "
         "(a naive deployment)", trims=False, linestyle="-.", colour="#bd1f01"),
    Backend("openvino", "OpenVINO (CPU) on the same ONNX export, fed the trimmed batch",
            "jetprof.profiling.backends:openvino_runner", "onnx", ("fp32",), ("cpu",),
            "jetprof runs OpenVINO on the fp32 ONNX export only", "jetprof runs OpenVINO on cpu only",
            packages=(Package("openvino", "pip install 'jetprof[openvino]'"),), extra="openvino",
            ladder=("fp32",), linestyle=(0, (5, 1)), colour="#a96b59"),
    Backend("eager_bucketed", "eager PyTorch on the batch sorted by particle count and cut into "
            "sub-batches, each trimmed to its own longest jet, outputs put back in order", _TORCH, "torch",
            ("fp32", "bf16", "fp16", "int8"), _ALL_DEVICES, bucketed=True, ladder=("fp32", "bf16", "int8"),
            linestyle=(0, (3, 1, 1, 1, 1, 1)),
            colour="#717581"),
    _ort("onnxruntime_bucketed", "ONNX Runtime on the batch cut into sub-batches by particle count, as "
         "eager_bucketed", bucketed=True, ladder=("fp32", "int8"), linestyle=(0, (1, 1)), colour="#b9ac70"),
    _ort("onnxruntime_noopt", "ONNX Runtime with graph optimisation off (ORT_DISABLE_ALL), fed the "
         "trimmed batch: the rung below onnxruntime, what the graph optimiser buys",
         runner="jetprof.profiling.ort_noopt:runner", ladder=("fp32",), linestyle=(0, (5, 3, 1, 3)), colour="#92dadd"),
)

PRECISION_LIST: tuple[Precision, ...] = (
    Precision("fp32", "32-bit float", _ALL_DEVICES, marker="o"),
    Precision("bf16", "bfloat16 autocast", _ALL_DEVICES, autocast="bfloat16", marker="s"),
    Precision("fp16", "float16 autocast", ("cuda", "mps"),
              "autocast fp16 runs on cuda and mps only (use bf16 on cpu)", autocast="float16", marker="^"),
    Precision("int8", "dynamic int8 quantisation (eager's Linear layers with torch's quantiser, the ONNX "
              "export with ONNX Runtime's)", ("cpu",), "dynamic int8 quantisation runs on cpu only",
              marker="D"),
)


def _official(model: str, sha1s: dict[str, str], layout: str | None) -> tuple[OfficialCheckpoint, ...]:
    return tuple(OfficialCheckpoint(f"{model}_{fs}", f"models/{model}_{fs}.pt", sha1, f"JetClass_{fs}.yaml",
                                    layout=layout, model=model) for fs, sha1 in sha1s.items())


# The particle_transformer repository's models/ (blob ids of its main branch). The ParT
# files hold weaver 0.4's attention layout (converted on fetch); the ParticleNet files
# (1,522,482 / 1,514,546 / 1,519,154 bytes for full / kin / kinpid) hold ``mod.*`` keys
# that weaver-core 0.5.3's ParticleNet loads strictly as they are.
ZOO_LIST: tuple[ZooModel, ...] = (
    ZooModel("ParT", "ParticleTransformer (weaver-core)", "pair_embed.embed.0.weight",
             "embed.input_bn.weight",
             paper={"paper_params": 2.14e6, "paper_macs": 340e6, "paper_accuracy": 0.861, "paper_auc": 0.9877},
             checkpoints=_official("ParT", {"full": "cf510276bb5616caf87adace4e05eafab4b6c762",
                                            "kin": "70a82e78a7dc54601d4b19c089969fd917e397b9",
                                            "kinpid": "f4bf560aed152f0b2acd37f60be1323ea84039f8"}, "0.4"),
             colour="#3f90da"),
    ZooModel("ParT_plain", "ParticleTransformer without pair features (weaver-core)",
             "cls_token", "embed.input_bn.weight", absent="pair_embed.embed.0.weight",
             paper={"paper_params": 2.13e6, "paper_macs": 260e6, "paper_accuracy": 0.849, "paper_auc": 0.9859},
             colour="#bd1f01"),
    ZooModel("ParticleNet", "ParticleNet (weaver-core)", "edge_convs.0.convs.0.weight", "bn_fts.weight",
             paper={"paper_params": 370e3, "paper_macs": 540e6, "paper_accuracy": 0.844, "paper_auc": 0.9849},
             checkpoints=_official("ParticleNet", {"full": "eab18fffeef62001aa08758ff954873b414ce3e4",
                                                   "kin": "e3577bd272824e2470e8a12c9b7fe314546da76f",
                                                   "kinpid": "83075a3aed3e5d7e29fe1a53b3d9f90fec13e40c"}, None),
             colour="#832db6"),
    ZooModel("PFN", "Particle Flow Network, Deep Sets (jetprof)", "per_particle.0.weight",
             "per_particle.0.weight", features_axis=1,
             paper={"paper_params": 86.1e3, "paper_macs": 4.62e6, "paper_accuracy": 0.772, "paper_auc": 0.9714},
             colour="#e76300"),
    ZooModel("PCNN", "P-CNN, 1-D ResNet over pT-ordered particles (jetprof)", "stages.0.conv_a.weight",
             "stem.0.weight",
             paper={"paper_params": 354e3, "paper_macs": 15.5e6, "paper_accuracy": 0.809, "paper_auc": 0.9789},
             colour="#a96b59"),
    ZooModel("ParticleNeXt", "ParticleNeXt, multi-scale EdgeConv with attention (weaver-core)",
             "layers.0.edge_mlp.0.weight", "node_encode.0.weight", colour="#94a4a2"),
)

#: particle features per jet of each shipped data config ``JetClass_<set>.yaml``
FEATURE_SETS: dict[str, int] = {"full": 17, "kinpid": 13, "kin": 7}

FIGURE_LIST: tuple[Figure, ...] = (
    Figure("latency_vs_batch", "batch", "jetprof.report.curves:latency_vs_batch"),
    Figure("throughput_vs_batch", "batch", "jetprof.report.curves:throughput_vs_batch"),
    Figure("memory_vs_batch", "batch", "jetprof.report.curves:memory_vs_batch"),
    Figure("op_breakdown", "records", "jetprof.report.ops:op_breakdown"),
    Figure("weights_comparison", "comparisons", "jetprof.report.paired:weights_comparison"),
    Figure("comparisons", "comparisons", "jetprof.report.paired:comparisons"),
    Figure("latency_vs_multiplicity", "multiplicity", "jetprof.report.curves:latency_vs_multiplicity"),
    Figure("roofline", "roofline", "jetprof.report.curves:roofline"),
    Figure("models_comparison", "models_table", "jetprof.report.curves:models_comparison"),
    Figure("training_curves", "metrics", "jetprof.report.training:training_curves", "2. Training"),
    Figure("roc", "metrics", "jetprof.report.training:roc", "2. Training"),
    Figure("confusion_matrix", "metrics", "jetprof.report.training:confusion_matrix", "2. Training"),
    Figure("deployment", "deployment", "jetprof.report.paired:deployment"),
    Figure("accuracy_vs_cost", "models", "jetprof.report.pareto:accuracy_vs_cost"),
    Figure("speedup_vs_batch", "comparisons", "jetprof.report.paired:speedup_vs_batch"),
    Figure("node_throughput", "node", "jetprof.report.cost:node_throughput", "4. Deployment"),
    Figure("served_latency", "serving", "jetprof.report.serving:served_latency", "4. Serving"),
)

BACKENDS: dict[str, Backend] = {b.name: b for b in BACKEND_LIST}
PRECISIONS: dict[str, Precision] = {p.name: p for p in PRECISION_LIST}
ZOO: dict[str, ZooModel] = {m.name: m for m in ZOO_LIST}
FIGURES: dict[str, Figure] = {f.name: f for f in FIGURE_LIST}

# ---------------------------------------------------------------------------- rules


def backends_where(**facts: Any) -> tuple[str, ...]:
    """The backends whose fields equal ``facts`` (``graph="onnx"``, ``bucketed=True``), in order."""
    return tuple(b.name for b in BACKEND_LIST if all(getattr(b, k) == v for k, v in facts.items()))


def ladder_pairs() -> list[str]:
    """The CPU deployment ladder's rungs, ``backend-precision``, in the registry's order."""
    return [f"{b.name}-{p}" for b in BACKEND_LIST for p in b.ladder]


def pair_problem(backend: str, precision: str, device: str) -> str | None:
    """Why ``backend``-``precision`` cannot run on ``device`` (None if it can): the one
    capability rule, the backend's precisions and device kinds, then the precision's."""
    kind = device.split(":")[0]
    b, p = BACKENDS[backend], PRECISIONS[precision]
    if precision not in b.precisions:
        return f"{backend}-{precision}: {b.precision_note or backend + ' runs ' + '/'.join(b.precisions) + ' only'}"
    if kind not in b.devices:
        return f"{backend}-{precision}: {b.device_note or backend + ' runs on ' + '/'.join(b.devices) + ' only'}"
    if kind not in p.devices:
        return f"{backend}-{precision}: {p.device_note or precision + ' runs on ' + '/'.join(p.devices) + ' only'}"
    return None


def packages_for(backend: str, precision: str) -> tuple[Package, ...]:
    """The optional packages ``backend``-``precision`` needs beyond jetprof's own."""
    b = BACKENDS[backend]
    return (*b.packages, *b.precision_packages.get(precision, ()))


def official_checkpoints() -> tuple[OfficialCheckpoint, ...]:
    """Every official checkpoint of the zoo, model by model."""
    return tuple(c for m in ZOO_LIST for c in m.checkpoints)


def official_by_source(source: str, table: Sequence[OfficialCheckpoint] | None = None) -> OfficialCheckpoint | None:
    """The official checkpoint a URL points at (github.com or raw.githubusercontent.com), if
    any; ``table``: the checkpoints to look in (default: the zoo's)."""
    if "jet-universe/particle_transformer/" not in source:
        return None
    table = official_checkpoints() if table is None else table
    return next((c for c in table if source.endswith("/" + c.repo_path)), None)


def feature_set_name(n_features: int) -> str:
    """``full``/``kinpid``/``kin`` for a feature count, else ``"<n> features"``."""
    return next((k for k, v in FEATURE_SETS.items() if v == n_features), f"{n_features} features")


def zoo_name(model: str) -> tuple[str, str] | None:
    """(zoo model, feature set) a study's model name stands for (``PFN_full`` ->
    ``("PFN", "full")``, ``ParT_plain_kin`` -> ``("ParT_plain", "kin")``); None if it is
    not ``<zoo model>_<feature set>``."""
    for name in sorted(ZOO, key=len, reverse=True):
        for feature_set in FEATURE_SETS:
            if model == f"{name}_{feature_set}":
                return name, feature_set
    return None


def default_configs(model: str, folder: str = "workflow/weaver") -> tuple[str, str] | None:
    """The shipped (network config, data config) a zoo model name stands for, as paths
    under ``folder`` (the workflow's link to the package's configs); None if none."""
    found = zoo_name(model)
    if found is None:
        return None
    return f"{folder}/{found[0]}.py", f"{folder}/JetClass_{found[1]}.yaml"


def entry_configs(entry: Mapping[str, Any]) -> tuple[str, str]:
    """A ``profile.models`` entry's (network config, data config): its own, else those its
    zoo name stands for (``PFN_full``: ``workflow/weaver/PFN.py``, ``JetClass_full.yaml``);
    empty strings where neither says (the config check refuses that)."""
    default = default_configs(str(entry["name"])) or ("", "")
    return entry.get("network_config") or default[0], entry.get("data_config") or default[1]


def known_names() -> str:
    """The zoo's model names, for error messages."""
    return f"{'|'.join(ZOO)} + _{'|_'.join(FEATURE_SETS)}"


# ---------------------------------------------------------------------------- schema slots

#: ``$defs`` names of the schemas that this registry fills when they are loaded
SLOT = "filled from jetprof.registry when the schema is loaded"


def _alternatives(names: Any) -> str:
    return "|".join(names)


def schema_slots() -> dict[str, dict[str, Any]]:
    """The values the schemas' ``$defs`` slots take: the backend and precision enums and
    the backend-precision pair pattern."""
    return {
        "backend": {"enum": list(BACKENDS)},
        "precision": {"enum": list(PRECISIONS)},
        "pair": {"type": "string",
                 "pattern": f"^({_alternatives(BACKENDS)})-({_alternatives(PRECISIONS)})$"},
    }


def fill_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``schema`` with every registry slot of its ``$defs`` filled in.

    A slot is a ``$defs`` entry whose ``$comment`` is :data:`SLOT`; on disk it holds a
    permissive stand-in (Snakemake's ``validate`` reads the file as it is, after
    ``jetprof.config.config_problems`` has checked the config with the filled schema).
    """
    out = copy.deepcopy(schema)
    slots = schema_slots()
    for name, node in out.get("$defs", {}).items():
        if isinstance(node, dict) and node.get("$comment") == SLOT:
            if name not in slots:
                raise KeyError(f"$defs/{name}: the registry has no slot of that name ({', '.join(slots)})")
            node.clear()
            node.update({"$comment": SLOT, **copy.deepcopy(slots[name])})
    return out
