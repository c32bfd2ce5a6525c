"""``jetprof weaver``: run weaver's own command line with every random generator seeded.

weaver-core 0.5.3 has no seed option (its data iterator logs ``seed=None``), so two
trainings on the same data differ. This launcher seeds, before weaver starts:

- Python's ``random`` (ParT's ``SequenceTrimmer`` draws its training-time trim
  quantile from it),
- NumPy's global generator (weaver's data iterator shuffles files, load ranges
  and jets with ``np.random``; DataLoader worker processes re-seed it from
  torch's generator, which is seeded too),
- torch on CPU and every CUDA device, with
  ``torch.use_deterministic_algorithms(True, warn_only=True)`` and
  ``CUBLAS_WORKSPACE_CONFIG=:4096:8`` (cuDNN benchmarking off),

and makes weaver's data loading synchronous (``SimpleIterDataset(async_load=False)``):
weaver prefetches the next chunk in a background thread that shuffles with the
*global* NumPy generator, racing the main thread's draws, which makes the order
of jets depend on timing. ``--async-load`` restores weaver's default.

It then calls weaver's real entry point (``weaver.train.main``) in-process with
the given arguments; nothing of weaver is re-implemented. Two small hooks only
observe: the learning rate actually applied at every optimiser step is logged
per epoch into weaver's log (``jetprof: epoch 0 lr first=... min=... max=...
last=... steps=N``: weaver itself shows the rate only in its tqdm bar), and
``--tensorboard-dir`` makes weaver's TensorBoard writer use a fixed folder
instead of ``runs/<timestamp>_<host><comment>``.

Two ways to call it (exit status = weaver's: 0, 1 on an exception, 2 on bad
weaver arguments):

``jetprof weaver --seed 42 -- --data-train 'd/train/*.root' ...``
    any weaver arguments, passed through unchanged.

``jetprof weaver --seed 42 --mode train --config-json '{...}' --data-train G --data-val G
--data-config C --network-config N --model-prefix results/train/ParT_full/net --log results/train/ParT_full/weaver.log
--tensorboard-dir results/train/ParT_full/tensorboard --device cpu``
    builds the weaver arguments with :func:`weaver_train_args` (or, with
    ``--mode predict``, :func:`weaver_predict_args`) from the study's config.

Learning-rate schedule (weaver 0.5.3, ``weaver/train.py::init_opt``):
``flat+decay`` (weaver's default) decays per *epoch* over the last 30 % of the
epochs with milestones ``range(N - max(1, int(0.3 N)), N)``: with one epoch the
milestone is epoch 0, so the whole run is at 1 % of ``start_lr``; ``steps`` with
one or two epochs has milestones ``[0, 0]`` or ``[1, 1]`` (two ×0.1 steps at
once). ``flat+linear``/``flat+cos`` work per *step*: a linear warm-up from 0 over
``--warmup-steps`` (default 25 % of all steps), flat at ``start_lr`` up to 70 %
of all steps, then a linear/cosine decay to 0.1 %. ``one-cycle`` starts at
``start_lr/25``; ``warmup+cos`` warms up then decays over the whole run.
jetprof's default is ``flat+linear`` with ``--warmup-steps 0`` (Ranger, the
optimiser, already warms up through RAdam's variance rectification): the first
70 % of the steps run at ``start_lr``, whatever the number of epochs — the
ParT paper's "constant for 70 %, then decay" (arXiv:2202.03772, Sec. 4) on a
per-step clock. :func:`weaver_train_args` refuses ``flat+decay`` and ``steps``
when they would start below ``start_lr``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import shlex
import sys
import traceback
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeAlias

from jetprof.config import WEAVER_KEYS, schema_default, schema_property, study_defaults
from jetprof.errors import JetprofError

_TRAIN = study_defaults()["train"]

#: one training setting's value (the config schema checks each key's own type)
Setting: TypeAlias = int | float | str | bool

DEFAULT_CONFIG: dict[str, Setting] = {
    **{key: _TRAIN[key] for key in WEAVER_KEYS},
    # weaver --batch-size of --predict: the study's train.predict_batch_size
    "batch_size_test": _TRAIN["predict_batch_size"],
    # not a study config key: Ranger already warms up (see the module docstring)
    "warmup_steps": 0,
}
"""Config keys understood by :func:`weaver_train_args` and their defaults: the config
schema's (:func:`jetprof.config.schema_defaults`), except ``warmup_steps``."""

#: weaver 0.5.3's ``--lr-scheduler`` choices, as the config schema lists them
LR_SCHEDULERS: tuple[str, ...] = tuple(schema_property("train.lr_scheduler")["enum"])


def _cfg(cfg: Mapping[str, Setting]) -> dict[str, Setting]:
    unknown = sorted(set(cfg) - set(DEFAULT_CONFIG))
    if unknown:
        raise JetprofError(
            f"unknown training config key(s): {', '.join(unknown)}; known: {', '.join(DEFAULT_CONFIG)}"
        )
    out = dict(DEFAULT_CONFIG)
    out.update(cfg)
    return out


def _check_schedule(c: Mapping[str, Setting]) -> None:
    sched, epochs = c["lr_scheduler"], int(c["num_epochs"])
    if sched not in LR_SCHEDULERS:
        raise JetprofError(f"lr_scheduler {sched!r} is not one of weaver's: {', '.join(LR_SCHEDULERS)}")
    if epochs < 1:
        raise JetprofError(f"num_epochs must be at least 1, got {epochs}")
    if sched == "flat+decay" and epochs == 1:
        raise JetprofError(
            "lr_scheduler 'flat+decay' with num_epochs 1 runs the whole epoch at 1% of start_lr "
            "(weaver 0.5.3 puts the decay milestone at epoch 0); use 'flat+linear' or 'none'"
        )
    if sched == "steps" and round(epochs / 3) == 0:
        raise JetprofError(
            f"lr_scheduler 'steps' with num_epochs {epochs} starts at 1% of start_lr "
            "(both x0.1 milestones at epoch 0); use 'flat+linear' or 'none'"
        )
    if int(c["samples_per_epoch"]) // int(c["batch_size"]) < 1:
        raise JetprofError(
            f"samples_per_epoch {c['samples_per_epoch']} is smaller than batch_size {c['batch_size']}: no step"
        )


def _device_args(device: str, use_amp: bool) -> list[str]:
    if device == "cpu":
        return ["--gpus", ""]
    if device == "cuda" or device.startswith("cuda:"):
        index = device.split(":", 1)[1] if ":" in device else "0"
        return ["--gpus", index] + (["--use-amp"] if use_amp else [])
    raise JetprofError(f"device {device!r}: expected cpu, cuda or cuda:N")


def _no_auto(**paths: str | None) -> None:
    for name, p in paths.items():
        if p is not None and "{auto}" in p:
            raise JetprofError(f"{name} {p!r}: jetprof paths are explicit, not weaver's {{auto}}")


def weaver_train_args(
    cfg: Mapping[str, Setting],
    *,
    data_train: str,
    data_val: str,
    data_config: str,
    network_config: str,
    model_prefix: str,
    log: str,
    tensorboard: str | None,
    device: str,
) -> list[str]:
    """Build weaver's training arguments from the study's training config.

    Args:
        cfg: keys of :data:`DEFAULT_CONFIG` (missing ones take the default);
            ``use_amp`` is passed on CUDA only (weaver ignores it on CPU).
        data_train: glob of training files (weaver expands it itself).
        data_val: glob of validation files.
        data_config: weaver data config; weaver writes ``<name>.<hash>.auto.yaml``
            beside it, so pass a copy outside ``workflow/``.
        network_config: weaver network config (``workflow/weaver/ParT.py``).
        model_prefix: checkpoint prefix; the best one is ``<prefix>_best_epoch_state.pt``.
        log: weaver's log file.
        tensorboard: a TensorBoard folder or None; the launcher (not weaver)
            places the events there, weaver only receives ``--tensorboard <name>``.
        device: ``cpu``, ``cuda`` or ``cuda:N``.

    Returns:
        The argument list for ``jetprof weaver --seed S -- <args>``.
    """
    c = _cfg(cfg)
    _check_schedule(c)
    _no_auto(model_prefix=model_prefix, log=log)
    args = [
        "--data-train", data_train,
        "--data-val", data_val,
        "--data-config", data_config,
        "--network-config", network_config,
        "--model-prefix", model_prefix,
        "--log-file", log,
        "--num-epochs", str(int(c["num_epochs"])),
        "--samples-per-epoch", str(int(c["samples_per_epoch"])),
        "--samples-per-epoch-val", str(int(c["samples_per_epoch_val"])),
        "--batch-size", str(int(c["batch_size"])),
        "--start-lr", repr(float(c["start_lr"])),
        "--optimizer", str(c["optimizer"]),
        "--lr-scheduler", str(c["lr_scheduler"]),
        "--warmup-steps", repr(float(c["warmup_steps"])),
        "--fetch-step", repr(float(c["fetch_step"])),
        "--num-workers", str(int(c["num_workers"])),
    ]
    if tensorboard is not None:
        args += ["--tensorboard", "_" + Path(tensorboard).name]
    return args + _device_args(device, bool(c["use_amp"]))


def weaver_predict_args(
    cfg: Mapping[str, Setting],
    *,
    data_test: str,
    data_config: str,
    network_config: str,
    checkpoint: str,
    predict_output: str,
    log: str,
    device: str,
) -> list[str]:
    """Build weaver's ``--predict`` arguments (test split → one ROOT file).

    Args:
        cfg: the training config (``batch_size_test``, ``num_workers``, ``use_amp``).
        data_test: glob of test files, given without a group name so weaver
            writes exactly ``predict_output``.
        checkpoint: the state file, e.g. ``results/train/ParT_full/net_best_epoch_state.pt``.
        predict_output: e.g. ``results/evaluate/ParT_full/pred.root``.
    """
    c = _cfg(cfg)
    _no_auto(checkpoint=checkpoint, log=log, predict_output=predict_output)
    if not predict_output.endswith(".root"):
        raise JetprofError(f"predict output {predict_output!r}: expected a .root path")
    if os.path.dirname(predict_output) == "":
        # weaver puts a bare file name under <model dir>/predict_output/
        predict_output = os.path.join(".", predict_output)
    batch = int(c["batch_size_test"])
    args = [
        "--predict",
        "--data-test", data_test,
        "--data-config", data_config,
        "--network-config", network_config,
        "--model-prefix", checkpoint,
        "--predict-output", predict_output,
        "--log-file", log,
        "--batch-size", str(batch),
        "--num-workers", str(int(c["num_workers"])),
    ]
    return args + _device_args(device, bool(c["use_amp"]))


# --------------------------------------------------------------------------- seeding


def seed_everything(seed: int, *, deterministic: bool = True) -> None:
    """Seed Python, NumPy and torch (CPU + CUDA); optionally ask for deterministic kernels."""
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    random.seed(seed)
    import numpy as np
    import torch

    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)  # also seeds every CUDA device
    if deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False
        torch.backends.cudnn.deterministic = True


class _LrLog:
    """Record the learning rate of every optimiser step; weaver's log gets one line per epoch."""

    def __init__(self) -> None:
        self.lrs: list[float] = []

    def wrap(self, opt: Any) -> None:  # weaver's optimiser (Ranger, or one of torch's)
        # weaver's Ranger (a Lookahead wrapper) lacks torch's step-hook machinery: wrap the bound step
        step = opt.step

        def logged_step(*args: object, **kwargs: object) -> object:
            self.lrs.append(float(opt.param_groups[0]["lr"]))
            return step(*args, **kwargs)

        opt.step = logged_step

    def flush(self, logger: logging.Logger, epoch: object) -> None:
        if self.lrs:
            lrs = self.lrs
            logger.info(
                f"jetprof: epoch {epoch} lr first={lrs[0]:.6e} min={min(lrs):.6e} max={max(lrs):.6e} "
                f"last={lrs[-1]:.6e} steps={len(lrs)}"
            )
        self.lrs = []


def _install_hooks(tensorboard_dir: str | None, sync_load: bool, seed: int) -> None:
    """Patch weaver's module globals: observe the LR, fix the TensorBoard folder, sync loading."""
    import functools

    import torch
    import weaver.train as wt
    from weaver.utils.dataset import SimpleIterDataset
    from weaver.utils.logger import _logger

    lr_log = _LrLog()
    orig_optimizer_setup = wt.optimizer_setup
    orig_model_setup = wt.model_setup

    def optimizer_setup(args: argparse.Namespace, model: torch.nn.Module) -> tuple[object, object]:
        opt, scheduler = orig_optimizer_setup(args, model)
        lr_log.wrap(opt)
        return opt, scheduler

    def model_setup(*a: object, **kw: object) -> tuple[object, ...]:
        _logger.info(
            f"jetprof: seed={seed} sync_load={sync_load} "
            f"deterministic={torch.are_deterministic_algorithms_enabled()} "
            f"torch_threads={torch.get_num_threads()}"
        )
        model, model_info, loss_func, train, evaluate = orig_model_setup(*a, **kw)

        @functools.wraps(train)
        def train_logged(*ta: object, **tkw: object) -> object:
            try:
                return train(*ta, **tkw)
            finally:
                lr_log.flush(_logger, ta[6] if len(ta) > 6 else tkw.get("epoch"))

        return model, model_info, loss_func, train_logged, evaluate

    wt.optimizer_setup = optimizer_setup
    wt.model_setup = model_setup

    if sync_load and not getattr(SimpleIterDataset, "_jetprof_sync", False):
        orig_init = SimpleIterDataset.__init__

        @functools.wraps(orig_init)
        def init(self: object, *a: object, **kw: object) -> None:
            kw["async_load"] = False
            orig_init(self, *a, **kw)

        SimpleIterDataset.__init__ = init
        SimpleIterDataset._jetprof_sync = True

    if tensorboard_dir is not None:
        import torch.utils.tensorboard as tbmod

        writer_cls = getattr(tbmod, "_jetprof_orig_writer", tbmod.SummaryWriter)
        tbmod._jetprof_orig_writer = writer_cls  # type: ignore[attr-defined]  # our marker on torch's module
        # weaver builds its writer by this name: a partial with the log dir stands in for the class
        tbmod.SummaryWriter = functools.partial(writer_cls, log_dir=str(tensorboard_dir))  # type: ignore[misc,assignment]  # a partial in the class's place


def run_weaver(
    weaver_args: list[str],
    *,
    seed: int,
    tensorboard_dir: str | None = None,
    sync_load: bool = True,
    deterministic: bool = True,
    threads: int | None = None,
) -> int:
    """Seed everything, then run ``weaver.train.main`` with ``weaver_args``; return its exit status."""
    if threads is not None:
        os.environ["OMP_NUM_THREADS"] = str(threads)
        import torch

        torch.set_num_threads(threads)
    seed_everything(seed, deterministic=deterministic)
    import weaver.train as wt
    from weaver.utils.logger import _logger

    _install_hooks(tensorboard_dir, sync_load, seed)
    saved_argv = sys.argv
    sys.argv = ["weaver", *weaver_args]
    try:
        wt.main()
        return 0
    except SystemExit as exc:  # argparse errors (2) or an explicit exit
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    except Exception:
        traceback.print_exc()
        _logger.error("jetprof: weaver stopped with an exception (see the traceback on stderr)")
        return 1
    finally:
        sys.argv = saved_argv


# --------------------------------------------------------------------------- CLI


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seed", type=int, required=True, help="seed for every random generator")
    parser.add_argument("--tensorboard-dir", help="fixed folder for weaver's TensorBoard events")
    parser.add_argument(
        "--async-load",
        action="store_true",
        help="keep weaver's background-thread data loading (faster, not reproducible)",
    )
    parser.add_argument("--threads", type=int, default=schema_default("train.threads"),
                        help="torch intra-op threads (default: the study's train.threads)")
    g = parser.add_argument_group("config mode (instead of raw weaver arguments)")
    g.add_argument("--mode", choices=("train", "predict"), help="build weaver's arguments from a config")
    g.add_argument("--config-json", help="training config as JSON (keys: see jetprof.train.launcher.DEFAULT_CONFIG)")
    g.add_argument("--data-train", help="glob of training files")
    g.add_argument("--data-val", help="glob of validation files")
    g.add_argument("--data-test", help="glob of test files (predict)")
    g.add_argument("--data-config", help="weaver data config (a copy: weaver writes beside it)")
    g.add_argument("--network-config", help="weaver network config")
    g.add_argument("--model-prefix", help="train: checkpoint prefix")
    g.add_argument("--checkpoint", help="predict: the state file to load")
    g.add_argument("--predict-output", help="predict: output ROOT file")
    g.add_argument("--log", help="weaver's log file")
    g.add_argument("--device", default=schema_default("train.device"), help="cpu, cuda or cuda:N")
    parser.add_argument("weaver_args", nargs=argparse.REMAINDER, help="-- then weaver's own arguments")


def _need(args: argparse.Namespace, *names: str) -> None:
    missing = [n for n in names if getattr(args, n) is None]
    if missing:
        flags = ", ".join("--" + n.replace("_", "-") for n in missing)
        raise JetprofError(f"--mode {args.mode} needs {flags}")


def build_args(args: argparse.Namespace) -> list[str]:
    """The weaver argument list for the parsed ``jetprof weaver`` command line."""
    extra = list(args.weaver_args or [])
    if extra and extra[0] == "--":
        extra = extra[1:]
    if args.mode is None:
        if not extra:
            raise JetprofError("no weaver arguments: use `jetprof weaver --seed S -- <weaver args>` or --mode")
        return extra
    try:
        cfg = json.loads(args.config_json) if args.config_json else {}
    except json.JSONDecodeError as exc:
        raise JetprofError(f"--config-json is not valid JSON: {exc}") from None
    if not isinstance(cfg, dict):
        raise JetprofError("--config-json must be a JSON object")
    cfg = {k: v for k, v in cfg.items() if k != "seed"}
    if args.mode == "train":
        _need(args, "data_train", "data_val", "data_config", "network_config", "model_prefix", "log")
        built = weaver_train_args(
            cfg,
            data_train=args.data_train,
            data_val=args.data_val,
            data_config=args.data_config,
            network_config=args.network_config,
            model_prefix=args.model_prefix,
            log=args.log,
            tensorboard=args.tensorboard_dir,
            device=args.device,
        )
    else:
        _need(args, "data_test", "data_config", "network_config", "checkpoint", "predict_output", "log")
        built = weaver_predict_args(
            cfg,
            data_test=args.data_test,
            data_config=args.data_config,
            network_config=args.network_config,
            checkpoint=args.checkpoint,
            predict_output=args.predict_output,
            log=args.log,
            device=args.device,
        )
    return built + extra


def run(args: argparse.Namespace) -> int:
    weaver_args = build_args(args)
    if args.mode is not None:
        for p in (args.data_config, args.network_config) + ((args.checkpoint,) if args.mode == "predict" else ()):
            if not Path(p).is_file():
                raise JetprofError(f"{p}: file not found")
        if args.mode == "train":  # a network config that does not build stops here, in one line
            from jetprof.model.build import build_model

            build_model(args.network_config, args.data_config)
        # a fresh log per run: weaver appends, and evaluate parses the epochs from it
        Path(args.log).parent.mkdir(parents=True, exist_ok=True)
        Path(args.log).unlink(missing_ok=True)
        if args.mode == "predict":
            Path(args.predict_output).unlink(missing_ok=True)
    print(f"jetprof weaver: seed={args.seed} weaver {shlex.join(weaver_args)}", file=sys.stderr)
    rc = run_weaver(
        weaver_args,
        seed=args.seed,
        tensorboard_dir=args.tensorboard_dir,
        sync_load=not args.async_load,
        threads=args.threads,
    )
    if rc == 0 and args.mode == "predict" and not Path(args.predict_output).is_file():
        # weaver logs a failed write as an error and still exits 0
        raise JetprofError(f"{args.predict_output}: weaver did not write the predictions (see {args.log})")
    if rc == 0 and args.mode == "train":
        best = Path(args.model_prefix + "_best_epoch_state.pt")
        if not best.is_file():
            raise JetprofError(f"{best}: weaver finished without a best checkpoint (see {args.log})")
    return rc
