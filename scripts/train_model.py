"""Snakemake entry point of rule train_model: weaver's CLI, seeded, with explicit paths."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from jetprof.train import weaver_train_args

sm = snakemake  # noqa: F821  (injected by Snakemake)
cfg = dict(sm.params.train)
out = Path(sm.output.checkpoint).parent
out.mkdir(parents=True, exist_ok=True)
# weaver writes `<data config>.<hash>.auto.yaml` beside the data config: give it our copy
shutil.copyfile(sm.input.data_config, sm.output.data_config)
args = weaver_train_args(
    cfg,
    data_train=sm.params.data_train,
    data_val=sm.params.data_val,
    data_config=sm.output.data_config,
    network_config=sm.input.network_config,
    model_prefix=sm.params.prefix,
    log=sm.output.weaver_log,
    tensorboard=sm.params.tensorboard,
    device=cfg["device"],
)
cmd = ["jetprof", "weaver", "--seed", str(cfg["seed"]), "--threads", str(sm.threads), "--", *args]
with open(sm.log[0], "w") as log:
    print("$", " ".join(cmd), file=log, flush=True)
    rc = subprocess.call(cmd, stdout=log, stderr=subprocess.STDOUT)
if rc != 0:
    sys.exit(f"weaver training failed (exit {rc}); see {sm.log[0]}")
if not Path(sm.output.checkpoint).is_file():
    sys.exit(f"weaver finished but wrote no {sm.output.checkpoint}; see {sm.log[0]}")
