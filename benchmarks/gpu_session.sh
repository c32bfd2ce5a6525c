#!/usr/bin/env bash
# The one GPU call of a session (device machine, repo root, .whl carried):
#   bash benchmarks/gpu_session.sh
# 1. the reference sweep (records -> $OUT/reference.tar.gz, table -> $OUT/gpu_reference.log),
#    with trained weights too when results/train/ParT_full/net_best_epoch_state.pt was carried;
# 2. the CUDA tests (tests/test_gpu.py) -> $OUT/gpu_tests.log.
set -uo pipefail
OUT="${OUT:-/tmp/out}"
mkdir -p "$OUT"
ckpt=()
if [ -f results/train/ParT_full/net_best_epoch_state.pt ]; then
  ckpt=(--checkpoint results/train/ParT_full/net_best_epoch_state.pt)
fi
bash benchmarks/gpu_reference.sh "${ckpt[@]}" 2>&1 | tee "$OUT/gpu_reference.stdout"
export PYTHONPATH="$PWD/src:/tmp/site${PYTHONPATH:+:$PYTHONPATH}"
python3 -m pytest -q -p no:cacheprovider tests/test_gpu.py 2>&1 | tee "$OUT/gpu_tests.log"
