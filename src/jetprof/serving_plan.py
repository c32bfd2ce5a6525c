"""What a study serves through MLPerf LoadGen (``serving.*``), and what it refuses, from the config.

One ``jetprof serve`` job per (model, device, rung, scenario): every trained model
(:func:`jetprof.contract.trained_models`) with its trained weights, each rung of
``serving.backends`` that the profile measures for that model, on each device of
``profile.devices`` that runs the rung, in each scenario of ``serving.scenarios``.
``workflow/rules/serving.smk`` asks these functions and nothing else.
"""

from __future__ import annotations

import importlib.util
import shlex
from collections.abc import Mapping

from jetprof.contract import RESULTS, split_pair, trained_models
from jetprof.registry import pair_problem
from jetprof.study_config import StudyConfig

#: a ``serving`` section (the config's, under the schema's defaults: :func:`section`)
Config = Mapping[str, object]

SERVING = f"{RESULTS}/serving"
SUMMARY_CSV = f"{RESULTS}/summary/serving.csv"


def _at(config: object, *keys: str) -> object:
    """``config[k1][k2]...``; an absent key is None."""
    for key in keys:
        config = config.get(key) if isinstance(config, Mapping) else None
    return config


def _strs(value: object) -> list[str]:
    return [str(v) for v in value] if isinstance(value, (list, tuple)) else []


def section(config: StudyConfig, defaults: Config) -> Config:
    """``serving`` with the schema's defaults (``defaults``: jetprof.config.schema_defaults("serving"))
    under what the config gives."""
    given = _at(config, "serving")
    return {**defaults, **(given if isinstance(given, Mapping) else {})}


def profiled_pairs(config: StudyConfig, model: str) -> list[str]:
    """The backend-precision pairs the profile measures ``model`` at."""
    own = _strs(_at(config, "profile", "backends"))
    models = _at(config, "profile", "models")
    for m in models if isinstance(models, list) else []:
        if _at(m, "name") == model and model != _at(config, "weaver", "model_name"):
            return _strs(_at(m, "backends")) or own
    return own


def jobs(config: StudyConfig, serving: Config) -> list[tuple[str, str, str, str, str]]:
    """(model, device, backend, precision, scenario) of every serving job."""
    out = []
    for model in trained_models(config):
        for pair in _strs(serving["backends"]):
            if pair not in profiled_pairs(config, model):
                continue
            backend, precision = split_pair(pair)
            for device in _strs(_at(config, "profile", "devices")):
                if pair_problem(backend, precision, device) is None:
                    out += [(model, device, backend, precision, s) for s in _strs(serving["scenarios"])]
    return out


def run_dir(model: str, device: str, backend: str, precision: str, scenario: str) -> str:
    return f"{SERVING}/{model}/{device}/{backend}-{precision}/{scenario}"


def records(config: StudyConfig, serving: Config) -> list[str]:
    return [f"{run_dir(*job)}/record.json" for job in jobs(config, serving)]


#: where the serving records lie (regenerating reads whichever are there)
RECORD_GLOB = f"{SERVING}/*/*/*-*/*/record.json"


def records_on_disk() -> list[str]:
    """The serving records under results/serving/ (regenerating: those copied in)."""
    import glob

    return sorted(glob.glob(RECORD_GLOB))


def serves(config: StudyConfig) -> bool:
    """Whether the serving table, its figure and the findings' serving line are made: where the
    study serves (serving.scenarios), and regenerating, where serving records were copied in."""
    if _at(config, "regenerate"):
        return bool(records_on_disk())
    return bool(_at(config, "serving", "scenarios"))


def serving_summary(config: StudyConfig) -> list[str]:
    """results/summary/serving.csv where it is made (:func:`serves`), else nothing."""
    return [SUMMARY_CSV] if serves(config) else []


def serving_records(config: StudyConfig, serving: Config) -> list[str]:
    """The records summarize_serving reads: the study's runs, or regenerating, those on disk
    (LoadGen never runs then)."""
    return records_on_disk() if _at(config, "regenerate") else records(config, serving)


def problems(config: StudyConfig, serving: Config) -> list[str]:
    """Why the serving section cannot run as given, one line each (none when it is off).

    A rung the profile does not measure for the main model, one no device of
    profile.devices runs, and LoadGen missing (Linux aarch64 has no wheel: the profile
    env does not bring it there either) are refused before any job.
    """
    if not serving["scenarios"]:
        return []
    lines = []
    main = str(_at(config, "weaver", "model_name"))
    devices = _strs(_at(config, "profile", "devices"))
    for i, pair in enumerate(_strs(serving["backends"])):
        where = f"serving.backends[{i}]"
        try:
            backend, precision = split_pair(pair)
        except ValueError as exc:
            lines.append(f"{where}: {exc}")
            continue
        if pair not in profiled_pairs(config, main):
            lines.append(f"{where}: {pair} is not a rung the profile measures for {main} "
                         f"(profile.backends: {', '.join(profiled_pairs(config, main))}); add it there first")
        elif devices and all(pair_problem(backend, precision, d) for d in devices):
            reason = pair_problem(backend, precision, devices[0])
            lines.append(f"{where}: {reason}; no device of profile.devices can serve it")
    if importlib.util.find_spec("mlperf_loadgen") is None:
        lines.append("serving.scenarios: MLPerf LoadGen (mlcommons-loadgen) is not installed here: pip install "
                     "'mlcommons-loadgen==6.0.17' (no release has Linux aarch64 wheels: leave serving.scenarios "
                     "empty there)")
    return lines


def flags(config: StudyConfig, serving: Config, model: str, backend: str, precision: str,
          device: str, scenario: str) -> str:
    """The options of ``jetprof serve`` for one job, shell-quoted (the files come from the rule)."""
    args = ["--model", model, "--weights", "trained", "--backend", backend, "--precision", precision,
            "--device", device, "--scenario", scenario, "--jets", str(serving["jets"]),
            "--threads", str(_at(config, "profile", "threads")), "--max-batch", str(serving["max_batch"]),
            "--max-queue-delay-ms", str(float(str(serving["max_queue_delay_ms"]))),
            "--latency-bound-ms", str(float(str(serving["latency_bound_ms"]))),
            "--server-steps", str(serving["server_steps"])]
    if serving["min_duration_s"]:  # 0: LoadGen's own
        args += ["--min-duration-s", str(float(str(serving["min_duration_s"])))]
    if serving["min_query_count"]:
        args += ["--min-query-count", str(serving["min_query_count"])]
    return shlex.join(args)
