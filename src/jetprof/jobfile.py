"""A profile job as data: the one document ``jetprof profile --job FILE`` measures.

The workflow writes each profile job's document (:class:`ProfileJob`) to
``results/logs/profile/<job>.job.json`` and runs ``jetprof profile --job FILE``; the
hand-typed flags of ``jetprof profile`` build the same document (``--print-job`` shows
it). Nothing is encoded into flags and parsed back: the document lists every variant
with the files it is built from, the inputs and the settings, and ``jetprof profile``
makes its comparison groups from it alone.

Its JSON is the dataclasses' own fields (:func:`to_json`); :func:`from_json` refuses an
unknown key, a missing one or a bad value in one line naming the file and the key. Paths
(configs, checkpoints, data globs, ``out``) are as written: relative ones are taken from
the folder the job runs in (the workflow's is the repository root).
Two settings may be left ``null``: ``config_hash`` and ``threshold`` are then read
from the environment (``contract.ENV_CONFIG_HASH``, ``ENV_COMPARE_THRESHOLD``), which
the workflow sets, so that changing them re-plans no job (``threshold``: else the
schema's). The config schema holds every default of a setting that mirrors a config key
(``tests/test_config.py``).
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import types
import typing
from dataclasses import dataclass, field
from typing import Any, Union

from jetprof.config import study_defaults
from jetprof.contract import (
    DEVICE_PATTERN,
    ENV_COMPARE_THRESHOLD,
    ENV_CONFIG_HASH,
    WEIGHTS,
    Variant,
    split_pair,
)
from jetprof.errors import JetprofError

#: the version of the document this jetprof writes and reads
VERSION = 1
_PROFILE = study_defaults()["profile"]
_COMPARE = _PROFILE["compare"]
#: the A/A control when the flags do not say (the variants of a document say it themselves)
DEFAULT_CONTROL: bool = _COMPARE["control"]
#: the stopping threshold when neither the document nor the environment gives one
DEFAULT_THRESHOLD: float = float(_COMPARE["threshold"])
DEFAULT_QUALITY_JETS: int = _PROFILE["quality_jets"]
#: the clocks a job may judge on (``auto``: CPU time for CPU groups at one thread, else wall time)
CLOCKS: tuple[str, ...] = ("auto", "wall", "cpu")


@dataclass(frozen=True)
class VariantSpec:
    """One variant of a job, and the files it is built from (``checkpoint``: None for
    random weights; ``replica`` 1: the A/A control's second instance)."""

    model: str
    weights: str
    backend: str
    precision: str
    network_config: str
    data_config: str
    checkpoint: str | None = None
    replica: int = 0
    #: the job's batch sizes this variant runs at, where it runs at only some (None: all)
    batch_sizes: tuple[int, ...] | None = None

    @property
    def variant(self) -> Variant:
        return Variant(self.model, self.weights, self.backend, self.precision, self.replica)

    @property
    def label(self) -> str:
        return self.variant.label


@dataclass(frozen=True)
class Quality:
    """Labelled test jets (globs of ROOT files) every point is scored on after its timed
    rounds, against eager fp32 with the same weights: the first ``jets`` of them."""

    data: tuple[str, ...]
    jets: int = DEFAULT_QUALITY_JETS


@dataclass(frozen=True)
class JobSettings:
    """How a job measures: the defaults are the config schema's ``profile.*``."""

    threads: int = _PROFILE["threads"]
    warmup: int = _PROFILE["warmup"]
    rounds: int = _PROFILE["rounds"]
    max_rounds: int = _PROFILE["max_rounds"]
    max_group_s: float = float(_PROFILE["max_group_s"])
    processes: int = _PROFILE["processes"]
    max_processes: int = _PROFILE["max_processes"]
    clock: str = _PROFILE["clock"]
    target_half_width: float = float(_COMPARE["target_half_width"])
    #: None: $JETPROF_COMPARE_THRESHOLD, else the schema's profile.compare.threshold
    threshold: float | None = None
    flush_denormal: bool = _PROFILE["flush_denormal"]
    profiler_pass: bool = _PROFILE["profiler_pass"]
    profiler_calls: int = 1
    seed: int = 0
    #: None: $JETPROF_CONFIG_HASH (recorded in each record's environment block)
    config_hash: str | None = None
    #: globs of the ROOT files whose jets the ``real`` groups measure
    data: tuple[str, ...] = ()
    quality: Quality | None = None
    retries: int = _PROFILE["retries"]
    timeout_s: float = float(_PROFILE["timeout_s"])

    def resolved_threshold(self) -> float:
        """The stopping threshold: the document's, else the environment's, else the schema's."""
        if self.threshold is not None:
            return self.threshold
        text = os.environ.get(ENV_COMPARE_THRESHOLD)
        if not text:
            return DEFAULT_THRESHOLD
        try:
            return float(text)
        except ValueError:
            raise JetprofError(f"${ENV_COMPARE_THRESHOLD}={text!r}: not a number") from None

    def resolved_config_hash(self) -> str | None:
        return self.config_hash if self.config_hash is not None else os.environ.get(ENV_CONFIG_HASH)


@dataclass(frozen=True)
class ProfileJob:
    """The groups one ``jetprof profile`` call measures: on one device, the same variants
    at every (particles, batch size) of the product; records and rounds under ``out``."""

    device: str
    variants: tuple[VariantSpec, ...]
    particles: tuple[int | str, ...]
    batch_sizes: tuple[int, ...]
    out: str = "results"
    settings: JobSettings = field(default_factory=JobSettings)
    version: int = VERSION


# --------------------------------------------------------------------------- JSON


def to_json(job: ProfileJob) -> str:
    """The document as JSON text, ``version`` first, then the keys in field order: an equal
    job gives equal text."""
    doc = dataclasses.asdict(job)
    for v in doc["variants"]:  # written only where a variant runs at some batch sizes only, so a
        if v["batch_sizes"] is None:  # study that limits none writes the documents it always did
            del v["batch_sizes"]
    return json.dumps({"version": doc.pop("version"), **doc}, indent=1) + "\n"


def from_json(text: str, source: str) -> ProfileJob:
    """The job a document holds, checked (:func:`check`).

    Raises:
        JetprofError: one line naming ``source`` and the key or value at fault.
    """
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise JetprofError(f"{source}: not JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise JetprofError(f"{source}: not a jetprof profile job (a JSON object with a 'version')")
    if "version" not in doc:
        raise JetprofError(f"{source}: no 'version': not a jetprof profile job document")
    if doc["version"] != VERSION:
        raise JetprofError(f"{source}: version {doc['version']!r}; this jetprof reads version {VERSION} "
                           "(write the job again with this jetprof: jetprof profile ... --print-job)")
    job = _decode(doc, ProfileJob, "", source)
    check(job, lambda key: f"{source}: {key}")
    return job


_HINTS: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    if cls not in _HINTS:
        _HINTS[cls] = typing.get_type_hints(cls)
    return _HINTS[cls]


def _decode(value: Any, hint: Any, where: str, source: str) -> Any:
    """``value`` (parsed JSON) as type ``hint``; JetprofError naming ``where`` otherwise."""
    def bad(what: str) -> JetprofError:
        return JetprofError(f"{source}: {where or '(top level)'}: {json.dumps(value)[:80]} is not {what}")

    origin = typing.get_origin(hint)
    if origin in (Union, types.UnionType):
        options = typing.get_args(hint)
        if value is None and type(None) in options:
            return None
        for option in (o for o in options if o is not type(None)):
            try:
                return _decode(value, option, where, source)
            except JetprofError:
                continue
        raise bad(" or ".join(_kind(o) for o in options))
    if dataclasses.is_dataclass(hint):
        if not isinstance(value, dict):
            raise bad("an object")
        cls = typing.cast(type, hint)
        names = [f.name for f in dataclasses.fields(cls)]
        unknown = [k for k in value if k not in names]
        if unknown:
            raise JetprofError(f"{source}: unknown key {unknown[0]!r} in {where or 'the job'} "
                               f"(known: {', '.join(names)})")
        required = [f.name for f in dataclasses.fields(cls)
                    if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
        missing = [k for k in required if k not in value]
        if missing:
            raise JetprofError(f"{source}: {where or 'the job'} has no {missing[0]!r}")
        hints = _hints(cls)
        return cls(**{k: _decode(v, hints[k], f"{where}.{k}" if where else k, source) for k, v in value.items()})
    if origin is tuple:
        if not isinstance(value, list):
            raise bad("a list")
        (item, _) = typing.get_args(hint)
        return tuple(_decode(v, item, f"{where}[{i}]", source) for i, v in enumerate(value))
    if hint is bool:
        if not isinstance(value, bool):
            raise bad("true or false")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad("an integer")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise bad("a number")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise bad("a string")
        return value
    raise TypeError(f"{hint!r}: no JSON decoding for this type")  # a field type this module does not know


def _kind(hint: Any) -> str:
    return {int: "an integer", float: "a number", str: "a string", bool: "true or false",
            type(None): "null"}.get(hint, "a " + getattr(hint, "__name__", str(hint)))


# --------------------------------------------------------------------------- values


def check(job: ProfileJob, where: typing.Callable[[str], str]) -> None:
    """Refuse a value no job can have, in one line: ``where(key)`` names the key (the
    document's ``settings.rounds``, or the flag ``--rounds``). What depends on this host
    (files, the device, installed packages) is checked where the job runs.

    Raises:
        JetprofError: the first bad value.
    """
    if not re.fullmatch(DEVICE_PATTERN, job.device):
        raise JetprofError(f"{where('device')} {job.device!r}: not a device (cpu, cuda, cuda:N or mps)")
    _check_axes(job, where)
    _check_variants(job, where)
    _check_settings(job.settings, where)


def _check_axes(job: ProfileJob, where: typing.Callable[[str], str]) -> None:
    if not job.particles:
        raise JetprofError(f"{where('particles')}: give 'real', N or a list of them")
    for n in job.particles:
        if n != "real" and not (isinstance(n, int) and 1 <= n <= 128):
            raise JetprofError(f"{where('particles')} {n!r}: 'real' or an integer between 1 and 128")
    if len(set(job.particles)) != len(job.particles):
        raise JetprofError(f"{where('particles')}: {list(job.particles)} names one twice")
    if not job.batch_sizes or any(b <= 0 for b in job.batch_sizes):
        raise JetprofError(f"{where('batch_sizes')} {list(job.batch_sizes)}: batch sizes must be positive integers")
    if len(set(job.batch_sizes)) != len(job.batch_sizes):
        raise JetprofError(f"{where('batch_sizes')}: {list(job.batch_sizes)} names one twice")
    if "real" in job.particles and not job.settings.data:
        raise JetprofError(f"{where('settings.data')}: particles 'real' needs the globs of ROOT files "
                           "(e.g. 'results/dataset/val/*.root')")


def _check_variants(job: ProfileJob, where: typing.Callable[[str], str]) -> None:
    if not job.variants:
        raise JetprofError(f"{where('variants')}: give at least one variant")
    seen: set[Variant] = set()
    for i, v in enumerate(job.variants):
        key = where(f"variants[{i}]")
        if v.weights not in WEIGHTS:
            raise JetprofError(f"{key}.weights {v.weights!r}: unknown weight state ({', '.join(WEIGHTS)})")
        try:
            split_pair(f"{v.backend}-{v.precision}")
        except ValueError as exc:
            raise JetprofError(f"{key}: {exc}") from None
        if not re.fullmatch(r"[A-Za-z0-9_]+", v.model):
            raise JetprofError(f"{key}.model {v.model!r}: letters, digits and _ only")
        if v.replica not in (0, 1):
            raise JetprofError(f"{key}.replica {v.replica}: 0, or 1 for the A/A control")
        if (v.weights == "random") != (v.checkpoint is None):
            need = "takes no checkpoint" if v.weights == "random" else "needs a checkpoint"
            raise JetprofError(f"{key} ({v.label}): weights {v.weights} {need}")
        if v.batch_sizes is not None and (not v.batch_sizes or set(v.batch_sizes) - set(job.batch_sizes)):
            raise JetprofError(f"{key}.batch_sizes {list(v.batch_sizes)}: some of the job's batch sizes "
                               f"{list(job.batch_sizes)}, at least one")
        if v.variant in seen:
            raise JetprofError(f"{key}: {v.label} is listed twice")
        seen.add(v.variant)


def _check_settings(s: JobSettings, where: typing.Callable[[str], str]) -> None:
    for name, low in (("threads", 1), ("warmup", 1), ("rounds", 2), ("max_rounds", s.rounds),
                      ("processes", 1), ("max_processes", s.processes), ("profiler_calls", 1), ("retries", 0)):
        value = getattr(s, name)
        if value < low:
            raise JetprofError(f"{where('settings.' + name)} {value}: must be at least {low}")
    for name in ("max_group_s", "timeout_s"):
        if not getattr(s, name) > 0:
            raise JetprofError(f"{where('settings.' + name)} {getattr(s, name)}: must be > 0")
    if s.clock not in CLOCKS:
        raise JetprofError(f"{where('settings.clock')} {s.clock!r}: one of {', '.join(CLOCKS)}")
    if not 0 < s.target_half_width < 1:
        raise JetprofError(f"{where('settings.target_half_width')} {s.target_half_width}: must be > 0 and < 1")
    if s.threshold is not None and not 0 < s.threshold < 1:
        raise JetprofError(f"{where('settings.threshold')} {s.threshold}: must be > 0 and < 1")
    if s.quality is not None:
        if not s.quality.data:
            raise JetprofError(f"{where('settings.quality.data')}: give the globs of labelled test ROOT files")
        if s.quality.jets < 1:
            raise JetprofError(f"{where('settings.quality.jets')} {s.quality.jets}: must be at least 1")
