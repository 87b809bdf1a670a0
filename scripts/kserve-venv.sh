#!/usr/bin/env bash
# Create (once) .venv-kserve holding KServe's Python SDK (kserve 0.21.0, for its InferenceRESTClient), which cannot
# share the test venv: it requires pandas<3 while the service pins pandas 3. The protocol tests drive it in a
# subprocess (tests/service/protocols/kserve_client.py).
# Prints the venv's python path on success; exit 3 when the package index cannot be reached (callers skip with that reason).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv="$root/.venv-kserve"
version=0.21.0
stamp="$venv/.installed-$version"
if [ ! -f "$stamp" ]; then
    python3 -m venv "$venv"
    if ! "$venv/bin/python" -m pip install -q "kserve==$version" >"$venv/install.log" 2>&1; then
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
