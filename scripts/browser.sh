#!/usr/bin/env bash
# Install (once) Debian's headless Chromium and its chromedriver for the /docs browser test; no browser download of
# its own (Selenium Manager, Playwright's installer) is used. Prints the chromedriver path on success.
# Exit 3 when they cannot be installed here (not root, no apt-get, or the package index cannot be reached): the
# caller skips with that reason.
set -euo pipefail
if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
    command -v chromedriver
    exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "chromium and chromium-driver are missing, and apt-get cannot install them here (needs root on Debian)" >&2
    exit 3
fi
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! timeout 300 apt-get update -qq >"$log" 2>&1 ||
        ! DEBIAN_FRONTEND=noninteractive timeout 900 apt-get install -y -qq --no-install-recommends \
            chromium chromium-driver >>"$log" 2>&1; then
    tail -n 20 "$log" >&2
    echo "apt-get could not install chromium and chromium-driver" >&2
    exit 3
fi
command -v chromedriver
