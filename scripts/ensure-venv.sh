#!/usr/bin/env bash
# Create the project virtualenv (.venv, Python >= 3.11) when it is missing or unusable, and
# install exactly the lock file into it whenever the lock or pyproject.toml changed since the
# last install (their sha256 is kept in a stamp file inside the venv):
#   1. pip installs every pin of requirements.lock, checking its hashes;
#   2. whatever is installed but not locked is uninstalled;
#   3. the project itself is installed editable, without dependencies and without build
#      isolation (so its build backend is the locked setuptools, not the newest one).
# Set PYTHON=/path/to/python3.x to choose the interpreter, NORTHSTAR_VENV to move the venv and
# NORTHSTAR_LOCK to install another lock (make test-latest).
set -euo pipefail
# shellcheck source=scripts/_common.sh
source "$(dirname "${BASH_SOURCE[0]}")/_common.sh"

LOCK="${NORTHSTAR_LOCK:-$NORTHSTAR_ROOT/requirements.lock}"
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

[[ -f $LOCK ]] || die "lock file $LOCK not found (make lock writes it)"
wanted=$("$VENV_DIR/bin/python" -c '
import hashlib, sys
digest = hashlib.sha256()
for path in sys.argv[1:]:
    digest.update(open(path, "rb").read())
print(digest.hexdigest())' "$LOCK" "$PYPROJECT")
installed=$(cat "$STAMP" 2>/dev/null || true)
if [[ $wanted != "$installed" ]]; then
    log "installing ${LOCK#"$NORTHSTAR_ROOT"/} into $VENV_DIR (the lock or pyproject.toml changed)"
    rm -f "$STAMP"
    pip=("$VENV_DIR/bin/python" -m pip --disable-pip-version-check)
    "${pip[@]}" install --quiet --require-hashes -r "$LOCK"
    mapfile -t extras < <("$VENV_DIR/bin/python" "$NORTHSTAR_ROOT/scripts/lock_check.py" \
        "$LOCK" --extras)
    if ((${#extras[@]})); then
        log "removing what the lock does not hold: ${extras[*]}"
        "${pip[@]}" uninstall --yes "${extras[@]}"
    fi
    (cd "$NORTHSTAR_ROOT" && "${pip[@]}" install --quiet --no-deps --no-build-isolation -e .)
    printf '%s\n' "$wanted" >"$STAMP"
fi
