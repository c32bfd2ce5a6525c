"""A full node's run as a type: N measuring processes x T threads, and where it is written.

The contract's side of ``jetprof node`` (issue 23): :mod:`jetprof.profiling.node` makes and
writes a :class:`NodeRecord` per plan, :mod:`jetprof.report.cost` reads them, and neither
imports the other. The schema is ``node.schema.json`` beside the point record's (closed at
every level but ``env``, which is the point record's block and closed by it).

Also here, because the config check, the workflow and the command all need them: a plan's
name and record path, the cores a plan may use, and the one-line refusal of a plan that asks
for more.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import ClassVar

from jetprof.contract import RESULTS
from jetprof.records import JSON, Block, Identity, validate_document

#: the kind name of the schema (jetprof.records.SCHEMA_FILES)
NODE_KIND = "node record"


@dataclass
class NodeProcess(Block):
    """One measuring process of a node run: what it did inside the common timed window,
    and the peak resident memory of the whole process (interpreter, torch, weaver, model,
    buffers: the kernel's high-water mark, not torch's allocations)."""

    index: int
    pid: int
    calls: int
    jets_in_window: float
    jets_per_s: float
    latency_ms_p50: float
    cpu_s: float
    wall_s: float
    rss_peak_bytes: int
    particles_mean: float
    first_jet: int

    KIND = "node process"


@dataclass
class NodeRecord(Identity, Block):
    """One plan of a full node (``results/node/<model>/<device>/<backend>-<precision>/<P>x<T>.json``):
    ``processes`` processes of ``threads`` torch threads each (inter-op 1), the same model and rung
    on their own jets, started together behind a barrier. ``jets_per_s`` is the sum over processes
    of the jets done inside the window all of them were timing, divided by that window;
    ``fits_slot``: the largest process's peak RSS is within ``memory_per_core_gb`` x ``threads``."""

    batch_size: int
    processes: int
    threads: int
    cores: int
    cores_available: int
    process_mode: str
    duration_s: float
    calls_target: int
    warmup_calls: int
    window_s: float
    jets_per_s: float
    jets_per_s_per_core: float
    rss_peak_bytes: int
    rss_method: str
    memory_per_core_gb: float
    slot_bytes: int
    fits_slot: bool
    jets_source: str
    distinct_jets: int
    per_process: list[NodeProcess]
    env: JSON
    started_utc: str
    elapsed_s: float
    schema_version: int = 1
    kind: str = "jetprof node run"

    KIND = NODE_KIND
    NESTED: ClassVar[dict[str, type[Block]]] = {"per_process": NodeProcess}


def load_node_record(doc: object, source: str = "node record") -> NodeRecord:
    """A node record from its JSON: schema-checked, then typed."""
    validate_document(NODE_KIND, doc, source)
    return NodeRecord.from_json(doc, source)


@dataclass(frozen=True)
class Plan:
    """``processes`` measuring processes of ``threads`` threads each."""

    processes: int
    threads: int

    @property
    def cores(self) -> int:
        return self.processes * self.threads

    @property
    def name(self) -> str:
        return f"{self.processes}x{self.threads}"


def parse_plan(text: str) -> Plan:
    """``"2x1"`` -> Plan(2, 1); a one-line JetprofError otherwise."""
    from jetprof.errors import JetprofError

    p, sep, t = text.lower().partition("x")
    if not sep or not p.isdigit() or not t.isdigit() or int(p) < 1 or int(t) < 1:
        raise JetprofError(f"plan {text!r}: expected PROCESSESxTHREADS, e.g. 2x1")
    return Plan(int(p), int(t))


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity where the OS says, else the count)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def plan_problem(plan: Plan, cores: int, where: str = "node.plans") -> str | None:
    """One line refusing a plan that asks for more cores than the machine has, else None."""
    if plan.cores > cores:
        return (f"{where}: plan [{plan.processes}, {plan.threads}] needs {plan.processes} x {plan.threads} = "
                f"{plan.cores} cores, this machine has {cores}: a node run must not oversubscribe its cores")
    return None


def config_plans(config: JSON) -> list[Plan]:
    """The config's ``node.plans`` (the schema fills the default)."""
    return [Plan(int(p), int(t)) for p, t in config["node"]["plans"]]


def node_path(model: str, device: str, backend: str, precision: str, plan: Plan | str,
              root: str = RESULTS) -> str:
    name = plan.name if isinstance(plan, Plan) else plan
    return f"{root}/node/{model}/{device}/{backend}-{precision}/{name}.json"


def study_node_models(config: JSON) -> list[str]:
    """The models a study runs on the node: the main one, then ``node.models``."""
    return list(dict.fromkeys([str(config["weaver"]["model_name"]), *map(str, config["node"]["models"])]))


def study_node_runs(config: JSON) -> list[tuple[str, str, str]]:
    """(model, backend, precision) of every node job of a study: each of its node models at each
    of ``node.backends``; none when ``node.plans`` is empty."""
    from jetprof.contract import split_pair

    if not config["node"]["plans"]:
        return []
    return [(model, *split_pair(str(pair))) for model in study_node_models(config)
            for pair in config["node"]["backends"]]


def study_node_records(config: JSON) -> list[str]:
    """Every node record the study writes (each node job's plans)."""
    return [node_path(model, "cpu", backend, precision, plan)
            for model, backend, precision in study_node_runs(config) for plan in config_plans(config)]
