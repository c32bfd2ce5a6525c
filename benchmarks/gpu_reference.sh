#!/usr/bin/env bash
# One command on the GPU machine (from the repo root, with .whl carried):
#   bash benchmarks/gpu_reference.sh
# installs weaver-core + awkward (+ uproot) from .whl into /tmp/site, then runs the sweep into $OUT.
set -euo pipefail
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
export PYTHONPATH="$PWD/src:/tmp/site${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
python3 -c "import torch, weaver, awkward, numba, jsonschema, uproot; print('torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.get_device_name(0))"
python3 benchmarks/gpu_reference.py --out "${OUT:-/tmp/out}" "$@"
