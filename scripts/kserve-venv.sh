#!/usr/bin/env bash
# Create (once) .venv-kserve holding KServe's Python SDK (kserve 0.21.0, for its InferenceRESTClient), which cannot
# share the test venv: it requires pandas<3 while the service pins pandas 3. The protocol tests drive it in a
# subprocess (tests/service/clients/kserve_client.py).
# Prints the venv's python path on success; exit 3 when the package index cannot be reached (callers skip with that reason).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/venv-lib.sh
source "$root/scripts/venv-lib.sh"
venv="$root/.venv-kserve"
make_venv "$venv" "$venv/.installed-0.21.0" kserve==0.21.0
echo "$venv/bin/python"
