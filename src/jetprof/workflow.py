"""Target lists for the Snakemake workflow, computed from the config.

``workflow/rules/common.smk`` calls these functions and nothing else holds
logic about which files a study makes, so pytest can check them directly.
"""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Callable, MutableMapping, Sequence
from typing import Any

from jetprof import jobfile, serving_plan
from jetprof.config import WEAVER_KEYS, config_problems, load_schema, pair_problems  # noqa: F401 (the Snakefile's checks)
from jetprof.contract import (
    ENV_COMPARE_THRESHOLD,
    ENV_CONFIG_HASH,
    FIGURES,
    RESULTS,
    Job,
    checkpoint_path,
    metrics_path,
    study_groups,
    study_points,
    study_weights,
    trained_models,
)
from jetprof.data.jetclass import SPLITS, process
from jetprof.jobfile import JobSettings, ProfileJob, Quality, VariantSpec
from jetprof.registry import FIGURES as FIGURE_ENTRIES
from jetprof.registry import entry_configs
from jetprof.serving_plan import serves, serving_summary  # noqa: F401 (serving_summary: the rules')
from jetprof.study_config import StudyConfig, TrainConfig

#: a figure rule's named inputs (:func:`figure_inputs`): one file, or a list of them
FigureInputs = dict[str, str | list[str]]
#: a Snakemake input function: the files a rule reads, from its wildcards (Snakemake's object)
InputFunction = Callable[[Any], list[str]]


def put_this_python_first_on_path() -> None:
    """Put the folder of the running Python (its ``jetprof``, ``snakemake``) first on PATH.

    Jobs inherit it: a venv's tools are found without activating the venv.
    """
    here = os.path.dirname(sys.executable)
    if os.environ.get("PATH", "").split(os.pathsep)[:1] != [here]:
        os.environ["PATH"] = os.pathsep.join([here, os.environ.get("PATH", "")])


def dataset_files(config: StudyConfig) -> list[str]:
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


def generator_problem(config: StudyConfig, conda: bool) -> str | None:
    """Why the jets cannot be generated with this Python, in one line; None when they can.

    None as well when the jets are not generated, when every file is already there (copied
    from another machine, say), or when the rules run in their conda envs (the data env
    brings conda-forge's pythia8).
    """
    if config["dataset"]["source"] != "generate" or conda:
        return None
    if all(os.path.exists(f) for f in dataset_files(config)):
        return None
    from jetprof.data.generate import NO_GENERATOR, pythia_module_name

    return None if pythia_module_name() else NO_GENERATOR


def split_glob(split: str) -> str:
    """The glob weaver and the profiler read a split with."""
    return f"{RESULTS}/dataset/{split}/*.root"


def profile_records(config: StudyConfig) -> list[str]:
    """Every record the study writes (one per point of every comparison group)."""
    return [p.record for p in study_points(config)]


def group_files(config: StudyConfig) -> list[str]:
    """Every comparison group's rounds file."""
    return [g.path for g in study_groups(config)]


def profile_models(config: StudyConfig) -> dict[str, tuple[str, str]]:
    """Model name -> (weaver network config, data config): the trained model first, then
    ``profile.models``."""
    weaver = config["weaver"]
    models = {weaver["model_name"]: (weaver["network_config"], weaver["data_config"])}
    for extra in config["profile"].get("models", []):
        models.setdefault(extra["name"], entry_configs(extra))
    return models


def checkpoint_of(config: StudyConfig, weights: str, model: str | None = None) -> str | None:
    """The checkpoint a weight state of ``model`` (default the main one) loads (None for
    random weights)."""
    model = model or config["weaver"]["model_name"]
    if weights == "trained":
        return checkpoint_path(model)
    if weights == "pretrained":
        return f"{RESULTS}/pretrained/{model}.pt"
    return None


def job_checkpoints(config: StudyConfig, job: Job) -> dict[tuple[str, str], str]:
    """(model, weight state) -> checkpoint, for the states a profile job measures."""
    out: dict[tuple[str, str], str] = {}
    for v in job.variants:
        path = checkpoint_of(config, v.weights, v.model)
        if path:
            out[(v.model, v.weights)] = path
    return out


def trained_inputs(config: StudyConfig) -> dict[str, tuple[str, str]]:
    """Model -> (network config, data config), for the models the study trains."""
    models = profile_models(config)
    return {m: models[m] for m in trained_models(config)}


def metrics_files(config: StudyConfig) -> list[str]:
    """Every trained model's evaluation on the test split, the main model's first."""
    return [metrics_path(m) for m in trained_models(config)]


def metrics_flags(files: list[str]) -> str:
    """``--metrics MODEL=PATH`` for each ``results/evaluate/<model>/metrics.json``."""
    return " ".join(f"--metrics {shlex.quote(f'{os.path.basename(os.path.dirname(f))}={f}')}" for f in files)


def job_inputs(config: StudyConfig, job: Job, checkpoints: Any = None) -> dict[str, str | InputFunction]:
    """Named inputs of a profile job: the models' configs, checkpoints, and for real jets
    the validation report and the validation split's files (``checkpoints``: the
    Snakefile's object, for downloaded data)."""
    models = profile_models(config)
    inputs: dict[str, str | InputFunction] = {}
    for i, name in enumerate(job.models):
        inputs[f"network_config_{i}"], inputs[f"data_config_{i}"] = models[name]
    for (model, weights), path in job_checkpoints(config, job).items():
        inputs[f"checkpoint_{model}_{weights}"] = path
    if job.reads_real_jets:
        inputs["validated"] = f"{RESULTS}/validate/report.json"
        inputs["data"] = split_files_input(config, ("val",), checkpoints)
    if job_scores_quality(job):
        inputs["validated"] = f"{RESULTS}/validate/report.json"
        inputs["quality_data"] = split_files_input(config, ("test",), checkpoints)
    return inputs


def job_scores_quality(job: Job) -> bool:
    """Whether a job's variants are scored against eager fp32 on the test jets: a job on
    real jets (the main grid: the multiplicity curve's synthetic groups would score the
    same variants at the same batch size again) with a backend or precision other than
    eager fp32 and trained or pretrained weights (random weights' AUC means nothing)."""
    return job.reads_real_jets and any(
        (v.backend, v.precision) != ("eager", "fp32") and v.weights != "random" for v in job.variants)


def profile_job(config: StudyConfig, job: Job) -> ProfileJob:
    """The document a profile job measures (``jetprof profile --job FILE``): its variants with
    the files each is built from, its inputs and settings, every number in the schema's type
    (so an equal config gives an equal document: no rerun).

    It holds what the job measures and nothing else: the config hash and the comparison
    threshold are left to the environment (:func:`job_environment`), so a change to a
    comparison-only key, the study's name or another device's grid re-plans no group.
    """
    prof = config_section(config, "profile")
    models = profile_models(config)
    variants = tuple(VariantSpec(v.model, v.weights, v.backend, v.precision, *models[v.model],
                                 checkpoint=checkpoint_of(config, v.weights, v.model), replica=v.replica,
                                 batch_sizes=job.batch_sizes_of(v.model))
                     for v in job.variants if job.batch_sizes_of(v.model) != ())
    quality = Quality((split_glob("test"),), prof["quality_jets"]) if job_scores_quality(job) else None
    settings = JobSettings(
        threads=prof["threads"], warmup=prof["warmup"], rounds=prof["rounds"], max_rounds=prof["max_rounds"],
        max_group_s=prof["max_group_s"], processes=prof["processes"], max_processes=prof["max_processes"],
        clock=prof["clock"], target_half_width=config_section(config, "profile", "compare")["target_half_width"],
        flush_denormal=prof["flush_denormal"],
        profiler_pass=prof["profiler_pass"], data=(split_glob("val"),) if job.reads_real_jets else (),
        quality=quality, retries=prof["retries"], timeout_s=prof["timeout_s"])
    particles = tuple(p if p == "real" else int(p) for p in job.particles)
    return ProfileJob(job.device, variants, particles, job.batch_sizes, out=RESULTS, settings=settings)


def profile_job_json(config: StudyConfig, job: Job) -> str:
    """:func:`profile_job` as the text the rule writes to its job file (and keeps as a param)."""
    return jobfile.to_json(profile_job(config, job))


def profile_job_file(job: Job) -> str:
    """Where a profile job's document is written: beside its log."""
    return f"{RESULTS}/logs/profile/{job.name}.job.json"


def job_environment(config: StudyConfig) -> dict[str, str]:
    """What every job reads from its environment (``contract.ENV_*``): set by the Snakefile."""
    return {ENV_CONFIG_HASH: config_hash(config),
            ENV_COMPARE_THRESHOLD: str(config_section(config, "profile", "compare")["threshold"])}


def job_outputs(job: Job) -> list[str]:
    """A profile job's records, their per-op tables and traces (with the profiler pass),
    and its groups' rounds files."""
    return job.records + job.group_files


def job_side_files(job: Job, profiler_pass: bool) -> list[str]:
    """The per-op table and trace beside each record (written with the profiler pass)."""
    if not profiler_pass:
        return []
    return [r[: -len(".json")] + ext for r in job.records for ext in (".ops.csv", ".trace.json.gz")]


def invalid_records(config: StudyConfig) -> list[tuple[str, str]]:
    """(path, problem) of each existing record of the study that does not validate
    (a truncated file, say): the workflow treats it as missing and measures it again."""
    import json

    from jetprof.errors import JetprofError
    from jetprof.records import validate_record

    bad = []
    for path in profile_records(config):
        if not os.path.exists(path):
            continue
        try:
            with open(path) as f:
                validate_record(json.load(f), path)
        except JetprofError as exc:  # names the file already
            bad.append((path, str(exc).splitlines()[0][:300]))
        except (OSError, ValueError) as exc:
            bad.append((path, f"{path}: not a valid record ({str(exc).splitlines()[0][:200]})"))
    return bad


def gpu_model(config: StudyConfig, device: str) -> str:
    """The ``gpu_model`` resource of a measuring job: profile.gpu_model on cuda, else none."""
    return config["profile"].get("gpu_model", "") if device.startswith("cuda") else ""


def set_aside_invalid_records(config: StudyConfig, dry_run: bool) -> list[str]:
    """Rename each existing record that does not validate to ``*.json.invalid`` (unless
    ``dry_run``), so that the workflow sees it missing and measures its group again;
    one message per record."""
    messages = []
    for path, problem in invalid_records(config):
        if not dry_run:
            os.replace(path, path + ".invalid")
        messages.append(f"{problem}; {'would be' if dry_run else 'set aside as ' + path + '.invalid and'} "
                        "measured again")
    return messages


def profile_devices(config: StudyConfig) -> list[str]:
    return list(config["profile"]["devices"])


#: each figure's report category (jetprof.registry.FIGURES)
FIGURE_CATEGORY = {f.name: f.category for f in FIGURE_ENTRIES.values()}
_TABLE = f"{RESULTS}/summary/points.csv"
_COMPARISONS = f"{RESULTS}/summary/comparisons.csv"


def summary_files() -> list[str]:
    """The summary's tables and answers that the report shows (the default target and the
    ``figures`` target both ask for them)."""
    return [_TABLE, f"{RESULTS}/summary/points.md", f"{RESULTS}/summary/models.csv",
            f"{RESULTS}/summary/models.md", _COMPARISONS, f"{RESULTS}/summary/weights_answer.json",
            f"{RESULTS}/summary/weights_answer.md", f"{RESULTS}/summary/deployment.md",
            f"{RESULTS}/summary/node.csv", f"{RESULTS}/summary/cost.csv", f"{RESULTS}/summary/cost.md",
            f"{RESULTS}/summary/findings.md"]


def figure_inputs(config: StudyConfig, name: str, records: list[str], peaks: list[str]) -> FigureInputs:
    """What figure ``name`` is drawn from (named inputs of its rule): every file its kind
    (jetprof.registry.FIGURE_KINDS) reads."""
    kind = FIGURE_ENTRIES[name].kind
    if kind == "metrics":
        return {"metrics": metrics_path(config["weaver"]["model_name"])}
    if kind == "comparisons":
        return {"comparisons": _COMPARISONS}
    if kind == "deployment":
        return {"deployment": f"{RESULTS}/summary/deployment.json"}
    if kind == "models":
        return {"models": f"{RESULTS}/summary/models.csv"}
    if kind == "node":
        return {"node": f"{RESULTS}/summary/node.csv"}
    if kind == "serving":
        return {"serving": serving_plan.SUMMARY_CSV}
    if kind == "records":  # reads the records and their per-op tables
        measured_here = config["profile"]["profiler_pass"] and not config.get("regenerate")
        ops = [r[: -len(".json")] + ".ops.csv" for r in records] if measured_here else []
        return {"table": _TABLE, "records": records, "ops": ops}
    if kind == "roofline":
        return {"table": _TABLE, "peaks": peaks}
    return {"table": _TABLE}


def _one_file(inputs: FigureInputs, key: str) -> str:
    value = inputs[key]
    if not isinstance(value, str):
        raise TypeError(f"figure input {key!r}: one file expected, not {value!r}")
    return value


def figure_command(config: StudyConfig, name: str, inputs: FigureInputs, log: str) -> str:
    """``jetprof plot`` for one figure, saying explicitly what it shows (no guessing):
    the trained model, the weight state and inputs of the main grid, the multiplicity
    curve's weights and batch size. Every path shell-quoted."""
    prof = config["profile"]
    model = config["weaver"]["model_name"]
    weights = study_weights(config)
    main_weights = "trained" if "trained" in weights else weights[0]
    particles = "real" if "real" in prof["particles"] else str(prof["particles"][0])
    kind = FIGURE_ENTRIES[name].kind
    args = ["jetprof", "--log", log, "plot", name, "--out", f"{RESULTS}/figures/{name}.png"]
    given = {"metrics": "metrics", "comparisons": "comparisons", "deployment": "deployment", "models": "models",
             "node": "node",
             "serving": "serving"}
    if kind in given:
        args += [f"--{given[kind]}", _one_file(inputs, given[kind])]
    else:
        args += ["--table", _one_file(inputs, "table")]
    if kind in ("batch", "roofline", "records"):
        args += ["--model", model, "--weights", main_weights, "--particles", particles]
    if kind == "records":
        args += ["--records-dir", f"{RESULTS}/profile"]
    if kind == "roofline":
        for peak in inputs["peaks"]:
            args += ["--peak", peak]
    if kind == "multiplicity":
        mult = prof["multiplicity"]
        mult_weights = mult["weights"] if mult["weights"] in weights or mult["weights"] == "random" else "trained"
        args += ["--model", model, "--weights", mult_weights, "--batch-size", str(mult["batch_size"])]
    if kind == "models_table":
        args += ["--particles", particles]
    return " ".join(shlex.quote(a) for a in args)


def skipped_figures(config: StudyConfig) -> dict[str, str]:
    """Regenerating: the figures whose inputs were not copied, each with the file it lacks.

    The README says to copy results/profile/ and results/paired/; the training figures also
    read results/evaluate/MODEL/metrics.json, and are left out (with a line saying what to
    copy for them) when it is not there. Nothing is left out of a normal run.
    """
    if not config.get("regenerate"):
        return {}
    metrics = metrics_path(config["weaver"]["model_name"])
    return {name: metrics for name in FIGURES
            if FIGURE_ENTRIES[name].kind == "metrics" and not os.path.isfile(metrics)}


def regenerate_notes(config: StudyConfig) -> list[str]:
    """One line per group of figures left out while regenerating, saying what to copy for them."""
    skipped = skipped_figures(config)
    missing = sorted(set(skipped.values()))
    notes = [f"regenerating without {path}: {', '.join(n for n, p in skipped.items() if p == path)} left out "
             f"(copy {os.path.dirname(os.path.dirname(path))}/ from the run to draw them)" for path in missing]
    if config.get("regenerate") and not serves(config):
        served = ", ".join(n for n in FIGURES if FIGURE_ENTRIES[n].kind == "serving")
        notes.append(f"regenerating without a serving record ({serving_plan.RECORD_GLOB}): {served} and "
                     f"{serving_plan.SUMMARY_CSV} left out (copy {serving_plan.SERVING}/ from the run to draw them)")
    return notes


def figure_files(config: StudyConfig) -> list[str]:
    skipped = skipped_figures(config)
    serving = serves(config)
    return [f"{RESULTS}/figures/{name}.png" for name in FIGURES
            if name not in skipped and (serving or FIGURE_ENTRIES[name].kind != "serving")]


def config_files_label(files: Sequence[object]) -> str:
    """The config files a run read, once each, relative to here when below it."""
    shown = []
    for f in files:
        rel = os.path.relpath(os.path.abspath(str(f)))
        shown.append(str(f) if rel.startswith("..") else rel)
    return ", ".join(dict.fromkeys(shown)) or "config"


def config_hash(config: StudyConfig) -> str:
    """A short, order-independent hash of the study's config (12 hex digits)."""
    import hashlib
    import json

    blob = json.dumps(config, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:12]


def weaver_config(config: StudyConfig) -> dict[str, object]:
    """The study's ``train`` section as ``jetprof weaver --config-json`` takes it."""
    return weaver_flags(config["train"])


def weaver_flags(train: TrainConfig) -> dict[str, object]:
    """A ``train`` section's weaver settings (:data:`jetprof.config.WEAVER_KEYS`) and the
    prediction's batch size, as ``jetprof weaver --config-json`` takes them."""
    out: dict[str, object] = {k: train[k] for k in WEAVER_KEYS if k in train}
    out["batch_size_test"] = train["predict_batch_size"]
    return out


def normalize_cli_flags(config: MutableMapping[str, object]) -> None:
    """Turn ``--config regenerate=true`` (a string or 1 from the command line) into a bool.

    It runs on the config as given, before the schema is checked (a raw config)."""
    value = config.get("regenerate")
    if isinstance(value, str) and value.lower() in ("true", "yes", "on", "1", "false", "no", "off", "0"):
        config["regenerate"] = value.lower() in ("true", "yes", "on", "1")
    elif isinstance(value, int) and not isinstance(value, bool) and value in (0, 1):
        config["regenerate"] = bool(value)


# --------------------------------------------------------------------------- canonical params
#
# Snakemake reruns a job whose params differ from the ones recorded with its outputs, and
# it compares their repr(): a dict in another key order, 1 against 1.0, or a path with a
# trailing slash would rerun the study for nothing. Every param of the dataset, train and
# export rules is built here, from values put in one canonical form.


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


def config_section(config: StudyConfig, *keys: str) -> Any:
    """A section of the config (``config_section(cfg, "dataset", "generate")``) in canonical
    form: sorted keys and the schema's types, so that equal values give equal params."""
    value: Any = config
    schema: Any = load_schema()
    for key in keys:
        value = value[key]
        schema = (schema or {}).get("properties", {}).get(key)
    return _normalize(value, schema)


def canonical_json(value: Any) -> str:
    """Compact JSON with sorted keys: the same value always gives the same text."""
    import json

    return json.dumps(_normalize(value, None), sort_keys=True, separators=(",", ":"))


def generate_settings_json(config: StudyConfig) -> str:
    """``dataset.generate`` as the manifest's ``--settings-json``, canonical."""
    return canonical_json(config_section(config, "dataset", "generate"))


def weaver_config_json(config: StudyConfig) -> str:
    """:func:`weaver_config` of the canonical ``train`` section, as ``--config-json``."""
    return canonical_json(weaver_flags(config_section(config, "train")))


def training_config_json(config: StudyConfig) -> str:
    """The whole ``train`` section, canonical, for the model card's ``--training-config``."""
    return canonical_json(config_section(config, "train"))


def _norm_path(path: str) -> str:
    return os.path.normpath(path) if path else path


def download_flags(config: StudyConfig) -> str:
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


def pretrained_flags(config: StudyConfig) -> str:
    """``--url`` (and ``--sha256``, ``--layout``) of ``jetprof fetch-weights``, quoted."""
    import shlex

    pre = config_section(config, "pretrained")
    args = ["--url", pre["url"]]
    if pre.get("sha256"):
        args += ["--sha256", pre["sha256"]]
    args += ["--layout", str(pre["layout"])]
    return shlex.join(args)


def pretrained_inputs(config: StudyConfig) -> list[str]:
    """The local checkpoint ``pretrained.url`` names, as an input; none for a URL."""
    from urllib.parse import urlparse

    url = config["pretrained"]["url"]
    return [] if urlparse(url).scheme in ("http", "https", "file") else [url]


# --------------------------------------------------------------------------- declared files


def split_files(config: StudyConfig, splits: str | tuple[str, ...],
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
    return [*files, f"{prefix}_best_epoch_optimizer.pt"]


def split_files_input(config: StudyConfig, splits: tuple[str, ...], checkpoints: Any) -> InputFunction:
    """An input function (``lambda wildcards: [...]``) for the ROOT files of ``splits``.

    Generated files are known from the config; downloaded ones from the record of the
    ``download_dataset`` checkpoint (``checkpoints`` is the Snakefile's object), which
    Snakemake runs first.
    """

    def files(wildcards: object) -> list[str]:
        if config["dataset"]["source"] == "generate":
            return split_files(config, splits)
        return split_files(config, splits, checkpoints.download_dataset.get().output[0])

    return files
