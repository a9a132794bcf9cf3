#!/usr/bin/env bash
# Make sure the browser the end-to-end tests drive is installed: Debian's Chromium
# (/usr/bin/chromium) and its matching ChromeDriver (/usr/bin/chromedriver). The tests use no
# other browser build and download nothing at run time (tests/e2e, docs/testing.md).
#
#   1. both present: print their versions and stop;
#   2. else on Debian with apt-get: `apt-get install -y chromium chromium-driver`, as root or
#      through sudo (non-interactive: `sudo -n`, so it never waits for a password);
#   3. else stop with the exact command to run.
# The paths are the ones tests/e2e/browser.py starts.
set -euo pipefail
# shellcheck source=scripts/_common.sh
source "$(dirname "${BASH_SOURCE[0]}")/_common.sh"

CHROMIUM=/usr/bin/chromium
CHROMEDRIVER=/usr/bin/chromedriver
PACKAGES=(chromium chromium-driver)

browser_present() { [[ -x $CHROMIUM && -x $CHROMEDRIVER ]]; }

# The command that installs the packages, with sudo when we are not root.
install_command() {
    local sudo=""
    is_root || sudo="sudo "
    echo "${sudo}apt-get update && ${sudo}apt-get install -y ${PACKAGES[*]}"
}

# as_admin CMD...: run CMD as root (directly, or through sudo that needs no password).
as_admin() {
    if is_root; then
        "$@"
    else
        sudo -n "$@"
    fi
}

can_install() {
    [[ -f /etc/debian_version ]] && have apt-get || return 1
    is_root && return 0
    have sudo && sudo -n true 2>/dev/null
}

report() {
    log "Chromium: $("$CHROMIUM" --version 2>/dev/null | head -n 1 || echo "? ($CHROMIUM)")"
    log "ChromeDriver: $("$CHROMEDRIVER" --version 2>/dev/null | head -n 1 || echo "? ($CHROMEDRIVER)")"
}

main() {
    if browser_present; then
        report
        return 0
    fi
    log "Chromium ($CHROMIUM) or ChromeDriver ($CHROMEDRIVER) is missing; the browser tests need both"
    if ! can_install; then
        die "$(
            cat <<EOF
cannot install Chromium here (not Debian, or not root and no password-less sudo). Run:

    $(install_command)

then try again.
EOF
        )"
    fi
    log "installing ${PACKAGES[*]} (apt-get)"
    export DEBIAN_FRONTEND=noninteractive
    as_admin apt-get update </dev/null
    as_admin env DEBIAN_FRONTEND=noninteractive apt-get install -y "${PACKAGES[@]}" </dev/null
    browser_present || die "Chromium or ChromeDriver still missing after installing; run: $(install_command)"
    report
}

main "$@"
