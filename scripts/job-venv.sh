#!/usr/bin/env bash
# Create (once) .venv-job holding exactly the pip packages of the Azure ML job's environment (training/sklearn-env.yml),
# so a test can run a copy of the job snapshot (training/job/) with the job's own requirements and nothing of this
# repository. Prints the venv's python path on success; exit 3 when the package index cannot be reached.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/venv-lib.sh
source "$root/scripts/venv-lib.sh"
venv="$root/.venv-job"
spec="$root/training/sklearn-env.yml"
# The pip: block of the conda file, one "      - package==version" line each.
mapfile -t pins < <(sed -n '/- pip:/,$p' "$spec" | tail -n +2 | sed -n 's/^ *- \([A-Za-z].*\)$/\1/p')
make_venv "$venv" "$venv/.installed-$(sha256sum "$spec" | cut -c1-12)" "${pins[@]}"
echo "$venv/bin/python"
