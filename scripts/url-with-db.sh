#!/usr/bin/env bash
# Print URL with its database part replaced: a PostgreSQL database name or a Redis db number.
# Credentials, host, port and query string are kept.
#
# Usage: scripts/url-with-db.sh URL DB
#   scripts/url-with-db.sh postgresql://postgres@127.0.0.1:5432/northstar northstar_test
#   scripts/url-with-db.sh redis://127.0.0.1:6379/0 15
set -euo pipefail
# shellcheck source=scripts/_common.sh
source "$(dirname "${BASH_SOURCE[0]}")/_common.sh"

(($# == 2)) || die "usage: ${0##*/} URL DB"
url=$1
case $url in postgres*) url=$(pg_url_normalise "$url") ;; esac
url_with_db "$url" "$2"
