#!/usr/bin/env bash
# Create (once) .venv-reference holding the reference server, azureml-inference-server-http 1.5.1, with the same
# scikit-learn/numpy/joblib pins as requirements-service.txt, so differential tests and benchmarks compare like with like.
# Prints the venv's python path on success; exit 3 when the package index cannot be reached (callers skip with that reason).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/venv-lib.sh
source "$root/scripts/venv-lib.sh"
venv="$root/.venv-reference"
pins=$(grep -E '^(scikit-learn|numpy|scipy|joblib|pandas)==' "$root/requirements-service.txt")
# shellcheck disable=SC2086
make_venv "$venv" "$venv/.installed-1.5.1" azureml-inference-server-http==1.5.1 \
    "inference-schema[numpy-support,pandas-support]==1.8" $pins
echo "$venv/bin/python"
