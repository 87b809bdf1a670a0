# shellcheck shell=bash
# Shared helpers for the image scripts: install rootful podman, configure it without touching /etc, and provide the
# base image (the real python:3.11-slim when present or pullable, else a local stand-in built from Debian bookworm).
# Sourced by build-image.sh, run-image.sh and ci-check.sh; defines functions only.

BASE_IMAGE="python:3.11-slim"
STANDIN_LABEL="io.github.sklearn-scoring.standin"
DEBIAN_IMAGE="localhost/debian-python3:bookworm-local"

log() { printf '[%s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# Install podman and what rootful podman needs here (runc, CNI plugins, iptables), and mmdebstrap, when missing.
# Idempotent: does nothing when every command is already on PATH.
podman_install() {
    local missing=()
    local cmd
    for cmd in podman runc iptables mmdebstrap; do
        command -v "$cmd" >/dev/null 2>&1 || missing+=("$cmd")
    done
    [ -d /usr/lib/cni ] || missing+=("cni-plugins")
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
        die "missing ${missing[*]}: install podman, runc, CNI plugins, iptables, mmdebstrap (or run as root on Debian)"
    fi
    log "installing podman, runc, containernetworking-plugins, iptables, mmdebstrap (missing: ${missing[*]})"
    timeout 300 apt-get update -qq || die "apt-get update failed"
    DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -qq --no-install-recommends \
        podman runc containernetworking-plugins iptables mmdebstrap >/dev/null || die "apt-get install failed"
}

# Write a containers.conf into directory $1 and export CONTAINERS_CONF. Rootful podman's default rlimits exceed the
# hard limits when root lacks CAP_SYS_RESOURCE, and crun refuses hybrid cgroups, so: rlimits within the hard limit,
# runc, cgroupfs. --ulimit replaces default_ulimits, so both limits are set here.
podman_configure() {
    local dir=$1 nofile
    nofile=$(ulimit -Hn)
    [ "$nofile" = unlimited ] && nofile=1048576
    cat >"$dir/containers.conf" <<CONF
[containers]
default_ulimits = ["nofile=${nofile}:${nofile}", "nproc=4096:4096"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
CONF
    export CONTAINERS_CONF="$dir/containers.conf"
    timeout 60 podman info >/dev/null || die "podman info failed with $CONTAINERS_CONF"
}

# True when the local python:3.11-slim is our stand-in (it carries $STANDIN_LABEL).
base_is_standin() {
    [ "$(podman image inspect --format "{{ index .Labels \"$STANDIN_LABEL\" }}" "$BASE_IMAGE" 2>/dev/null)" = true ]
}

# The first Debian mirror apt is configured with (deb822 sources first, then sources.list).
debian_mirror() {
    local mirror=""
    if compgen -G "/etc/apt/sources.list.d/*.sources" >/dev/null; then
        mirror=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/*.sources)
    fi
    if [ -z "$mirror" ] && [ -f /etc/apt/sources.list ]; then
        mirror=$(awk '$1=="deb"{print $2; exit}' /etc/apt/sources.list)
    fi
    [ -n "$mirror" ] || die "no Debian mirror found in /etc/apt/sources.list.d/*.sources or /etc/apt/sources.list"
    printf '%s\n' "$mirror"
}

# Build the stand-in python:3.11-slim once per machine: a bookworm rootfs with Debian's python3 (3.11), pip and
# venv, made by mmdebstrap in one step (parallel downloads, no apt-get inside a container) and imported as
# $DEBIAN_IMAGE, then finished by docker/standin/Containerfile. $1: a scratch directory. The host's extra CA
# certificates are baked into this CI-only base so pip inside builds trusts a TLS-intercepting proxy; the project
# Dockerfiles stay unchanged.
standin_build() {
    local work=$1 here
    here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
    if ! podman image exists "$DEBIAN_IMAGE"; then
        local mirror
        mirror=$(debian_mirror)
        # Check-Valid-Until/Date off as in the host's apt config (snapshot mirrors); mmdebstrap keeps them in the image.
        log "mmdebstrap --variant=minbase bookworm + python3 (log: $work/mmdebstrap.log)"
        timeout 900 mmdebstrap --variant=minbase --include=python3,python3-pip,python3-venv,ca-certificates \
            --aptopt='Acquire::Check-Valid-Until "false"' --aptopt='Acquire::Check-Date "false"' \
            bookworm "$work/rootfs.tar" "$mirror" >"$work/mmdebstrap.log" 2>&1 \
            || { tail -n 30 "$work/mmdebstrap.log" >&2; die "mmdebstrap failed"; }
        timeout 300 podman import -q "$work/rootfs.tar" "$DEBIAN_IMAGE" >/dev/null \
            || die "podman import of the bookworm rootfs failed"
        rm -f "$work/rootfs.tar"
    fi
    local cas=/usr/local/share/ca-certificates
    [ -d "$cas" ] || cas=$(mktemp -d "$work/no-ca.XXXX")
    log "building the stand-in $BASE_IMAGE (log: $work/standin.log)"
    timeout 600 podman build --pull=never --format docker -v "$cas:/host-ca:ro" \
        --build-arg "DEBIAN_IMAGE=$DEBIAN_IMAGE" --label "$STANDIN_LABEL=true" \
        -t "$BASE_IMAGE" "$here/standin" >"$work/standin.log" 2>&1 \
        || { tail -n 30 "$work/standin.log" >&2; die "stand-in base build failed"; }
}

# Make $BASE_IMAGE available: keep a local one, else pull the real one (unless STANDIN_ONLY=1), else build the stand-in.
# $1: a scratch directory.
base_ensure() {
    if podman image exists "$BASE_IMAGE"; then
        return 0
    fi
    if [ "${STANDIN_ONLY:-0}" != 1 ] && timeout "${PULL_TIMEOUT:-60}" podman pull -q "$BASE_IMAGE" \
        >/dev/null 2>&1; then
        return 0
    fi
    standin_build "$1"
}

# Print a clear notice about which base image the build used.
base_notice() {
    if base_is_standin; then
        log "NOTE: the base image $BASE_IMAGE is a LOCAL STAND-IN (Debian bookworm python3 3.11, built by" \
            "docker/lib.sh), not the Docker Hub image; the Dockerfile is unchanged."
    else
        log "base image: $BASE_IMAGE ($(podman image inspect --format '{{.Id}}' "$BASE_IMAGE" | cut -c1-12))"
    fi
}
