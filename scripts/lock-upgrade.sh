#!/usr/bin/env bash
# Take the newest dependency set into the lock, once it has passed the suite.
#
#   scripts/lock-upgrade.sh NEW LOCK              copy NEW over LOCK if `make test-latest` passed
#                                                 on exactly NEW (its NEW.passed checksum)
#   scripts/lock-upgrade.sh --compare NEW LOCK    print the pins that differ between the two
#
# NEW is the set `make test-latest` resolved (.data/latest/requirements.lock). A refresh that
# skipped the trial would let a release nobody has tested into every clone (docs/dependencies.md).
set -euo pipefail
# shellcheck source=scripts/_common.sh
source "$(dirname "${BASH_SOURCE[0]}")/_common.sh"

# pins FILE: "name==version [; marker]" per pinned distribution, sorted.
pins() { grep -E '^[A-Za-z0-9]' "$1" | sed -e 's/ *\\$//' | sort; }

if [[ ${1:-} == --compare ]]; then
    (($# == 3)) || die "usage: ${0##*/} --compare NEW LOCK"
    changes=$(diff <(pins "$3") <(pins "$2") | grep -E '^[<>]' || true)
    if [[ -z $changes ]]; then
        echo "  none: the lock already holds the newest versions"
    else
        sed -e 's/^< /  locked: /' -e 's/^> /  newest: /' <<<"$changes"
    fi
    exit 0
fi

(($# == 2)) || die "usage: ${0##*/} NEW LOCK"
new=$1 lock=$2
[[ -f $new ]] || die "$new not found: run \`make test-latest\` first"
if ! (cd "$(dirname "$new")" && sha256sum --check --status "$(basename "$new").passed" 2>/dev/null); then
    die "\`make test-latest\` has not passed on $new: run it, fix what fails, then try again"
fi
cp "$new" "$lock"
log "$lock now holds the set make test-latest passed"
