#!/usr/bin/env bash
# Run the TimescaleDB backend's tests, and the storage, pipeline, query, cache and quality suites,
# with NORTHSTAR_STORAGE=timescale on a fresh database of the server NORTHSTAR_TEST_TIMESCALE_URL
# (PostgreSQL with the timescaledb extension preloaded). Prints pytest's summary line last.
#
# Usage: NORTHSTAR_TEST_TIMESCALE_URL=postgresql://... scripts/test-timescale.sh [PYTEST ARGS...]
# Extra arguments replace the default selection of test files. Redis: REDIS_URL's server (or
# the one of .data/services.env), db NORTHSTAR_TIMESCALE_REDIS_DB (default 13), flushed.
# Without NORTHSTAR_TEST_TIMESCALE_URL it says so and exits 0: nothing was run, nothing failed.
set -euo pipefail
# shellcheck source=scripts/_common.sh
source "$(dirname "${BASH_SOURCE[0]}")/_common.sh"
cd "$NORTHSTAR_ROOT"

if [[ -z ${NORTHSTAR_TEST_TIMESCALE_URL:-} ]]; then
    log "NORTHSTAR_TEST_TIMESCALE_URL is not set: TimescaleDB suites SKIPPED"
    exit 0
fi
if [[ -z ${REDIS_URL:-} && -f $SERVICES_ENV ]]; then
    # shellcheck source=/dev/null
    source "$SERVICES_ENV"
fi
redis_url=$(url_with_db "${REDIS_URL:-$DEFAULT_REDIS_URL}" "${NORTHSTAR_TIMESCALE_REDIS_DB:-13}")
database=northstar_timescale_test
DATABASE_URL=$(pg_url_normalise "$NORTHSTAR_TEST_TIMESCALE_URL") scripts/create-db.sh "$database" --fresh
DATABASE_URL=$(url_with_db "$(pg_url_normalise "$NORTHSTAR_TEST_TIMESCALE_URL")" "$database")
export DATABASE_URL REDIS_URL=$redis_url NORTHSTAR_ENV=test NORTHSTAR_STORAGE=timescale

if (($# == 0)); then
    set -- tests/integration/ingest/test_timescale.py tests/integration/ingest/test_timescale_refresh.py \
        tests/integration/quality/test_freshness.py tests/integration/ingest/test_storage.py \
        tests/integration/ingest/test_write_property.py tests/integration/ingest/test_pipeline.py \
        tests/integration/executive/test_queries_*.py tests/integration/executive/test_cache.py \
        tests/integration/quality/test_quality_*.py tests/integration/executive/test_event_window.py
fi
python=${PYTHON:-$VENV_DIR/bin/python}
started=$SECONDS
log "pytest on $(redact "$DATABASE_URL") (NORTHSTAR_STORAGE=timescale, Redis $(redact "$redis_url"))"
status=0
"$python" -m pytest -q -p no:cacheprovider "$@" || status=$?
log "TimescaleDB suites: exit $status after $((SECONDS - started)) s"
exit "$status"
