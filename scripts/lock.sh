#!/usr/bin/env bash
# Resolve the whole dependency set (runtime + test, demo and dev extras, and setuptools for the
# editable install) to exact versions with hashes, for every platform and Python >= 3.11.
#
#   scripts/lock.sh OUTPUT [--upgrade]
#
# Without --upgrade, versions already pinned in OUTPUT are kept where the ranges in
# pyproject.toml still allow them (only what changed is resolved again); with --upgrade, the
# newest versions the ranges allow are taken. `make lock` writes requirements.lock with
# --upgrade; `make test-latest` resolves the newest set into .data/latest/ to try it first
# (docs/dependencies.md). Needs uv, which the dev extra installs into .venv.
set -euo pipefail
# shellcheck source=scripts/_common.sh
source "$(dirname "${BASH_SOURCE[0]}")/_common.sh"

(($# >= 1 && $# <= 2)) || die "usage: ${0##*/} OUTPUT [--upgrade]"
output=$1
upgrade=()
case ${2:-} in
    "") ;;
    --upgrade) upgrade=(--upgrade) ;;
    *) die "usage: ${0##*/} OUTPUT [--upgrade]" ;;
esac

uv="$VENV_DIR/bin/uv"
[[ -x $uv ]] || die "$uv not found: run \`make venv\` first (uv comes with the dev extra)"

cd "$NORTHSTAR_ROOT"
# setuptools: the build backend of the editable install, which runs without build isolation
# so that it uses the locked version (scripts/ensure-venv.sh).
printf 'setuptools>=77\n' | "$uv" pip compile pyproject.toml - \
    --all-extras \
    --universal \
    --python-version 3.11 \
    --generate-hashes \
    --no-annotate \
    --quiet \
    --custom-compile-command "make lock" \
    "${upgrade[@]}" \
    --output-file "$output"
log "wrote $output ($(grep -c '==' "$output") pinned distributions)"
