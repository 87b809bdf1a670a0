#!/usr/bin/env bash
# Create (once) .venv-reference holding the reference server, azureml-inference-server-http 1.5.1, with the same
# scikit-learn/numpy/joblib pins as requirements-service.txt, so differential tests and benchmarks compare like with like.
# Prints the venv's python path on success; exit 3 when the package index cannot be reached (callers skip with that reason).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv="$root/.venv-reference"
stamp="$venv/.installed-1.5.1"
if [ ! -f "$stamp" ]; then
    python3 -m venv "$venv"
    pins=$(grep -E '^(scikit-learn|numpy|scipy|joblib|pandas)==' "$root/requirements-service.txt")
    # shellcheck disable=SC2086
    if ! "$venv/bin/pip" install -q azureml-inference-server-http==1.5.1 "inference-schema[numpy-support,pandas-support]==1.8" \
            $pins >"$venv/install.log" 2>&1; then
        if grep -qiE 'connection|resolve|network|timed out' "$venv/install.log"; then
            echo "package index unreachable, see $venv/install.log" >&2
            exit 3
        fi
        cat "$venv/install.log" >&2
        exit 1
    fi
    touch "$stamp"
fi
echo "$venv/bin/python"
