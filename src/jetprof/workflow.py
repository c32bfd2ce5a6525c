"""Target lists for the Snakemake workflow, computed from the config.

``workflow/rules/common.smk`` calls these functions and nothing else holds
logic about which files a study makes, so pytest can check them directly.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from typing import Any, Iterator

from jetprof.data.jetclass import SPLITS, process

RESULTS = "results"
FIGURES: tuple[str, ...] = (
    "latency_vs_batch",
    "throughput_vs_batch",
    "memory_vs_batch",
    "op_breakdown",
    "weights_comparison",
    "latency_vs_multiplicity",
    "roofline",
    "models_comparison",
    "training_curves",
    "roc",
    "confusion_matrix",
)


def dataset_files(config: dict[str, Any]) -> list[str]:
    """The generated ROOT files, ``results/dataset/{split}/{Prefix}_{NNN}.root``.

    Empty for downloaded data, whose file list is known only after the download.
    """
    ds = config["dataset"]
    if ds["source"] != "generate":
        return []
    gen = ds["generate"]
    out = []
    for split in SPLITS:
        for short in ds["processes"]:
            prefix = process(short).file_prefix
            for index in range(gen["files"][split]):
                out.append(f"{RESULTS}/dataset/{split}/{prefix}_{index:03d}.root")
    return out


def split_glob(split: str) -> str:
    """The glob weaver and the profiler read a split with."""
    return f"{RESULTS}/dataset/{split}/*.root"


@dataclass(frozen=True)
class Point:
    """One profiling grid point (one record)."""

    model: str
    weights: str
    device: str
    backend: str
    precision: str
    particles: str
    batch_size: int

    @property
    def record(self) -> str:
        return (
            f"{RESULTS}/profile/{self.model}/{self.weights}/{self.device}/"
            f"{self.backend}-{self.precision}/p{self.particles}/bs{self.batch_size}.json"
        )


def _split_backend(pair: str) -> tuple[str, str]:
    backend, precision = pair.rsplit("-", 1)
    return backend, precision


def profile_points(config: dict[str, Any]) -> list[Point]:
    """Every point of the study: the main grid plus the multiplicity curve, deduplicated."""
    prof = config["profile"]
    model = config["weaver"]["model_name"]
    weights = list(prof["weights"])
    if not config.get("pretrained", {}).get("enabled", False):
        weights = [w for w in weights if w != "pretrained"]

    def main_grid(name: str, states: list[str]) -> Iterator[Point]:
        for w in states:
            for dev in prof["devices"]:
                for pair in prof["backends"]:
                    backend, precision = _split_backend(pair)
                    for p in prof["particles"]:
                        for bs in prof["batch_sizes"]:
                            yield Point(name, w, dev, backend, precision, str(p), int(bs))

    def grid() -> Iterator[Point]:
        yield from main_grid(model, weights)
        for extra in prof.get("models", []):
            yield from main_grid(extra["name"], ["random"])  # no checkpoint: random weights only
        mult = prof["multiplicity"]
        mw = mult["weights"]
        if mw == "pretrained" and not config.get("pretrained", {}).get("enabled", False):
            mw = "trained"
        for dev in prof["devices"]:
            for pair in mult["backends"]:
                backend, precision = _split_backend(pair)
                for n in mult["particles"]:
                    yield Point(model, mw, dev, backend, precision, str(n), int(mult["batch_size"]))

    seen: dict[str, Point] = {}
    for point in grid():
        if point.precision == "fp16" and not point.device.startswith("cuda"):
            continue  # autocast fp16 is a GPU precision; the profiler refuses it elsewhere
        seen.setdefault(point.record, point)
    return list(seen.values())


def profile_records(config: dict[str, Any]) -> list[str]:
    return [p.record for p in profile_points(config)]


def profile_models(config: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """Model name -> (weaver network config, data config): the trained model first, then
    ``profile.models``."""
    weaver = config["weaver"]
    models = {weaver["model_name"]: (weaver["network_config"], weaver["data_config"])}
    for extra in config["profile"].get("models", []):
        models.setdefault(extra["name"], (extra["network_config"], extra["data_config"]))
    return models


@dataclass(frozen=True)
class Series:
    """Points measured by one ``jetprof profile`` call (one Snakemake job).

    Same model, weights, device, backend and precision, and the product of
    ``particles`` and ``batch_sizes``: the call imports torch and weaver once and
    forks a fresh process per point (on CPU).
    """

    model: str
    weights: str
    device: str
    backend: str
    precision: str
    particles: tuple[str, ...]
    batch_sizes: tuple[int, ...]

    @property
    def folder(self) -> str:
        return f"{self.model}/{self.weights}/{self.device}/{self.backend}-{self.precision}"

    @property
    def tag(self) -> str:
        """``p16_32_64`` / ``preal``: the particle counts, for the rule, log and benchmark names."""
        return "p" + "_".join(self.particles)

    @property
    def rule_name(self) -> str:
        parts = (self.model, self.weights, self.device.replace(":", ""), self.backend, self.precision, self.tag)
        return "profile_" + "_".join(parts)

    @property
    def points(self) -> list[Point]:
        return [Point(self.model, self.weights, self.device, self.backend, self.precision, n, bs)
                for n in self.particles for bs in self.batch_sizes]

    @property
    def records(self) -> list[str]:
        return [p.record for p in self.points]

    @property
    def out_pattern(self) -> str:
        """``--out`` of the call: the record folder with a ``{particles}`` placeholder."""
        return f"{RESULTS}/profile/{self.folder}/p{{particles}}"


def profile_series(config: dict[str, Any]) -> list[Series]:
    """The study's points grouped into as few products (particles × batch sizes) as they allow.

    Points that share model, weights, device, backend and precision are grouped by
    particle count; particle counts with the same set of batch sizes form one
    series. The default study's 20 points make 6 series. Every point lands in
    exactly one series.
    """
    groups: dict[tuple[str, ...], dict[str, list[int]]] = {}
    for pt in profile_points(config):
        key = (pt.model, pt.weights, pt.device, pt.backend, pt.precision)
        sizes = groups.setdefault(key, {}).setdefault(pt.particles, [])
        if pt.batch_size not in sizes:
            sizes.append(pt.batch_size)
    series: list[Series] = []
    for key, by_particles in groups.items():
        by_sizes: dict[tuple[int, ...], list[str]] = {}
        for particles, sizes in by_particles.items():
            by_sizes.setdefault(tuple(sorted(sizes)), []).append(particles)
        for sizes, particles in by_sizes.items():
            series.append(Series(*key, particles=tuple(particles), batch_sizes=sizes))
    return series


def profile_devices(config: dict[str, Any]) -> list[str]:
    return list(config["profile"]["devices"])


def figure_files(config: dict[str, Any]) -> list[str]:
    return [f"{RESULTS}/figures/{name}.png" for name in FIGURES]


def config_hash(config: dict[str, Any]) -> str:
    """A short, order-independent hash of the study's config (12 hex digits)."""
    import hashlib
    import json

    blob = json.dumps(config, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:12]


def config_problems(config: dict[str, Any], schema_path: str) -> list[str]:
    """Check a study config against its JSON schema; one line per problem.

    Each line names the key (dotted path) and what is wrong, e.g.
    ``train.batch_size: 'x' is not of type 'integer'`` or
    ``profile: unknown key 'foo'``. A config that passes the schema is also checked
    for combinations that cannot run (:func:`pair_problems`).
    """
    import jsonschema
    import yaml

    with open(schema_path) as f:
        schema = yaml.safe_load(f)
    validator = jsonschema.Draft202012Validator(schema)
    lines = []
    for err in sorted(validator.iter_errors(config), key=lambda e: list(map(str, e.path))):
        where = ".".join(str(p) for p in err.absolute_path) or "(top level)"
        if err.validator == "additionalProperties":
            known = set(err.schema.get("properties", {}))
            extra = sorted(set(err.instance) - known)
            lines.append(
                f"{where}: unknown key(s) {', '.join(map(repr, extra))};"
                f" known: {', '.join(sorted(known))}"
            )
        else:
            lines.append(f"{where}: {err.message}")
    if not lines:
        lines += pair_problems(config)
        names = [config["weaver"]["model_name"]] + [m["name"] for m in config["profile"].get("models", [])]
        for i, extra in enumerate(config["profile"].get("models", [])):
            where = f"profile.models[{i}]"
            if names.count(extra["name"]) > 1:
                lines.append(f"{where}.name: {extra['name']!r} names two models "
                             f"(weaver.model_name and profile.models share one namespace)")
            for key in ("network_config", "data_config"):
                if not os.path.isfile(extra[key]):
                    lines.append(f"{where}.{key}: {extra[key]} not found")
    return lines


WEAVER_KEYS = (
    "num_epochs",
    "samples_per_epoch",
    "samples_per_epoch_val",
    "batch_size",
    "start_lr",
    "optimizer",
    "lr_scheduler",
    "fetch_step",
    "num_workers",
    "use_amp",
)


def weaver_config(config: dict[str, Any]) -> dict[str, Any]:
    """The study's ``train`` section as ``jetprof weaver --config-json`` takes it."""
    train = config["train"]
    out = {k: train[k] for k in WEAVER_KEYS if k in train}
    out["batch_size_test"] = train["predict_batch_size"]
    return out


def normalize_cli_flags(config: dict[str, Any]) -> None:
    """Turn ``--config regenerate=true`` (a string or 1 from the command line) into a bool."""
    value = config.get("regenerate")
    if isinstance(value, str) and value.lower() in ("true", "yes", "on", "1", "false", "no", "off", "0"):
        config["regenerate"] = value.lower() in ("true", "yes", "on", "1")
    elif isinstance(value, int) and not isinstance(value, bool) and value in (0, 1):
        config["regenerate"] = bool(value)


# --------------------------------------------------------------------------- config checks


def pair_problems(config: dict[str, Any]) -> list[str]:
    """Backend-precision pairs of ``profile`` that no listed device can run; one line each.

    A pair that runs on some of ``profile.devices`` is kept for those (``eager-fp16`` with
    ``[cpu, cuda:0]`` runs on ``cuda:0`` only); one that runs on none of them would
    silently measure nothing (``eager-fp16`` with only ``cpu``) or fail at run time
    (``onnxruntime-bf16``), so it is refused before any job, with the reason of
    :func:`jetprof.contract.pair_problem` for the first device.
    """
    from jetprof.contract import pair_problem, split_pair

    prof = config["profile"]
    devices = list(prof["devices"])
    lines = []
    for where, pairs in (("profile.backends", prof["backends"]),
                         ("profile.multiplicity.backends", prof["multiplicity"]["backends"])):
        for i, pair in enumerate(pairs):
            try:
                backend, precision = split_pair(pair)
            except ValueError as exc:
                lines.append(f"{where}[{i}]: {exc}")
                continue
            reasons = [pair_problem(backend, precision, d) for d in devices]
            if devices and all(reasons):
                lines.append(f"{where}[{i}]: {reasons[0]}; no device of profile.devices "
                             f"({', '.join(devices)}) can run it")
    return lines


# --------------------------------------------------------------------------- canonical params
#
# Snakemake reruns a job whose params differ from the ones recorded with its outputs, and
# it compares their repr(): a dict in another key order, 1 against 1.0, or a path with a
# trailing slash would rerun the study for nothing. Every param of the dataset, train and
# export rules is built here, from values put in one canonical form.


@functools.lru_cache(maxsize=1)
def _schema() -> dict[str, Any]:
    import yaml

    from jetprof.contract import CONFIG_SCHEMA

    with open(CONFIG_SCHEMA) as f:
        return yaml.safe_load(f)


def _normalize(value: Any, schema: dict[str, Any] | None) -> Any:
    """``value`` with sorted keys, lists for tuples and the schema's number types.

    ``number`` keys become floats (``1`` -> ``1.0``), ``integer`` keys ints (the schema
    accepts ``1.0`` as an integer); keys the schema does not describe keep their type.
    """
    schema = schema if isinstance(schema, dict) else {}
    kind = schema.get("type")
    if isinstance(value, dict):
        props = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        return {str(k): _normalize(value[k], props.get(k, extra))
                for k in sorted(value, key=str)}
    if isinstance(value, (list, tuple)):
        return [_normalize(v, schema.get("items")) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted(_normalize(v, schema.get("items")) for v in value)
    if isinstance(value, bool) or value is None:
        return value
    if kind == "number" and isinstance(value, int):
        return float(value)
    if kind == "integer" and isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    return value


def config_section(config: dict[str, Any], *keys: str) -> Any:
    """A section of the config (``config_section(cfg, "dataset", "generate")``) in canonical
    form: sorted keys and the schema's types, so that equal values give equal params."""
    value: Any = config
    schema: Any = _schema()
    for key in keys:
        value = value[key]
        schema = (schema or {}).get("properties", {}).get(key)
    return _normalize(value, schema)


def canonical_json(value: Any) -> str:
    """Compact JSON with sorted keys: the same value always gives the same text."""
    import json

    return json.dumps(_normalize(value, None), sort_keys=True, separators=(",", ":"))


def generate_settings_json(config: dict[str, Any]) -> str:
    """``dataset.generate`` as the manifest's ``--settings-json``, canonical."""
    return canonical_json(config_section(config, "dataset", "generate"))


def weaver_config_json(config: dict[str, Any]) -> str:
    """:func:`weaver_config` of the canonical ``train`` section, as ``--config-json``."""
    return canonical_json(weaver_config({"train": config_section(config, "train")}))


def training_config_json(config: dict[str, Any]) -> str:
    """The whole ``train`` section, canonical, for the model card's ``--training-config``."""
    return canonical_json(config_section(config, "train"))


def _norm_path(path: str) -> str:
    return os.path.normpath(path) if path else path


def download_flags(config: dict[str, Any]) -> str:
    """The options of ``jetprof download`` for a study, quoted for a shell line.

    Pins are sorted by part, the processes follow JetClass's order and the cache path
    is normalised, so the text changes only when what is downloaded changes.
    """
    import shlex

    from jetprof.data.jetclass import PROCESSES

    ds = config_section(config, "dataset")
    dl = ds["download"]
    args = ["--source", ds["source"]]
    if dl.get("base_url"):
        args += ["--base-url", dl["base_url"].rstrip("/")]
    for part, digest in sorted(dl.get("sha256", {}).items()):
        args += ["--sha256", f"{part}={digest}"]
    args += ["--parts", ",".join(dict.fromkeys(dl["parts"]))]
    wanted = set(ds["processes"])
    args += ["--processes", ",".join(p.file_prefix for p in PROCESSES if p.short in wanted)]
    args += ["--dest", f"{RESULTS}/dataset", "--cache", _norm_path(dl["cache"])]
    return shlex.join(args)


def pretrained_flags(config: dict[str, Any]) -> str:
    """``--url`` (and ``--sha256``, ``--layout``) of ``jetprof fetch-weights``, quoted."""
    import shlex

    pre = config_section(config, "pretrained")
    args = ["--url", pre["url"]]
    if pre.get("sha256"):
        args += ["--sha256", pre["sha256"]]
    args += ["--layout", str(pre["layout"])]
    return shlex.join(args)


def pretrained_inputs(config: dict[str, Any]) -> list[str]:
    """The local checkpoint ``pretrained.url`` names, as an input; none for a URL."""
    from urllib.parse import urlparse

    url = config["pretrained"]["url"]
    return [] if urlparse(url).scheme in ("http", "https", "file") else [url]


# --------------------------------------------------------------------------- declared files


def split_files(config: dict[str, Any], splits: str | tuple[str, ...],
                download_record: str | None = None) -> list[str]:
    """The dataset's ROOT files of one or more splits, as rule inputs.

    Generated data: the files :func:`dataset_files` names. Downloaded data: the files
    the download lists in ``download.json`` (``download_record``; its names are known
    only after the download, so the rule that writes it is a checkpoint).
    """
    import json

    wanted = (splits,) if isinstance(splits, str) else tuple(splits)
    if config["dataset"]["source"] == "generate":
        return [f for f in dataset_files(config) if f.split("/")[-2] in wanted]
    if download_record is None:
        raise ValueError("downloaded data: pass the download record (download.json)")
    with open(download_record) as f:
        listed = json.load(f)["files"]
    root = os.path.dirname(download_record)
    return [f"{root}/{rel}" for split in wanted for rel in listed.get(split, [])]


def weaver_checkpoints(prefix: str, num_epochs: int) -> list[str]:
    """Every file weaver's training writes beside ``<prefix>_best_epoch_state.pt``: each
    epoch's state and optimizer, and the best epoch's optimizer (weaver 0.5.3,
    ``train.py``; ``--auto-clean`` is not used)."""
    files = []
    for epoch in range(int(num_epochs)):
        files += [f"{prefix}_epoch-{epoch}_state.pt", f"{prefix}_epoch-{epoch}_optimizer.pt"]
    return files + [f"{prefix}_best_epoch_optimizer.pt"]


def split_files_input(config: dict[str, Any], splits: tuple[str, ...], checkpoints: Any) -> Any:
    """An input function (``lambda wildcards: [...]``) for the ROOT files of ``splits``.

    Generated files are known from the config; downloaded ones from the record of the
    ``download_dataset`` checkpoint (``checkpoints`` is the Snakefile's object), which
    Snakemake runs first.
    """

    def files(wildcards: Any) -> list[str]:
        if config["dataset"]["source"] == "generate":
            return split_files(config, splits)
        return split_files(config, splits, checkpoints.download_dataset.get().output[0])

    return files
