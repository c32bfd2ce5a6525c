#!/usr/bin/env bash
# Lint everything: Python (ruff, configured in pyproject.toml), the package's types (mypy on src/,
# at the strictness [tool.mypy] in pyproject.toml states), the Snakemake files' formatting (snakefmt)
# and the workflow itself (snakemake --lint).
# Runs all four and exits 1 if any of them has a finding.
#
#     scripts/lint.sh          # from anywhere; needs `pip install -e '.[test]'`
set -uo pipefail
cd "$(dirname "$0")/.."

failed=()
run() {
    echo "== $*"
    if ! "$@"; then
        failed+=("$1")
    fi
}

run ruff check .
run mypy
run snakefmt --check .
run snakemake --lint

if ((${#failed[@]})); then
    echo "lint: findings from ${failed[*]}" >&2
    exit 1
fi
echo "lint: no findings"
