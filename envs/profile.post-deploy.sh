#!/usr/bin/env bash
# Snakemake runs this once, inside the freshly created conda env, from the
# workflow's working directory (the repository root). It installs jetprof itself,
# editable and without dependencies, so the env's pins stay exactly as listed in
# the YAML beside this script and `jetprof ...` in the rules runs the checkout's
# code. Set JETPROF_REPO when snakemake runs with --directory elsewhere.
set -euo pipefail
repo="${JETPROF_REPO:-$PWD}"
if ! grep -q '^name = "jetprof"' "$repo/pyproject.toml" 2>/dev/null; then
    echo "jetprof post-deploy: error: $repo/pyproject.toml is not jetprof's;" \
        "run snakemake from the repository root or set JETPROF_REPO" >&2
    exit 1
fi
python -m pip install --no-deps --no-build-isolation --editable "$repo"
