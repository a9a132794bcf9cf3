# shellcheck shell=bash
# shellcheck disable=SC2034  # variables are used by the scripts that source this file
# Helpers shared by the scripts in this directory. Sourced, never executed.
#
# Paths can be moved with NORTHSTAR_DATA_DIR (default: <repo>/.data) and NORTHSTAR_VENV
# (default: <repo>/.venv); the private service ports with NORTHSTAR_PG_PORT / NORTHSTAR_REDIS_PORT.

NORTHSTAR_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DATA_DIR="${NORTHSTAR_DATA_DIR:-$NORTHSTAR_ROOT/.data}"
VENV_DIR="${NORTHSTAR_VENV:-$NORTHSTAR_ROOT/.venv}"
SERVICES_ENV="$DATA_DIR/services.env"

DEFAULT_DATABASE_URL="postgresql://postgres@127.0.0.1:5432/northstar"
DEFAULT_REDIS_URL="redis://127.0.0.1:6379/0"

# Private services, started under $DATA_DIR only when the configured/default ones are unreachable.
PRIVATE_PG_PORT="${NORTHSTAR_PG_PORT:-54329}"
PRIVATE_REDIS_PORT="${NORTHSTAR_REDIS_PORT:-63799}"
PGDATA_DIR="$DATA_DIR/pg"
REDIS_DIR="$DATA_DIR/redis"
# When running as root, PostgreSQL runs as this user (it refuses to run as root).
PG_OS_USER="postgres"

log() { printf '%s: %s\n' "${0##*/}" "$*" >&2; }
die() {
    log "error: $*"
    exit 1
}
have() { command -v "$1" >/dev/null 2>&1; }
is_root() { [[ $(id -u) -eq 0 ]]; }

# url_with_db URL DB: URL with its path (PostgreSQL database / Redis db number) set to DB.
# Scheme, credentials, host, port and query string are kept. TCP-style URLs only.
url_with_db() {
    local url=$1 db=$2 query="" scheme rest authority
    if [[ $url == *\?* ]]; then
        query="?${url#*\?}"
        url=${url%%\?*}
    fi
    [[ $url == *://* ]] || die "not a URL: $1"
    scheme=${url%%://*}
    rest=${url#*://}
    authority=${rest%%/*}
    printf '%s://%s/%s%s\n' "$scheme" "$authority" "$db" "$query"
}

# pg_url_normalise URL: psycopg/libpq style scheme (postgres://, postgresql+driver:// -> postgresql://).
pg_url_normalise() {
    local url=$1
    case $url in
        postgres://*) url="postgresql://${url#postgres://}" ;;
        postgresql+*://*) url="postgresql://${url#*://}" ;;
    esac
    printf '%s\n' "$url"
}

# redact URL: hide a password in URL for log messages.
redact() { sed -E 's#(://[^:/@]*:)[^@/]*@#\1***@#' <<<"$1"; }

# find_pg_bindir: set PG_BINDIR to a directory holding initdb and pg_ctl. Prefers the major
# version an existing private cluster was created with, then the newest under
# /usr/lib/postgresql, then PATH.
find_pg_bindir() {
    local want="" dir candidates=()
    [[ -f $PGDATA_DIR/PG_VERSION ]] && want=$(<"$PGDATA_DIR/PG_VERSION")
    if [[ -n $want ]]; then candidates+=("/usr/lib/postgresql/$want/bin"); fi
    if compgen -G '/usr/lib/postgresql/*/bin' >/dev/null; then
        while IFS= read -r dir; do candidates+=("$dir"); done \
            < <(printf '%s\n' /usr/lib/postgresql/*/bin | sort -rV)
    fi
    if have pg_ctl; then candidates+=("$(dirname "$(readlink -f "$(command -v pg_ctl)")")"); fi
    for dir in "${candidates[@]}"; do
        if [[ -x $dir/pg_ctl && -x $dir/initdb ]]; then
            PG_BINDIR=$dir
            return 0
        fi
    done
    return 1
}

# as_pg_owner CMD...: run CMD as the user owning the private cluster (postgres when we are root).
# Runs from / so that the postgres user never trips over an unreadable working directory.
as_pg_owner() {
    if is_root; then
        (cd / && runuser -u "$PG_OS_USER" -- "$@")
    else
        "$@"
    fi
}

# venv_python ARGS...: run the project's Python (used when the PostgreSQL/Redis CLIs are missing).
venv_python() {
    [[ -x $VENV_DIR/bin/python ]] || {
        log "warning: $VENV_DIR/bin/python not found; run 'make venv' first"
        return 1
    }
    "$VENV_DIR/bin/python" "$@"
}

# pg_usable URL: 0 when the PostgreSQL server in URL answers and accepts our login
# (checked against its maintenance database "postgres").
pg_usable() {
    local url=$1 admin
    admin=$(url_with_db "$url" postgres)
    if have pg_isready; then
        pg_isready -q -t 3 -d "$url" </dev/null || return 1
        if have psql && ! PGCONNECT_TIMEOUT=5 psql -X -q -t -w -d "$admin" -c 'SELECT 1' \
            >/dev/null 2>&1 </dev/null; then
            log "PostgreSQL at $(redact "$url") answers but refuses our login; not using it"
            return 1
        fi
        return 0
    fi
    venv_python -c 'import sys, psycopg; psycopg.connect(sys.argv[1], connect_timeout=3).close()' \
        "$admin" >/dev/null 2>&1
}

# redis_usable URL: 0 when the Redis server in URL answers PING.
redis_usable() {
    local url=$1 reply
    if have redis-cli; then
        local cli=(redis-cli --no-auth-warning -u "$url" ping)
        if have timeout; then cli=(timeout 5 "${cli[@]}"); fi
        reply=$("${cli[@]}" 2>/dev/null </dev/null) || return 1
        [[ $reply == PONG ]]
        return
    fi
    venv_python -c \
        'import sys, redis; redis.Redis.from_url(sys.argv[1], socket_connect_timeout=3).ping()' \
        "$url" >/dev/null 2>&1
}
