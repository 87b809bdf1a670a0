#!/usr/bin/env bash
# Install the Debian packages the tests use, only those missing: chromium and chromium-driver (the /docs browser test,
# tests/service/test_docs_page.py; no browser download of its own, such as Selenium Manager's, is used), strace
# (tests/training/test_registry_durability.py) and wrk (tests/bench/test_bench_parts.py). `make test` runs it first.
# Usage: system-tools.sh [PACKAGE...] (default: all four).
# Exit 0 when every package's command is there afterwards; exit 3 with one line on stderr when some are missing and
# cannot be installed here (not root, no apt-get, or the package index cannot be reached): the tests using them skip.
set -euo pipefail
declare -A command_of=([chromium]=chromium [chromium-driver]=chromedriver [strace]=strace [wrk]=wrk)
packages=("$@")
[ ${#packages[@]} -gt 0 ] || packages=(chromium chromium-driver strace wrk)
missing=()
for package in "${packages[@]}"; do
    command -v "${command_of[$package]:?unknown package $package}" >/dev/null 2>&1 || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "system tools missing: ${missing[*]}; apt-get cannot install them here (needs root on Debian), so the tests using them skip" >&2
    exit 3
fi
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! timeout 300 apt-get update -qq >"$log" 2>&1 ||
        ! DEBIAN_FRONTEND=noninteractive timeout 900 apt-get install -y -qq --no-install-recommends \
            "${missing[@]}" >>"$log" 2>&1; then
    tail -n 20 "$log" >&2
    echo "system tools missing: ${missing[*]}; apt-get could not install them, so the tests using them skip" >&2
    exit 3
fi
