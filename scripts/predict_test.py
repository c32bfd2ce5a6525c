"""Snakemake entry point of rule predict_test: ``weaver --predict`` on the test split."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from jetprof.train import weaver_predict_args

sm = snakemake  # noqa: F821  (injected by Snakemake)
cfg = dict(sm.params.train)
Path(sm.output.pred).parent.mkdir(parents=True, exist_ok=True)
args = weaver_predict_args(
    cfg,
    data_test=sm.params.data_test,
    data_config=sm.input.data_config,
    network_config=sm.input.network_config,
    checkpoint=sm.input.checkpoint,
    predict_output=sm.output.pred,
    device=cfg["device"],
)
cmd = ["jetprof", "weaver", "--seed", str(cfg["seed"]), "--threads", str(sm.threads), "--", *args]
with open(sm.log[0], "w") as log:
    print("$", " ".join(cmd), file=log, flush=True)
    rc = subprocess.call(cmd, stdout=log, stderr=subprocess.STDOUT)
if rc != 0 or not Path(sm.output.pred).is_file():
    sys.exit(f"weaver --predict failed (exit {rc}); see {sm.log[0]}")
