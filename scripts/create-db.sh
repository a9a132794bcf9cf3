#!/usr/bin/env bash
# Create PostgreSQL database NAME on the server of DATABASE_URL if it does not exist.
# With --fresh, drop it first (terminating its other connections) so it starts empty.
#
# Usage: scripts/create-db.sh NAME [--fresh]
# Only the server part of DATABASE_URL is used (we connect to its "postgres" database); when
# DATABASE_URL is unset, the URL written by scripts/ensure-services.sh is used.
set -euo pipefail
# shellcheck source=scripts/_common.sh
source "$(dirname "${BASH_SOURCE[0]}")/_common.sh"

usage() { die "usage: ${0##*/} NAME [--fresh]"; }

(($# >= 1 && $# <= 2)) || usage
name=$1
fresh=off
case ${2:-} in
    "") ;;
    --fresh) fresh=on ;;
    *) usage ;;
esac
[[ $name =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || die "invalid database name: $name"

if [[ -z ${DATABASE_URL:-} && -f $SERVICES_ENV ]]; then
    # shellcheck source=/dev/null
    source "$SERVICES_ENV"
fi
[[ -n ${DATABASE_URL:-} ]] || die "DATABASE_URL is not set (run scripts/ensure-services.sh first)"
admin_url=$(url_with_db "$(pg_url_normalise "$DATABASE_URL")" postgres)

if have psql; then
    psql -X -q -w -v ON_ERROR_STOP=1 -v db="$name" -v fresh="$fresh" -d "$admin_url" <<'SQL'
SET client_min_messages = warning;
\if :fresh
SELECT pg_terminate_backend(pid) FROM pg_stat_activity
 WHERE datname = :'db' AND pid <> pg_backend_pid() \g /dev/null
SELECT current_setting('server_version_num')::int >= 130000 AS can_force \gset
\if :can_force
DROP DATABASE IF EXISTS :"db" WITH (FORCE);
\else
DROP DATABASE IF EXISTS :"db";
\endif
\endif
SELECT format('CREATE DATABASE %I', :'db')
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'db') \gexec
SQL
else
    venv_python - "$admin_url" "$name" "$fresh" <<'PY'
import sys

import psycopg
from psycopg import sql

url, name, fresh = sys.argv[1:]
with psycopg.connect(url, autocommit=True) as conn:
    if fresh == "on":
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        )
        force = sql.SQL(" WITH (FORCE)") if conn.info.server_version >= 130000 else sql.SQL("")
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)) + force)
    if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
PY
fi

if [[ $fresh == on ]]; then
    log "database $name recreated empty"
else
    log "database $name ready"
fi
