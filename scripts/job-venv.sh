#!/usr/bin/env bash
# Create (once) .venv-job holding exactly the pip packages of the Azure ML job's environment (training/sklearn-env.yml),
# so a test can run a copy of the job snapshot (training/job/) with the job's own requirements and nothing of this
# repository. Prints the venv's python path on success; exit 3 when the package index cannot be reached.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv="$root/.venv-job"
spec="$root/training/sklearn-env.yml"
stamp="$venv/.installed-$(sha256sum "$spec" | cut -c1-12)"
if [ ! -f "$stamp" ]; then
    rm -rf "$venv"
    python3 -m venv "$venv"
    # The pip: block of the conda file, one "      - package==version" line each.
    mapfile -t pins < <(sed -n '/- pip:/,$p' "$spec" | tail -n +2 | sed -n 's/^ *- \([A-Za-z].*\)$/\1/p')
    if ! "$venv/bin/pip" install -q "${pins[@]}" >"$venv/install.log" 2>&1; then
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
