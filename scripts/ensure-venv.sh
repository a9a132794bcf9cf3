#!/usr/bin/env bash
# Create the project virtualenv (.venv, Python >= 3.11) when it is missing or unusable, and
# install the project with its dev extras (pip install -e '.[dev]') only when pyproject.toml
# changed since the last install (its sha256 is kept in a stamp file inside .venv).
# Set PYTHON=/path/to/python3.x to choose the interpreter.
set -euo pipefail
# shellcheck source=scripts/_common.sh
source "$(dirname "${BASH_SOURCE[0]}")/_common.sh"

PYPROJECT="$NORTHSTAR_ROOT/pyproject.toml"
STAMP="$VENV_DIR/.northstar-install-stamp"

python_ok() { "$1" -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1; }

find_python() {
    local candidate
    for candidate in ${PYTHON:+"$PYTHON"} python3 python3.14 python3.13 python3.12 python3.11; do
        if have "$candidate" && python_ok "$candidate"; then
            printf '%s\n' "$candidate"
            return 0
        fi
    done
    return 1
}

if [[ -e $VENV_DIR ]] && ! python_ok "$VENV_DIR/bin/python"; then
    log "$VENV_DIR is broken or older than Python 3.11; recreating it"
    rm -rf "$VENV_DIR"
fi

if [[ ! -e $VENV_DIR ]]; then
    python=$(find_python) || die "Python >= 3.11 not found. Install it (Debian:" \
        "apt-get install -y python3 python3-venv) or set PYTHON=/path/to/python3.11"
    log "creating $VENV_DIR with $("$python" --version 2>&1) ($(command -v "$python"))"
    if ! "$python" -m venv "$VENV_DIR"; then
        rm -rf "$VENV_DIR"
        die "could not create $VENV_DIR (on Debian/Ubuntu: apt-get install -y python3-venv)"
    fi
fi

wanted=$("$VENV_DIR/bin/python" -c \
    'import hashlib, sys; print(hashlib.sha256(open(sys.argv[1], "rb").read()).hexdigest())' \
    "$PYPROJECT")
installed=$(cat "$STAMP" 2>/dev/null || true)
if [[ $wanted != "$installed" ]]; then
    log "installing the project into $VENV_DIR (pyproject.toml changed since the last install)"
    rm -f "$STAMP"
    (cd "$NORTHSTAR_ROOT" && "$VENV_DIR/bin/python" -m pip install \
        --disable-pip-version-check -e '.[dev]')
    printf '%s\n' "$wanted" >"$STAMP"
fi
