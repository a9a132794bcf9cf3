"""Fetching a pulled source's new records: an HTTP(S) JSON endpoint or an SQL query.

Both are bounded (time, bytes, rows) and return plain dicts; neither touches Northstar's own
database or streams.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

HTTP_TIMEOUT_S = 30.0
SQL_TIMEOUT_S = 60
MAX_ROWS = 50_000
"""A pull takes at most this many records; the watermark lets the next pull continue."""
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


class PullError(RuntimeError):
    """A pull failed (unreachable, bad answer, too large); it is retried on the next run."""


def _with_since(url: str, watermark: str | None) -> str:
    if watermark is None:
        return url
    parts = urllib.parse.urlsplit(url)
    query = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
    query = [(k, v) for k, v in query if k != "since"] + [("since", watermark)]
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))


def _records_of(document: Any) -> list[dict[str, Any]]:
    records = document.get("records") if isinstance(document, Mapping) else document
    if not isinstance(records, list):
        raise PullError("the endpoint answered neither a JSON array nor an object with 'records'")
    return records


def fetch_http(
    url: str, watermark: str | None, *, max_bytes: int, timeout_s: float = HTTP_TIMEOUT_S
) -> list[dict[str, Any]]:
    """GET ``url`` (with ``?since=<watermark>`` once there is one) and return its records.

    Raises:
        PullError: not http(s), unreachable, not 2xx, larger than ``max_bytes``, not JSON.
    """
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise PullError("pull_target must be an http:// or https:// URL")
    request = urllib.request.Request(  # noqa: S310 (scheme checked above)
        _with_since(url, watermark), headers={"Accept": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:  # noqa: S310
            body = response.read(max_bytes + 1)
    except urllib.error.HTTPError as exc:
        raise PullError(f"the endpoint answered HTTP {exc.code}") from exc
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise PullError(f"the endpoint is unreachable: {exc}") from exc
    if len(body) > max_bytes:
        raise PullError(f"the answer is larger than {max_bytes} bytes")
    try:
        document = json.loads(body)
    except ValueError as exc:
        raise PullError(f"the answer is not JSON: {exc}") from exc
    return _records_of(document)[:MAX_ROWS]


def _watermark_value(watermark: str | None) -> dt.datetime:
    if watermark is None:
        return EPOCH
    return dt.datetime.fromisoformat(watermark)


def _plain(value: Any) -> Any:
    """A JSON-like form of a column value, as an HTTP producer would have sent it."""
    if isinstance(value, dt.datetime):
        return (value if value.tzinfo else value.replace(tzinfo=dt.UTC)).isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    return value


def _jsonable(row: Mapping[Any, Any]) -> dict[str, Any]:
    return {str(k): _plain(v) for k, v in row.items()}


def fetch_sql(
    url: str, query: str, watermark: str | None, *, max_rows: int = MAX_ROWS
) -> list[dict[str, Any]]:
    """Run ``query`` on the database at ``url`` with ``:watermark`` bound (a UTC datetime).

    The query comes from the source's configuration (an audited admin change), never from a
    producer; the watermark is always a bound parameter. Rows come back as dicts.

    Raises:
        PullError: the database is unreachable or the query fails.
    """
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(
                    text("SELECT set_config('statement_timeout', :ms, false)"),
                    {"ms": str(SQL_TIMEOUT_S * 1000)},
                )
            result = connection.execute(text(query), {"watermark": _watermark_value(watermark)})
            return [_jsonable(row) for row in result.mappings().fetchmany(max_rows)]
    except Exception as exc:  # any driver's error: the pull is retried next run
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise PullError(f"the query failed: {type(exc).__name__}: {first_line}") from exc
    finally:
        engine.dispose()
