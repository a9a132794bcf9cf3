#!/usr/bin/env bash
# Make sure PostgreSQL and Redis are reachable for Northstar, then write the chosen URLs to
# .data/services.env (`export DATABASE_URL=...` / `export REDIS_URL=...`) for the Makefile.
#
# For each service, in this order:
#   1. the configured one (DATABASE_URL / REDIS_URL) or the default
#      (postgresql://postgres@127.0.0.1:5432, redis://127.0.0.1:6379/0) if it answers;
#   2. else a private one under .data/ (PostgreSQL on 127.0.0.1:54329 in .data/pg, Redis on
#      127.0.0.1:63799 in .data/redis), started from the installed binaries or reused if running;
#   3. else, as root on Debian, `apt-get install -y postgresql redis-server` and then step 2;
#   4. else stop with the command to run.
# Stop the private services with scripts/stop-services.sh (make stop-services).
set -euo pipefail
# shellcheck source=scripts/_common.sh
source "$(dirname "${BASH_SOURCE[0]}")/_common.sh"

# ---------------------------------------------------------------------------------------------
# Private PostgreSQL

ensure_pg_os_user() {
    id -u "$PG_OS_USER" >/dev/null 2>&1 && return 0
    log "creating system user '$PG_OS_USER' to run PostgreSQL (it refuses to run as root)"
    local shell=/usr/sbin/nologin
    [[ -x $shell ]] || shell=/bin/false
    useradd --system --user-group --no-create-home --home-dir /nonexistent --shell "$shell" \
        "$PG_OS_USER"
}

# Create .data/pg for a new cluster. As root it belongs to the postgres user; if that user cannot
# reach it (e.g. the checkout lives under a private home directory), the cluster is kept in
# /var/tmp and .data/pg is a symlink to it.
prepare_pgdata_dir() {
    [[ -e $PGDATA_DIR ]] && return 0
    mkdir -m 700 "$PGDATA_DIR"
    is_root || return 0
    ensure_pg_os_user
    chown "$PG_OS_USER:" "$PGDATA_DIR"
    if ! as_pg_owner test -w "$PGDATA_DIR" 2>/dev/null; then
        local target
        target=$(mktemp -d /var/tmp/northstar-pg.XXXXXX)
        chown "$PG_OS_USER:" "$target"
        rmdir "$PGDATA_DIR"
        ln -s "$target" "$PGDATA_DIR"
        log "user '$PG_OS_USER' cannot reach $DATA_DIR; keeping the cluster in $target" \
            "(linked from $PGDATA_DIR)"
    fi
}

init_private_postgres() {
    local pgdata=$1 socket_dir=$1
    log "initialising a private PostgreSQL cluster in $PGDATA_DIR ($PG_BINDIR)"
    if ! as_pg_owner "$PG_BINDIR/initdb" -D "$pgdata" -U postgres --auth=trust -E UTF8 \
        --locale=C >"$DATA_DIR/initdb.log" 2>&1; then
        cat "$DATA_DIR/initdb.log" >&2
        die "initdb failed (output above, also in $DATA_DIR/initdb.log)"
    fi
    # Unix socket paths are limited to ~107 bytes; deep checkouts get TCP only.
    if ((${#socket_dir} > 80)); then socket_dir=""; fi
    cat >>"$pgdata/postgresql.conf" <<EOF

# --- Northstar private development server (scripts/ensure-services.sh) ---
listen_addresses = '127.0.0.1'
port = $PRIVATE_PG_PORT
unix_socket_directories = '$socket_dir'
EOF
}

# Start (or reuse) the private cluster and set DB_URL.
start_private_postgres() {
    local pgdata port sharedir options=()
    prepare_pgdata_dir
    pgdata=$(readlink -f "$PGDATA_DIR")
    [[ -f $pgdata/PG_VERSION ]] || init_private_postgres "$pgdata"

    if as_pg_owner "$PG_BINDIR/pg_ctl" -D "$pgdata" status >/dev/null 2>&1; then
        log "reusing the private PostgreSQL already running from $PGDATA_DIR"
    else
        # Load TimescaleDB when it is installed for this PostgreSQL version.
        sharedir=$("$PG_BINDIR/pg_config" --sharedir 2>/dev/null || true)
        if [[ -n $sharedir && -f $sharedir/extension/timescaledb.control ]]; then
            options=(-o "-c shared_preload_libraries=timescaledb -c timescaledb.telemetry_level=off")
        fi
        log "starting the private PostgreSQL from $PGDATA_DIR (log: $PGDATA_DIR/server.log)"
        # 9>&-: the server must not inherit (and so hold forever) our lock, see main.
        if ! as_pg_owner "$PG_BINDIR/pg_ctl" -D "$pgdata" -l "$pgdata/server.log" -w -t 60 \
            ${options[@]+"${options[@]}"} start >/dev/null 9>&-; then
            tail -n 20 "$pgdata/server.log" >&2 || true
            die "could not start the private PostgreSQL (log above: $PGDATA_DIR/server.log)"
        fi
    fi

    port=$(sed -n 4p "$pgdata/postmaster.pid")
    DB_URL="postgresql://postgres@127.0.0.1:$port/northstar"
    pg_usable "$DB_URL" || die "the private PostgreSQL does not answer on 127.0.0.1:$port"
}

# ---------------------------------------------------------------------------------------------
# Private Redis

# Start (or reuse) the private Redis and set REDIS_URL_CHOSEN.
start_private_redis() {
    local url="redis://127.0.0.1:$PRIVATE_REDIS_PORT/0" tries
    if redis_usable "$url"; then
        log "reusing the private Redis already running on port $PRIVATE_REDIS_PORT"
        REDIS_URL_CHOSEN=$url
        return 0
    fi
    mkdir -p "$REDIS_DIR"
    log "starting a private Redis on port $PRIVATE_REDIS_PORT (data and log: $REDIS_DIR)"
    redis-server --bind 127.0.0.1 --port "$PRIVATE_REDIS_PORT" --daemonize yes \
        --appendonly yes --dir "$REDIS_DIR" --pidfile "$REDIS_DIR/redis.pid" \
        --logfile "$REDIS_DIR/redis.log" </dev/null 9>&-
    for ((tries = 0; tries < 50; tries++)); do
        if redis_usable "$url"; then
            REDIS_URL_CHOSEN=$url
            return 0
        fi
        sleep 0.2
    done
    tail -n 20 "$REDIS_DIR/redis.log" >&2 || true
    die "the private Redis does not answer on 127.0.0.1:$PRIVATE_REDIS_PORT (log: $REDIS_DIR/redis.log)"
}

# ---------------------------------------------------------------------------------------------
# Installing the servers

install_hint() {
    local sudo="" packages=$*
    is_root || sudo="sudo "
    if have apt-get; then
        echo "${sudo}apt-get update && ${sudo}apt-get install -y $packages"
    elif have dnf; then
        packages=${packages//redis-server/redis}
        echo "${sudo}dnf install -y ${packages//postgresql/postgresql-server}"
    elif have brew; then
        echo "brew install postgresql redis && brew services start postgresql && brew services start redis"
    else
        echo "install PostgreSQL (server binaries initdb, pg_ctl) and Redis (redis-server)"
    fi
}

# install_servers PACKAGE...: apt-get install them as root on Debian, else stop with the command.
install_servers() {
    if is_root && [[ -f /etc/debian_version ]] && have apt-get; then
        log "installing $* (apt-get, running as root on Debian)"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update </dev/null
        apt-get install -y "$@" </dev/null
        return 0
    fi
    die "$(
        cat <<EOF
PostgreSQL/Redis are not reachable (DATABASE_URL=$(redact "$DB_WANTED"), REDIS_URL=$(redact "$REDIS_WANTED"))
and the server binaries needed to start private ones are missing. Run:

    $(install_hint "$@")

or point DATABASE_URL / REDIS_URL at running servers, then try again.
EOF
    )"
}

# ---------------------------------------------------------------------------------------------

write_services_env() {
    local tmp="$SERVICES_ENV.tmp.$$"
    {
        echo "# Written by scripts/ensure-services.sh on every run; do not edit."
        echo "export DATABASE_URL='${DB_URL//\'/\'\\\'\'}'"
        echo "export REDIS_URL='${REDIS_URL_CHOSEN//\'/\'\\\'\'}'"
    } >"$tmp"
    mv -f "$tmp" "$SERVICES_ENV"
}

main() {
    mkdir -p "$DATA_DIR"
    # One run at a time (e.g. `make -j test demo`), so a cluster is never initialised twice.
    # The servers we start get fd 9 closed (9>&-), or they would hold the lock forever.
    if have flock; then
        exec 9>"$DATA_DIR/.services.lock"
        flock -w 300 9 || die "timed out waiting for another ensure-services run"
    fi

    DB_WANTED=$(pg_url_normalise "${DATABASE_URL:-$DEFAULT_DATABASE_URL}")
    REDIS_WANTED=${REDIS_URL:-$DEFAULT_REDIS_URL}
    DB_URL="" REDIS_URL_CHOSEN=""

    if pg_usable "$DB_WANTED"; then
        DB_URL=$DB_WANTED
        log "PostgreSQL: using $(redact "$DB_URL")"
    fi
    if redis_usable "$REDIS_WANTED"; then
        REDIS_URL_CHOSEN=$REDIS_WANTED
        log "Redis: using $(redact "$REDIS_URL_CHOSEN")"
    fi

    if [[ -z $DB_URL || -z $REDIS_URL_CHOSEN ]]; then
        local missing=()
        if [[ -z $DB_URL ]]; then
            log "PostgreSQL at $(redact "$DB_WANTED") is not usable; using a private one"
            find_pg_bindir || missing+=(postgresql)
        fi
        if [[ -z $REDIS_URL_CHOSEN ]]; then
            log "Redis at $(redact "$REDIS_WANTED") is not usable; using a private one"
            have redis-server || missing+=(redis-server)
        fi
        if ((${#missing[@]})); then
            install_servers "${missing[@]}"
            if [[ -z $DB_URL ]]; then
                find_pg_bindir || die "PostgreSQL server binaries still not found after installing"
            fi
        fi
        if [[ -z $DB_URL ]]; then
            start_private_postgres
            log "PostgreSQL: using private $DB_URL"
        fi
        if [[ -z $REDIS_URL_CHOSEN ]]; then
            start_private_redis
            log "Redis: using private $REDIS_URL_CHOSEN"
        fi
    fi

    write_services_env
}

main "$@"
