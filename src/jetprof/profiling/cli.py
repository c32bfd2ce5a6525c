"""``jetprof profile``: measure comparison groups, one fresh process each.

A call measures the product of ``--particles`` and ``--batch-sizes``; at each of
them one *group*: every variant (the model under each ``--weights`` state and each
``--backends`` pair, the ``--extra-model`` models with random weights, and an A/A
control replica of the first variant) timed interleaved on the same jets, in one
fresh process. Examples::

    jetprof profile --device cpu --weights random --particles 16 --batch-sizes 1
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
import itertools
import json
import os
import platform
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jetprof.config import schema_defaults
from jetprof.contract import (
    BACKENDS,
    DEFAULT_DATA_CONFIG,
    DEFAULT_NETWORK_CONFIG,
    ENV_COMPARE_THRESHOLD,
    ENV_CONFIG_HASH,
    PRECISIONS,
    WEIGHTS,
    ExtraModel,
    pair_problem,
    split_pair,
    variants_of,
)
from jetprof.errors import JetprofError
from jetprof.profiling.child import pin_threads
from jetprof.profiling.runner import group_name, run_group
from jetprof.profiling.spec import GroupSpec, VariantSpec
from jetprof.records import PointRecord

PROCESSES = ("auto", "fork", "spawn")
DEFAULTS = schema_defaults("profile")
COMPARE_DEFAULTS = schema_defaults("profile.compare")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    d = DEFAULTS
    parser.add_argument("--device", required=True, help="cpu, cuda, cuda:N or mps")
    parser.add_argument("--out", default="results",
                        help="results folder: records under OUT/profile/, rounds under OUT/paired/ "
                             "(with --peak: the peak record's JSON file)")
    parser.add_argument("--peak", action="store_true", help="measure the device's matmul FLOP/s ceiling instead")
    parser.add_argument("--batch-sizes", default="1,8,32", help="comma-separated, e.g. 1,8,32")
    parser.add_argument("--weights", default="random",
                        help=f"comma-separated weight states of the model ({'|'.join(WEIGHTS)})")
    parser.add_argument("--checkpoint", action="append", default=[], metavar="[STATE=]PATH",
                        help="state dict for a trained or pretrained weight state: trained=PATH, "
                             "pretrained=PATH, or PATH alone when one such state is asked for")
    parser.add_argument("--backends", default="eager-fp32",
                        help=f"comma-separated backend-precision pairs ({'|'.join(BACKENDS)})-"
                             f"({'|'.join(PRECISIONS)})")
    parser.add_argument("--particles", default="real",
                        help="'real' (jets from --data), N (synthetic jets of N particles) or a comma list")
    parser.add_argument("--data", action="append", default=[], help="glob of ROOT files (for --particles real)")
    parser.add_argument("--quality-data", action="append", default=[], metavar="GLOB",
                        help="glob of labelled test ROOT files (e.g. 'results/dataset/test/*.root'): after its "
                             "timed rounds every point is scored on them against eager fp32 with the same weights "
                             "(record field quality: agreement, max |Δ softmax|, macro AUC)")
    parser.add_argument("--quality-jets", type=int, default=d["quality_jets"], metavar="N",
                        help="test jets each point is scored on (the first N of the sorted files)")
    parser.add_argument("--model-name", default="ParT_full",
                        help="the main model's name in records and paths (profile/{model}/...)")
    parser.add_argument("--network-config", default=str(DEFAULT_NETWORK_CONFIG),
                        help="the main model's weaver network config (default: the shipped ParT.py)")
    parser.add_argument("--data-config", default=str(DEFAULT_DATA_CONFIG),
                        help="the weaver data config its inputs follow (default: the shipped JetClass_full.yaml)")
    parser.add_argument("--extra-model", action="append", default=[],
                        metavar="NAME=NETWORK,DATA[,trained=CKPT][,weights=W+W][,backends=P+P]",
                        help="another model measured in the same groups: with random weights and each state "
                             "given a checkpoint (or those of weights=), under --backends (or those of backends=)")
    parser.add_argument("--control", action=argparse.BooleanOptionalAction,
                        default=COMPARE_DEFAULTS["control"],
                        help="an A/A control: a second instance of the first variant in each group")
    parser.add_argument("--threshold", type=float,
                        default=float(os.environ.get(ENV_COMPARE_THRESHOLD) or COMPARE_DEFAULTS["threshold"]),
                        help="practical threshold that stops adding rounds once every comparison is decided "
                             f"(default: ${ENV_COMPARE_THRESHOLD}, which the workflow sets, else the schema's)")
    parser.add_argument("--threads", type=int, default=d["threads"], help="CPU threads of the measuring process")
    parser.add_argument("--warmup", type=int, default=d["warmup"],
                        help="untimed calls after the model's own warm-up calls")
    parser.add_argument("--rounds", type=int, default=d["rounds"], help="timed rounds per group, at least")
    parser.add_argument("--max-rounds", type=int, default=d["max_rounds"],
                        help="rounds per group at most (more while a comparison is inconclusive)")
    parser.add_argument("--max-group-s", type=float, default=d["max_group_s"],
                        help="add no rounds after a group has been timed this long")
    parser.add_argument("--flush-denormal", action=argparse.BooleanOptionalAction,
                        default=d["flush_denormal"], help="treat subnormal floats as zero (CPU)")
    parser.add_argument("--no-profiler-pass", action="store_true", help="skip the per-op table and trace")
    parser.add_argument("--profiler-calls", type=int, default=1, help="forwards in the profiler pass")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the random weights and the synthetic jets (replicas are built equal)")
    parser.add_argument("--config-hash", default=os.environ.get(ENV_CONFIG_HASH),
                        help="the study config's hash, recorded in each record's environment block "
                             f"(default: ${ENV_CONFIG_HASH}, which the workflow sets)")
    parser.add_argument("--timeout-s", type=float, default=d["timeout_s"],
                        help="kill a group's process after this many seconds (a transient failure)")
    parser.add_argument("--retries", type=int, default=d["retries"],
                        help="measure a group again this many times after a transient failure")
    parser.add_argument("--process", choices=PROCESSES, default="auto",
                        help="how each group's fresh process is made: fork from this warm parent (CPU), "
                             "spawn a new interpreter, or auto (fork CPU groups on Linux; spawn on CUDA, "
                             "MPS and macOS, where forking a warm parent is unsafe)")


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


def _checkpoints(args: argparse.Namespace, weights: list[str]) -> dict[str, str]:
    """Weight state -> checkpoint path, from ``--checkpoint [STATE=]PATH``."""
    need = [w for w in weights if w != "random"]
    found: dict[str, str] = {}
    for item in args.checkpoint:
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
        if not Path(path).is_file():
            raise JetprofError(f"{path}: checkpoint not found")
        found[state] = path
    for w in need:
        if w not in found:
            raise JetprofError(f"--weights {w} needs --checkpoint {w}=PATH")
    return found


@dataclass
class _Extra:
    network: str
    data: str
    checkpoints: dict[str, str]
    weights: tuple[str, ...]
    pairs: tuple[str, ...] | None


def _extra_models(items: list[str]) -> dict[str, _Extra]:
    """``--extra-model NAME=NETWORK,DATA[,STATE=CKPT...][,weights=W+W][,backends=P+P]``: its
    weight states default to random and every state given a checkpoint."""
    out: dict[str, _Extra] = {}
    for item in items:
        name, sep, rest = item.partition("=")
        network, comma, rest = rest.partition(",")
        data, _, options = rest.partition(",")
        if not (sep and comma and name and network and data) or "=" in data:
            raise JetprofError(f"--extra-model {item!r}: expected NAME=NETWORK_CONFIG,DATA_CONFIG"
                               f"[,trained=CHECKPOINT][,weights=W+W][,backends=PAIR+PAIR]")
        checkpoints: dict[str, str] = {}
        weights: tuple[str, ...] | None = None
        pairs: tuple[str, ...] | None = None
        for option in filter(None, options.split(",")):
            key, eq, value = option.partition("=")
            if not (eq and value):
                raise JetprofError(f"--extra-model {item!r}: {option!r} is not KEY=VALUE")
            if key in ("trained", "pretrained"):
                if not Path(value).is_file():
                    raise JetprofError(f"{value}: checkpoint of {name} not found")
                checkpoints[key] = value
            elif key == "weights":
                weights = tuple(value.split("+"))
            elif key == "backends":
                pairs = tuple(value.split("+"))
            else:
                raise JetprofError(f"--extra-model {item!r}: unknown option {key!r} "
                                   f"(trained, pretrained, weights, backends)")
        weights = weights or ("random", *checkpoints)
        for w in weights:
            if w not in WEIGHTS:
                raise JetprofError(f"--extra-model {name}: unknown weight state {w} ({', '.join(WEIGHTS)})")
            if w != "random" and w not in checkpoints:
                raise JetprofError(f"--extra-model {name}: weights {w} needs {w}=CHECKPOINT")
        out[name] = _Extra(network, data, checkpoints, weights, pairs)
    return out


def _checkpoint_of(v: Any, main: str, checkpoints: dict[str, str], extras: dict[str, _Extra]) -> str | None:
    """The resolved checkpoint a variant loads (None: random weights)."""
    found = checkpoints if v.model == main else extras[v.model].checkpoints
    return str(Path(found[v.weights]).resolve()) if v.weights in found else None


def build_specs(args: argparse.Namespace) -> list[GroupSpec]:
    """Check every option up front (no work yet); one GroupSpec per (particles, batch size)."""
    from jetprof.model.inputs import expand_data_glob

    sizes = parse_batch_sizes(args.batch_sizes)
    particles = parse_particles(args.particles)
    weights = _comma(args.weights)
    for w in weights:
        if w not in WEIGHTS:
            raise JetprofError(f"--weights {w}: unknown weight state ({', '.join(WEIGHTS)})")
    if not weights:
        raise JetprofError("--weights: give at least one weight state")
    pairs = _comma(args.backends)
    for pair in pairs:
        try:
            split_pair(pair)
        except ValueError as exc:
            raise JetprofError(f"--backends {exc}") from None
    if not pairs:
        raise JetprofError("--backends: give at least one backend-precision pair")
    for name, value, low in (("--warmup", args.warmup, 1), ("--rounds", args.rounds, 2),
                             ("--max-rounds", args.max_rounds, args.rounds), ("--threads", args.threads, 1),
                             ("--retries", args.retries, 0), ("--quality-jets", args.quality_jets, 1)):
        if value < low:
            raise JetprofError(f"{name} {value}: must be at least {low}")
    if not args.threshold > 0:
        raise JetprofError(f"--threshold {args.threshold}: must be > 0")
    checkpoints = _checkpoints(args, weights)
    extras = _extra_models(args.extra_model)
    configs = {args.model_name: (args.network_config, args.data_config),
               **{name: (e.network, e.data) for name, e in extras.items()}}
    if len(configs) != 1 + len(extras) or args.model_name in extras:
        raise JetprofError(f"--extra-model {args.model_name}: names the main model")
    for name, (network, data_config) in configs.items():
        for what, path in (("network config", network), ("data config", data_config)):
            if not Path(path).is_file():
                raise JetprofError(f"{path}: {what} of {name} not found")
    device = check_device(args.device)
    from jetprof.profiling.backends import missing_package

    every_pair = list(dict.fromkeys([*pairs, *(p for e in extras.values() for p in e.pairs or ())]))
    for pair in every_pair[len(pairs):]:
        try:
            split_pair(pair)
        except ValueError as exc:
            raise JetprofError(f"--extra-model backends {exc}") from None
    for pair in every_pair:
        problem = pair_problem(*split_pair(pair), device)
        if problem:
            raise JetprofError(f"--backends {problem} (device {device})")
        missing = missing_package(*split_pair(pair))
        if missing:
            raise JetprofError(f"--backends {missing}")
    data: list[str] = []
    if "real" in particles:
        if not args.data:
            raise JetprofError("--particles real needs --data GLOB (ROOT files, e.g. 'results/dataset/val/*.root')")
        data = expand_data_glob(args.data)
    quality = expand_data_glob(args.quality_data) if args.quality_data else []
    variants = [
        VariantSpec(v.model, v.weights, v.backend, v.precision,
                    network_config=str(Path(configs[v.model][0]).resolve()),
                    data_config=str(Path(configs[v.model][1]).resolve()),
                    checkpoint=_checkpoint_of(v, args.model_name, checkpoints, extras),
                    replica=v.replica)
        for v in variants_of(args.model_name, weights, pairs,
                             [ExtraModel(name, e.weights, e.pairs) for name, e in extras.items()],
                             control=args.control)
    ]
    return [
        GroupSpec(device=device, particles=n, batch_size=bs, variants=variants, out=str(args.out),
                  data=data if n == "real" else [], threads=args.threads, warmup=args.warmup,
                  rounds=args.rounds, max_rounds=args.max_rounds, max_group_s=args.max_group_s,
                  threshold=args.threshold, flush_denormal=args.flush_denormal,
                  profiler_pass=not args.no_profiler_pass, profiler_calls=args.profiler_calls,
                  seed=args.seed, config_hash=args.config_hash, quality_data=quality,
                  quality_jets=args.quality_jets)
        for n, bs in itertools.product(particles, sizes)
    ]


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
    if any(v.backend.startswith("onnxruntime") for v in specs[0].variants):
        import onnxruntime
    if any(v.precision == "int8" and v.backend.startswith("onnxruntime") for v in specs[0].variants):
        import onnxruntime.quantization  # noqa: F401
    if any(s.particles == "real" or s.quality_data for s in specs):
        import uproot  # noqa: F401


def _summary(rec: PointRecord) -> str:
    head = f"{rec.model}/{rec.weights}/{rec.backend}-{rec.precision}: {rec.status}"
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
    specs = build_specs(args)
    mode = process_mode(args.process, specs[0].device)
    if mode == "fork":
        pin_threads(args.threads)  # before torch is imported, for this process and its children
        warm_parent(specs)
    out_existed = Path(args.out).exists()
    cache_dir = scratch_dir(args.out)
    failed = 0
    try:
        for spec in specs:
            spec.process, spec.cache_dir = mode, cache_dir
            records = run_group(spec, args.timeout_s, args.retries)
            for rec in records:
                failed += rec.status != "ok"
                print(f"jetprof profile: {group_name(spec)} {_summary(rec)}", file=sys.stderr)
    finally:
        shutil.rmtree(cache_dir, ignore_errors=True)
        for folder in (Path(args.out) / ".tmp", Path(args.out)):  # leave no empty folders behind
            if folder == Path(args.out) and out_existed:
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

    if args.threads < 1:
        raise JetprofError(f"--threads {args.threads}: must be at least 1")
    device = check_device(args.device)
    rec = measure_peak(device, args.threads, args.config_hash)
    atomic_write_text(args.out, json.dumps(rec, indent=1) + "\n")
    print(f"jetprof profile --peak: {device} fp32 {rec['matmul_flops_per_s'] / 1e9:.1f} GFLOP/s "
          f"(n={rec['matrix_size']})", file=sys.stderr)
    return 0

