#!/usr/bin/env bash
# Run the service image on 127.0.0.1:$PORT with a model directory mounted read-only (`make image-run`).
# Usage: bash docker/run-image.sh <model dir> [podman run options, e.g. -e WORKER_COUNT=2]
# Env:   IMAGE (default localhost/sklearn-scoring:latest; built first when missing), PORT (default 5001),
#        ENTRY_SCRIPT (optional score.py mounted at /var/azureml-app/ and set as AZUREML_ENTRY_SCRIPT).
# The model is mounted at /var/azureml-app/azureml-models/<name>/<version>, taken from the directory's last two path
# components (<registry>/<name>/<version>), as Azure ML lays models out. Ctrl-C stops the container gracefully.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=docker/lib.sh
source "$here/lib.sh"

usage="usage: bash docker/run-image.sh <model dir> [podman run options]"
if [ $# -lt 1 ] || [ -z "$1" ]; then
    echo "$usage" >&2
    exit 2
fi
model_dir=$1
shift
if [ ! -f "$model_dir/model.json" ]; then
    echo "run-image.sh: expected a model directory holding model.json, got '$model_dir'" >&2
    exit 2
fi
model_dir=$(cd "$model_dir" && pwd)
version=$(basename "$model_dir")
name=$(basename "$(dirname "$model_dir")")
IMAGE=${IMAGE:-localhost/sklearn-scoring:latest}
PORT=${PORT:-5001}
target=/var/azureml-app/azureml-models/$name/$version

script_args=()
if [ -n "${ENTRY_SCRIPT:-}" ]; then
    [ -f "$ENTRY_SCRIPT" ] || { echo "run-image.sh: ENTRY_SCRIPT='$ENTRY_SCRIPT' is not a file" >&2; exit 2; }
    script=$(cd "$(dirname "$ENTRY_SCRIPT")" && pwd)/$(basename "$ENTRY_SCRIPT")
    script_args=(-v "$script:/var/azureml-app/$(basename "$script"):ro" -e "AZUREML_ENTRY_SCRIPT=$(basename "$script")")
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
podman_install
podman_configure "$work"
if ! podman image exists "$IMAGE"; then
    IMAGE=$IMAGE bash "$here/build-image.sh"
fi

name_tag="sklearn-scoring-$PORT"
log "serving $model_dir as $name:$version on http://127.0.0.1:$PORT (container $name_tag, Ctrl-C to stop)"
body='{"data": [[5.1, 3.5, 1.4, 0.2]]}'
log "try: curl -s -H 'Content-Type: application/json' -d '$body' http://127.0.0.1:$PORT/score"
podman run --rm --name "$name_tag" -p "127.0.0.1:$PORT:5001" \
    -v "$model_dir:$target:ro" -e "AZUREML_MODEL_DIR=$target" "${script_args[@]}" "$@" "$IMAGE"
