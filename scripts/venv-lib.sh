# shellcheck shell=bash
# Sourced by reference-venv.sh, kserve-venv.sh and job-venv.sh: side venvs for packages that cannot share .venv.

# make_venv VENV STAMP PIP_ARGS...: create VENV and pip install PIP_ARGS into it, unless STAMP exists (the install log
# stays in VENV). Exits 3 when the package index cannot be reached (callers skip with that reason), 1 on other failures.
make_venv() {
    local venv=$1 stamp=$2
    shift 2
    [ -f "$stamp" ] && return 0
    python3 -m venv "$venv"
    if ! "$venv/bin/python" -m pip install -q "$@" >"$venv/install.log" 2>&1; then
        if grep -qiE 'connection|resolve|network|timed out' "$venv/install.log"; then
            echo "package index unreachable, see $venv/install.log" >&2
            exit 3
        fi
        cat "$venv/install.log" >&2
        exit 1
    fi
    touch "$stamp"
}
