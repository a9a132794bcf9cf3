#!/usr/bin/env bash
# Stop the private PostgreSQL and Redis that scripts/ensure-services.sh started under .data/
# (system or configured services are never touched) and forget the chosen URLs.
#
# Usage: scripts/stop-services.sh [--purge]
#   --purge  also delete their data (.data/pg, .data/redis, ...) and .data itself if left empty.
set -euo pipefail
# shellcheck source=scripts/_common.sh
source "$(dirname "${BASH_SOURCE[0]}")/_common.sh"

purge=false
case ${1:-} in
    "") ;;
    --purge) purge=true ;;
    *) die "usage: ${0##*/} [--purge]" ;;
esac

stop_private_postgres() {
    local pgdata
    [[ -f $PGDATA_DIR/PG_VERSION ]] || return 0
    pgdata=$(readlink -f "$PGDATA_DIR")
    find_pg_bindir || die "cannot stop the private PostgreSQL: pg_ctl not found"
    if as_pg_owner "$PG_BINDIR/pg_ctl" -D "$pgdata" status >/dev/null 2>&1; then
        log "stopping the private PostgreSQL ($PGDATA_DIR)"
        as_pg_owner "$PG_BINDIR/pg_ctl" -D "$pgdata" -m fast -w stop >/dev/null
    fi
}

stop_private_redis() {
    local pidfile="$REDIS_DIR/redis.pid" pid tries
    [[ -f $pidfile ]] || return 0
    pid=$(<"$pidfile")
    # Only signal the process if it still is the redis-server we started.
    if [[ $pid =~ ^[0-9]+$ ]] && [[ $(ps -o comm= -p "$pid" 2>/dev/null) == redis-server* ]]; then
        log "stopping the private Redis (pid $pid)"
        kill -TERM "$pid"
        for ((tries = 0; tries < 100; tries++)); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$pid" 2>/dev/null; then die "the private Redis (pid $pid) did not stop"; fi
    fi
    rm -f "$pidfile"
}

stop_private_postgres
stop_private_redis
rm -f "$SERVICES_ENV"

if $purge && [[ -d $DATA_DIR ]]; then
    log "removing the private service data in $DATA_DIR"
    # A cluster relocated by ensure-services.sh lives in /var/tmp/northstar-pg.*.
    if [[ -L $PGDATA_DIR ]]; then
        target=$(readlink -f "$PGDATA_DIR")
        [[ $target == /var/tmp/northstar-pg.* ]] && rm -rf "$target"
    fi
    rm -rf "$PGDATA_DIR" "$REDIS_DIR" "$DATA_DIR/initdb.log" "$DATA_DIR/.services.lock"
    rmdir "$DATA_DIR" 2>/dev/null || log "kept $DATA_DIR: it holds other files"
fi
