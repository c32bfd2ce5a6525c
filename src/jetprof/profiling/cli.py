"""``jetprof profile``: measure comparison groups, one fresh process each.

A call measures one job (:class:`jetprof.jobfile.ProfileJob`): the product of its
particle settings and batch sizes; at each of them one *group*: every variant of the
job timed interleaved on the same jets, in one fresh process. The job is a document,
``--job FILE`` (what the workflow writes; ``-``: stdin), or the one the flags make: the
model under each ``--weights`` state and each ``--backends`` pair, and an A/A control
replica of the first variant (``--print-job`` prints it, to edit: more models in one
group). The groups are made from the document alone. Examples::

    jetprof profile --job results/logs/profile/cpu_preal_bs1_32.job.json
    jetprof profile --device cpu --weights random --particles 16 --batch-sizes 1
    jetprof profile --device cpu --particles 16,64 --batch-sizes 1,8 --print-job > my.job.json
    jetprof profile --device cpu --weights random,trained \\
        --checkpoint trained=results/train/ParT_full/net_best_epoch_state.pt \\
        --backends eager-fp32,onnxruntime-fp32 --particles real --data 'results/dataset/val/*.root' \\
        --batch-sizes 1,8,32 --out results
    jetprof profile --device cpu --weights trained --checkpoint results/train/ParT_full/net_best_epoch_state.pt \
        --backends eager-fp32,onnxruntime-fp32,onnxruntime-int8,eager-int8,openvino-fp32 --particles real \
        --data 'results/dataset/val/*.root' --quality-data 'results/dataset/test/*.root' --batch-sizes 1,32
    jetprof profile --peak --device cpu --out results/profile/peak/cpu.json

Records go to ``OUT/profile/{model}/{weights}/{device}/{backend}-{precision}/p{particles}/bs{N}.json``
and each group's rounds to ``OUT/paired/{device}/p{particles}/bs{N}.json``
(``jetprof.contract``).

Every point other than eager fp32 is checked against eager fp32 with the same weights
(its stated tolerance on the softmax outputs, ``jetprof.profiling.backends.TOLERANCES``;
beyond it the point is an ``error``), and with ``--quality-data`` scored on labelled
test jets after the timed rounds (record field ``quality``, ``jetprof.profiling.quality``).
A backend whose package is missing here (``openvino``: ``pip install 'jetprof[openvino]'``)
is refused with one line before any work.

On CPU under Linux the parent pins the thread counts, imports torch and weaver's
model code once and forks a fresh child per group (``--process fork``); CUDA and MPS
groups, and every group on macOS (where fork after system frameworks have loaded is
unsafe), are spawned as new interpreters. Bad input (missing device or checkpoint, fp16 on
CPU, a checkpoint that does not fit the model, ...) fails with one line and writes
nothing. A variant that runs out of memory gets an ``oom`` record and the others go
on; a child killed by the kernel for memory gives ``oom`` records. A child that dies
for a transient reason (another signal, a timeout) is retried ``--retries`` times;
then the call fails naming the group, and writes nothing for it, so a rerun measures
it again.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import os
import platform
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from jetprof import registry
from jetprof.config import study_defaults
from jetprof.contract import (
    BACKENDS,
    DEFAULT_DATA_CONFIG,
    DEFAULT_NETWORK_CONFIG,
    ENV_COMPARE_THRESHOLD,
    ENV_CONFIG_HASH,
    PRECISIONS,
    WEIGHTS,
    pair_problem,
    split_pair,
    variants_of,
)
from jetprof.errors import JetprofError
from jetprof.jobfile import (
    CLOCKS,
    DEFAULT_CONTROL,
    DEFAULT_QUALITY_JETS,
    JobSettings,
    ProfileJob,
    Quality,
    VariantSpec,
    check,
    from_json,
    to_json,
)
from jetprof.profiling.child import pin_threads
from jetprof.profiling.runner import group_name, run_group, share_out_processes
from jetprof.profiling.spec import GroupSpec
from jetprof.records import PointRecord

PROCESSES = ("auto", "fork", "spawn")
#: the document's settings that a flag of the same name sets
_SETTING_FLAGS = ("threads", "warmup", "rounds", "max_rounds", "max_group_s", "processes", "max_processes", "clock",
                  "target_half_width", "threshold", "flush_denormal",
                  "profiler_pass", "profiler_calls", "seed", "config_hash", "retries", "timeout_s")
#: every option that builds the document (none of them goes with --job)
JOB_FLAGS = ("device", "out", "batch_sizes", "weights", "checkpoint", "backends", "particles", "data",
             "quality_data", "quality_jets", "model_name", "network_config", "data_config", "control",
             *_SETTING_FLAGS)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options; those that build the job have no default of their own (None): the
    document's defaults are the config schema's (``jetprof.jobfile``)."""
    _add_job_arguments(parser)
    _add_setting_arguments(parser)
    parser.add_argument("--process", choices=PROCESSES, default="auto",
                        help="how each group's fresh process is made: fork from this warm parent (CPU), "
                             "spawn a new interpreter, or auto (fork CPU groups on Linux; spawn on CUDA, "
                             "MPS and macOS, where forking a warm parent is unsafe)")
    parser.epilog = "The config schema's defaults of the settings: " + ", ".join(
        f"{k}={v}" for k, v in vars(JobSettings()).items() if k in _SETTING_FLAGS and v is not None)


def _add_job_arguments(parser: argparse.ArgumentParser) -> None:
    """The job: a document, or what it measures (device, model, variants, inputs)."""
    parser.add_argument("--job", metavar="FILE",
                        help="measure the job this document describes (JSON, what --print-job writes; "
                             "'-' reads it from stdin); the options below then stay unset")
    parser.add_argument("--print-job", action="store_true",
                        help="print the job document the options make (or --job holds) and measure nothing")
    parser.add_argument("--device", help="cpu, cuda, cuda:N or mps")
    parser.add_argument("--out",
                        help="results folder: records under OUT/profile/, rounds under OUT/paired/ (default "
                             "results; with --peak: the peak record's JSON file)")
    parser.add_argument("--peak", action="store_true", help="measure the device's matmul FLOP/s ceiling instead")
    parser.add_argument("--batch-sizes", help="comma-separated, e.g. 1,8,32 (default)")
    parser.add_argument("--weights", help=f"comma-separated weight states of the model ({'|'.join(WEIGHTS)}; "
                                          "default random)")
    parser.add_argument("--checkpoint", action="append", metavar="[STATE=]PATH",
                        help="state dict for a trained or pretrained weight state: trained=PATH, "
                             "pretrained=PATH, or PATH alone when one such state is asked for")
    parser.add_argument("--backends",
                        help=f"comma-separated backend-precision pairs ({'|'.join(BACKENDS)})-"
                             f"({'|'.join(PRECISIONS)}) (default eager-fp32)")
    parser.add_argument("--particles",
                        help="'real' (jets from --data; the default), N (synthetic jets of N particles) or a "
                             "comma list")
    parser.add_argument("--data", action="append", help="glob of ROOT files (for --particles real)")
    parser.add_argument("--quality-data", action="append", metavar="GLOB",
                        help="glob of labelled test ROOT files (e.g. 'results/dataset/test/*.root'): after its "
                             "timed rounds every point is scored on them against eager fp32 with the same weights "
                             "(record field quality: agreement, max |Δ softmax|, macro AUC)")
    parser.add_argument("--quality-jets", type=int, metavar="N",
                        help="test jets each point is scored on (the first N of the sorted files; default: "
                             "the schema's profile.quality_jets)")
    parser.add_argument("--model-name", help="the model's name in records and paths (profile/{model}/...; "
                                             "default ParT_full)")
    parser.add_argument("--network-config",
                        help="the model's weaver network config (default: the shipped ParT.py); more models "
                             "in one group: write them into a job document (--print-job, then --job)")
    parser.add_argument("--data-config",
                        help="the weaver data config its inputs follow (default: the shipped JetClass_full.yaml)")
    parser.add_argument("--control", action=argparse.BooleanOptionalAction,
                        help="an A/A control: a second instance of the first variant in each group "
                             "(default: the schema's profile.compare.control)")


def _add_setting_arguments(parser: argparse.ArgumentParser) -> None:
    """How the job measures (the document's ``settings``)."""
    parser.add_argument("--threshold", type=float,
                        help="practical threshold that stops adding rounds once every comparison is decided "
                             f"(default: ${ENV_COMPARE_THRESHOLD}, which the workflow sets, else the schema's)")
    parser.add_argument("--threads", type=int, help="CPU threads of the measuring process")
    parser.add_argument("--warmup", type=int, help="untimed calls after the model's own warm-up calls")
    parser.add_argument("--rounds", type=int, help="timed rounds per group, at least")
    parser.add_argument("--max-rounds", type=int,
                        help="rounds per group at most (more while a comparison is inconclusive)")
    parser.add_argument("--max-group-s", type=float,
                        help="the group's timing budget over all its processes (seconds)")
    parser.add_argument("--processes", type=int,
                        help="fresh measuring processes per group at least, each building its variants in its "
                             "own randomised order (the interval is a t interval over them)")
    parser.add_argument("--max-processes", type=int, help="more processes while a comparison is undecided")
    parser.add_argument("--clock", choices=CLOCKS,
                        help="the clock verdicts use: wall, cpu (the process's CPU time) or auto (cpu for CPU "
                             "groups at one thread)")
    parser.add_argument("--target-half-width", type=float,
                        help="add rounds and processes until every interval is at most this wide each side")
    parser.add_argument("--flush-denormal", action=argparse.BooleanOptionalAction,
                        help="treat subnormal floats as zero (CPU)")
    parser.add_argument("--profiler-pass", action=argparse.BooleanOptionalAction,
                        help="a torch.profiler pass per point for the per-op table and trace (--no-profiler-pass "
                             "skips it)")
    parser.add_argument("--profiler-calls", type=int, help="forwards in the profiler pass (default 1)")
    parser.add_argument("--seed", type=int,
                        help="seed of the random weights and the synthetic jets (replicas are built equal; default 0)")
    parser.add_argument("--config-hash",
                        help="the study config's hash, recorded in each record's environment block "
                             f"(default: ${ENV_CONFIG_HASH}, which the workflow sets)")
    parser.add_argument("--timeout-s", type=float,
                        help="kill a group's process after this many seconds (a transient failure)")
    parser.add_argument("--retries", type=int,
                        help="measure a group again this many times after a transient failure")


def _comma(text: str) -> list[str]:
    return list(dict.fromkeys(x.strip() for x in text.split(",") if x.strip()))


def parse_batch_sizes(text: str) -> list[int]:
    """'1,8,32' → [1, 8, 32]; JetprofError for non-integers or sizes ≤ 0."""
    try:
        sizes = [int(x) for x in _comma(text)]
    except ValueError:
        raise JetprofError(f"--batch-sizes {text!r}: not a comma-separated list of integers") from None
    if not sizes or any(s <= 0 for s in sizes):
        raise JetprofError(f"--batch-sizes {text!r}: batch sizes must be positive integers")
    return sizes


def parse_particles(text: str) -> list[int | str]:
    """'real,16,64' → ['real', 16, 64]; JetprofError for anything else."""
    values: list[int | str] = []
    for item in _comma(text):
        if item == "real":
            values.append("real")
            continue
        try:
            n = int(item)
        except ValueError:
            raise JetprofError(f"--particles {item!r}: 'real' or an integer") from None
        if not 1 <= n <= 128:
            raise JetprofError(f"--particles {n}: must be between 1 and 128")
        values.append(n)
    if not values:
        raise JetprofError(f"--particles {text!r}: give 'real', N or a comma list of them")
    return values


def mps_problem(torch: Any) -> str | None:
    """Why MPS cannot run here, in one clause with what to do instead; None where it can."""
    mac = platform.mac_ver()[0]
    if not torch.backends.mps.is_built():
        return (f"this torch ({torch.__version__}) was built without MPS; MPS needs an Apple-silicon Mac with "
                "macOS 14 or later (use --device cpu here)")
    if not torch.backends.mps.is_available():
        return (f"MPS is not available on this Mac (torch {torch.__version__} needs macOS 14 or later and a "
                f"Metal GPU; this is macOS {mac or 'unknown'}); use --device cpu")
    return None


def check_device(device: str) -> str:
    """Normalise and check the device exists here (cuda → cuda:0)."""
    if device == "cpu":
        return device  # no torch import: the parent process stays light
    import torch

    if device == "mps":
        if problem := mps_problem(torch):
            raise JetprofError(f"--device mps: {problem}")
        return device
    if device == "cuda" or device.startswith("cuda:"):
        index = 0 if device == "cuda" else device.split(":", 1)[1]
        try:
            index = int(index)
        except ValueError:
            raise JetprofError(f"--device {device}: not a CUDA device name (cuda or cuda:N)") from None
        if not torch.cuda.is_available():
            raise JetprofError(f"--device {device}: no CUDA device on this machine (torch {torch.__version__})")
        if index >= torch.cuda.device_count():
            raise JetprofError(f"--device {device}: only {torch.cuda.device_count()} CUDA device(s) here")
        return f"cuda:{index}"
    raise JetprofError(f"--device {device}: unknown device (cpu, cuda, cuda:N or mps)")


def _checkpoints(items: list[str], weights: list[str]) -> dict[str, str]:
    """Weight state -> checkpoint path, from ``--checkpoint [STATE=]PATH``."""
    need = [w for w in weights if w != "random"]
    found: dict[str, str] = {}
    for item in items:
        state, sep, path = item.partition("=")
        if not sep:
            if len(need) != 1:
                raise JetprofError(f"--checkpoint {item}: say which weight state it is for "
                                   f"(trained=PATH or pretrained=PATH)")
            state, path = need[0], item
        if state not in ("trained", "pretrained"):
            raise JetprofError(f"--checkpoint {item}: only trained and pretrained weights load a checkpoint")
        if state not in weights:
            raise JetprofError(f"--checkpoint {item}: --weights does not ask for {state}")
        found[state] = path
    for w in need:
        if w not in found:
            raise JetprofError(f"--weights {w} needs --checkpoint {w}=PATH")
    return found


_FLAG_OF = {"settings.quality.jets": "--quality-jets", "settings.quality.data": "--quality-data",
            "settings.data": "--data", "variants": "--backends"}


def flag_of(key: str) -> str:
    """The flag that sets a key of the document, for messages (``settings.max_rounds`` -> ``--max-rounds``)."""
    if key in _FLAG_OF:
        return _FLAG_OF[key]
    if key.startswith("variants"):
        return "--weights/--backends"
    return "--" + key.removeprefix("settings.").replace("_", "-")


def _in_document(key: str) -> str:
    return key


def job_from_flags(args: argparse.Namespace) -> ProfileJob:
    """The job document the hand-typed options describe (one model: every ``--weights`` state
    under every ``--backends`` pair, and the A/A control), checked; what is not given is the
    document's default, the config schema's."""
    if args.device is None:
        raise JetprofError("--device: give the device to measure on (cpu, cuda, cuda:N or mps), or --job FILE")
    profile = study_defaults()["profile"]
    sizes = parse_batch_sizes(args.batch_sizes or ",".join(map(str, profile["batch_sizes"])))
    particles = parse_particles(args.particles or ",".join(map(str, profile["particles"])))
    weights = _comma(args.weights or "random")
    if not weights:
        raise JetprofError("--weights: give at least one weight state")
    for w in weights:
        if w not in WEIGHTS:
            raise JetprofError(f"--weights {w}: unknown weight state ({', '.join(WEIGHTS)})")
    pairs = _comma(args.backends or "eager-fp32")
    if not pairs:
        raise JetprofError("--backends: give at least one backend-precision pair")
    for pair in pairs:
        try:
            split_pair(pair)
        except ValueError as exc:
            raise JetprofError(f"--backends {exc}") from None
    checkpoints = _checkpoints(args.checkpoint or [], weights)
    network = args.network_config or str(DEFAULT_NETWORK_CONFIG)
    data_config = args.data_config or str(DEFAULT_DATA_CONFIG)
    control = DEFAULT_CONTROL if args.control is None else args.control
    variants = tuple(VariantSpec(v.model, v.weights, v.backend, v.precision, network, data_config,
                                 checkpoints.get(v.weights), v.replica)
                     for v in variants_of(args.model_name or "ParT_full", weights, pairs, control=control))
    if args.quality_jets is not None and args.quality_jets < 1:
        raise JetprofError(f"--quality-jets {args.quality_jets}: must be at least 1")
    if args.quality_jets is not None and not args.quality_data:
        raise JetprofError("--quality-jets: needs --quality-data GLOB (the labelled test jets)")
    quality = None
    if args.quality_data:
        quality = Quality(tuple(args.quality_data), *([] if args.quality_jets is None else [args.quality_jets]))
    given = {name: getattr(args, name) for name in _SETTING_FLAGS if getattr(args, name) is not None}
    settings = dataclasses.replace(JobSettings(), **given, data=tuple(args.data or ()), quality=quality)
    job = ProfileJob(args.device, variants, tuple(particles), tuple(sizes), out=args.out or "results",
                     settings=settings)
    check(job, flag_of)
    return job


def read_job(args: argparse.Namespace) -> tuple[ProfileJob, Callable[[str], str]]:
    """The job to measure: the ``--job`` document (a file, or ``-``: stdin), else the one the
    options make; with how a message names a key of it (the file's key, or the flag)."""
    if args.job is None:
        return job_from_flags(args), flag_of
    given = [f"--{name.replace('_', '-')}" for name in JOB_FLAGS if getattr(args, name) is not None]
    if given:
        raise JetprofError(f"--job {args.job}: {', '.join(given)} given too; the document holds the whole job "
                           "(edit it, or leave out --job)")
    source = "<stdin>" if args.job == "-" else args.job
    if args.job == "-":
        text = sys.stdin.read()
    else:
        try:
            text = Path(args.job).read_text(encoding="utf-8")
        except OSError as exc:
            raise JetprofError(f"{args.job}: cannot read the job document ({exc.strerror})") from None
        except UnicodeDecodeError:
            raise JetprofError(f"{args.job}: not a text file (a job document is JSON)") from None
    return from_json(text, source), lambda key: f"{source}: {key}"


def _resolved(path: str) -> str:
    return str(Path(path).resolve())


def group_specs(job: ProfileJob, where: Callable[[str], str] = _in_document) -> list[GroupSpec]:
    """One GroupSpec per (particles, batch size) of a checked job, after what depends on this
    host (the files, the device, the backends' packages) is checked; no work yet.
    ``where`` names a key of the job in messages (:func:`read_job`)."""
    from jetprof.model.inputs import expand_data_glob
    from jetprof.profiling.backends import missing_package

    for v in job.variants:
        for what, path in (("network config", v.network_config), ("data config", v.data_config),
                           ("checkpoint", v.checkpoint)):
            if path is not None and not Path(path).is_file():
                raise JetprofError(f"{path}: {what} not found ({v.label})")
    device = check_device(job.device)
    for backend, precision in dict.fromkeys((v.backend, v.precision) for v in job.variants):
        problem = pair_problem(backend, precision, device)
        if problem:
            raise JetprofError(f"{where('variants')} {problem} (device {device})")
        missing = missing_package(backend, precision)
        if missing:
            raise JetprofError(f"{where('variants')} {missing}")
    s = job.settings
    data = expand_data_glob(list(s.data)) if "real" in job.particles else []
    quality = expand_data_glob(list(s.quality.data)) if s.quality else []
    variants = [dataclasses.replace(v, network_config=_resolved(v.network_config), data_config=_resolved(v.data_config),
                                    checkpoint=_resolved(v.checkpoint) if v.checkpoint else None)
                for v in job.variants]
    threshold, config_hash = s.resolved_threshold(), s.resolved_config_hash()
    return [
        GroupSpec(device=device, particles=n, batch_size=bs, out=job.out,
                  variants=[v for v in variants if v.batch_sizes is None or bs in v.batch_sizes],
                  data=data if n == "real" else [], threads=s.threads, warmup=s.warmup,
                  rounds=s.rounds, max_rounds=s.max_rounds, max_group_s=s.max_group_s,
                  processes=s.processes, max_processes=s.max_processes, target_half_width=s.target_half_width,
                  clock=resolved_clock(s.clock, device, s.threads),
                  threshold=threshold, flush_denormal=s.flush_denormal,
                  profiler_pass=s.profiler_pass, profiler_calls=s.profiler_calls,
                  seed=s.seed, config_hash=config_hash, quality_data=quality,
                  quality_jets=s.quality.jets if s.quality else DEFAULT_QUALITY_JETS)
        for n, bs in itertools.product(job.particles, job.batch_sizes)
    ]


def resolved_clock(clock: str, device: str, threads: int) -> str:
    """``wall`` or ``cpu``: ``auto`` is the process's CPU time for CPU groups at one thread (where the
    turn's CPU time is its latency without the time the core was taken away), wall time elsewhere."""
    if clock == "auto":
        return "cpu" if device == "cpu" and threads == 1 else "wall"
    if clock == "cpu" and device != "cpu":
        raise JetprofError(f"clock cpu: only CPU groups can be judged on CPU time (device {device})")
    return clock


def build_specs(args: argparse.Namespace) -> list[GroupSpec]:
    """The GroupSpecs of a command line (its ``--job`` document or its options)."""
    job, where = read_job(args)
    return group_specs(job, where)


def process_mode(requested: str, device: str, system: str | None = None) -> str:
    """``fork`` or ``spawn`` for this call (see the module docstring).

    Forking is safe only on Linux: macOS's system frameworks (Accelerate, Metal, the
    Objective-C runtime) are not fork-safe once loaded, which is why Python stopped
    forking there by default (3.8), so on macOS every group is spawned, CPU ones too.
    ``system`` is ``platform.system()`` unless given (the tests force "Darwin").
    """
    system = platform.system() if system is None else system
    fork_safe = system == "Linux" and hasattr(os, "fork")
    can_fork = device == "cpu" and fork_safe
    if requested == "spawn" or (requested == "auto" and not can_fork):
        return "spawn"
    if not fork_safe:
        raise JetprofError(f"--process fork: forking a warm parent is not safe on {system}; "
                           "use --process spawn (what auto picks there)")
    if not can_fork:
        raise JetprofError(f"--process fork: only CPU groups are forked (--device {device} is spawned)")
    if "torch" in sys.modules:
        # threads can no longer be pinned before torch, and the caller may have run torch ops
        if requested == "fork":
            raise JetprofError("--process fork: torch is already imported in this process; use spawn")
        return "spawn"
    return "fork"


def warm_parent(specs: list[GroupSpec]) -> None:
    """Import, once, what every forked child needs; no torch operation runs here.

    Called after the thread variables are set. Also compiles weaver's numba input
    padding on one tiny synthetic jet (numpy and numba only), so that no child
    compiles it again.
    """
    import torch
    import torch.profiler
    import torch.utils.flop_counter  # noqa: F401

    from jetprof.model import flops, inputs  # noqa: F401
    from jetprof.model.build import import_network_config, load_data_config
    from jetprof.profiling import backends, env, measure, memory, record, subnormal  # noqa: F401

    first = specs[0].variants[0]
    for v in {(v.network_config, v.data_config) for v in specs[0].variants}:
        import_network_config(v[0])
    inputs.synthetic_batch(load_data_config(first.data_config), 1, 1, seed=0)
    ort = [v for v in specs[0].variants
           if any(p.module == "onnxruntime" for p in registry.packages_for(v.backend, v.precision))]
    if ort:
        import onnxruntime
    if any(v.precision == "int8" for v in ort):
        import onnxruntime.quantization  # noqa: F401
    if any(s.particles == "real" or s.quality_data for s in specs):
        import uproot  # noqa: F401


def _summary(rec: PointRecord) -> str:
    head = f"{rec.model}/{rec.weights}/{rec.rung}: {rec.status}"
    if rec.status == "ok":
        return (f"{head}  p50 {rec.latency_ms_p50:.3f} ms over {rec.repeats} rounds  "
                f"{rec.throughput_jets_per_s:.1f} jets/s  padded {rec.particles_padded}")
    return f"{head}  {rec.error}"


def scratch_dir(out: str) -> str:
    """A scratch folder under ``OUT/.tmp`` for this call; folders of calls that are no
    longer running (killed, say) are removed first."""
    root = Path(out) / ".tmp"
    root.mkdir(parents=True, exist_ok=True)
    for old in root.glob("profile-*"):
        try:
            pid = int(old.name.split("-")[1])
            os.kill(pid, 0)
        except (ValueError, IndexError, ProcessLookupError):
            shutil.rmtree(old, ignore_errors=True)
        except PermissionError:
            pass  # alive, someone else's
    return tempfile.mkdtemp(prefix=f"profile-{os.getpid()}-", dir=root)


def run(args: argparse.Namespace) -> int:
    if args.peak:
        return run_peak(args)
    job, where = read_job(args)
    if args.print_job:
        sys.stdout.write(to_json(job))
        return 0
    specs = group_specs(job, where)
    mode = process_mode(args.process, specs[0].device)
    if mode == "fork":
        pin_threads(job.settings.threads)  # before torch is imported, for this process and its children
        warm_parent(specs)
    out = Path(job.out)
    out_existed = out.exists()
    cache_dir = scratch_dir(job.out)
    failed = 0
    try:
        for spec in specs:
            spec.process, spec.cache_dir = mode, cache_dir
            records = run_group(spec, job.settings.timeout_s, job.settings.retries)
            for rec in records:
                failed += rec.status != "ok"
                print(f"jetprof profile: {group_name(spec)} {_summary(rec)}", file=sys.stderr)
        share_out_processes(specs, job.settings.timeout_s)
    finally:
        shutil.rmtree(cache_dir, ignore_errors=True)
        for folder in (out / ".tmp", out):  # leave no empty folders behind
            if folder == out and out_existed:
                break
            try:
                folder.rmdir()
            except OSError:
                break
    if failed:
        print(f"jetprof profile: {failed} point(s) not ok (recorded)", file=sys.stderr)
    return 0


def run_peak(args: argparse.Namespace) -> int:
    from jetprof.io import atomic_write_text
    from jetprof.profiling.peak import measure_peak

    if args.device is None or args.out is None:
        raise JetprofError("--peak: needs --device and --out FILE (the peak record)")
    threads = JobSettings().threads if args.threads is None else args.threads
    if threads < 1:
        raise JetprofError(f"--threads {threads}: must be at least 1")
    device = check_device(args.device)
    rec = measure_peak(device, threads, args.config_hash or os.environ.get(ENV_CONFIG_HASH))
    atomic_write_text(args.out, json.dumps(rec, indent=1) + "\n")
    print(f"jetprof profile --peak: {device} fp32 {rec['matmul_flops_per_s'] / 1e9:.1f} GFLOP/s "
          f"(n={rec['matrix_size']})", file=sys.stderr)
    return 0

