#!/usr/bin/env bash
# Build the service image from docker/Dockerfile with podman (`make image`).
# Usage: bash docker/build-image.sh [podman build options, e.g. --build-arg MODEL_DIR=models/<name>/<version>]
# Env:   IMAGE (default localhost/sklearn-scoring:latest), DOCKERFILE (default docker/Dockerfile; e.g.
#        docker/Dockerfile.train for the training job image), STANDIN_ONLY=1 to never try pulling python:3.11-slim.
# Installs podman when missing (root on Debian), and uses a local stand-in python:3.11-slim when the real one is
# neither present nor pullable. Prints the image size. Exit 1 on failure, with the tail of the build log.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
# shellcheck source=docker/lib.sh
source "$here/lib.sh"

IMAGE=${IMAGE:-localhost/sklearn-scoring:latest}
DOCKERFILE=${DOCKERFILE:-docker/Dockerfile}
[ -f "$root/$DOCKERFILE" ] || { echo "build-image.sh: DOCKERFILE=$DOCKERFILE is not a file under $root" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

podman_install
podman_configure "$work"
base_ensure "$work"
base_notice

log "building $IMAGE from $DOCKERFILE (log: $work/build.log)"
start=$SECONDS
if ! timeout 900 podman build --pull=never --format docker -f "$root/$DOCKERFILE" -t "$IMAGE" "$@" "$root" \
    >"$work/build.log" 2>&1; then
    tail -n 30 "$work/build.log" >&2
    die "podman build of $IMAGE failed"
fi
size=$(podman image inspect --format '{{.Size}}' "$IMAGE")
log "built $IMAGE in $((SECONDS - start)) s, size $((size / 1000000)) MB"
