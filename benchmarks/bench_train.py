"""Training throughput (jets/s) of ``jetprof weaver`` on this machine, for a small run.

Writes tiny fake JetClass files (the test suite's writer), runs one seeded
training through the real weaver CLI in a fresh process, and reports weaver's
own per-epoch speed ("Processed N entries ... avg. speed X entries/s") and the
wall time. Usage::

    python benchmarks/bench_train.py [--jets-per-epoch 256] [--batch-size 32] [--epochs 2] [--threads 2]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--jets-per-epoch", type=int, default=256)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--async-load", action="store_true", help="weaver's background loading (not reproducible)")
    a = p.parse_args()

    spec = importlib.util.spec_from_file_location("_tt", REPO / "tests" / "test_train.py")
    assert spec and spec.loader
    tt = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tt)
    from jetprof.train.evaluate import parse_weaver_log

    with tempfile.TemporaryDirectory() as d:
        root = Path(d)
        n_per_class = max(2, a.jets_per_epoch // 10 + 1)
        tt.write_fake_jetclass(root / "train" / "F_000.root", n_per_class, seed=1)
        tt.write_fake_jetclass(root / "val" / "F_000.root", 4, seed=2)
        (root / "dc.yaml").write_text((REPO / "workflow" / "weaver" / "JetClass_full.yaml").read_text())
        cfg = {"num_epochs": a.epochs, "samples_per_epoch": a.jets_per_epoch, "samples_per_epoch_val": 32,
               "batch_size": a.batch_size}
        cmd = [sys.executable, "-m", "jetprof.cli", "weaver", "--seed", "1", "--threads", str(a.threads),
               "--mode", "train", "--config-json", json.dumps(cfg),
               "--data-train", str(root / "train" / "*.root"), "--data-val", str(root / "val" / "*.root"),
               "--data-config", str(root / "dc.yaml"),
               "--network-config", str(REPO / "workflow" / "weaver" / "ParT.py"),
               "--model-prefix", str(root / "out" / "net"), "--log", str(root / "out" / "weaver.log")]
        if a.async_load:
            cmd.insert(cmd.index("--mode"), "--async-load")
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        if proc.returncode != 0:
            print(proc.stderr[-3000:], file=sys.stderr)
            return proc.returncode
        curves = parse_weaver_log(root / "out" / "weaver.log")
    speeds = curves["train_jets_per_s"]
    result = {
        "jets_per_epoch": a.jets_per_epoch, "batch_size": a.batch_size, "epochs": a.epochs, "threads": a.threads,
        "train_jets_per_s_per_epoch": speeds, "train_jets_per_s_last_epoch": speeds[-1],
        "wall_s_total_process": round(wall, 1), "async_load": a.async_load,
    }
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
