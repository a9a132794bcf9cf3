"""The read API (``/api/v1/kpis…``): the KPI numbers of the pages, for scripts.

Beside the ingest API under ``/api/v1``, but authenticated by a user's personal access token
(``Authorization: Bearer nsp_…``, ``models.tokens``), never by a session or a source key. Every
call is checked like a guarded callback: the token (unknown, revoked, expired: 401), its user
read again (deactivated: 401), ``kpi:view`` (403), the user's request budget (429 with
Retry-After, the same budget the pages spend), then the unit against the user's scope (403
naming it). Reads go through the pages' answer cache and database cap, and every call, answered
or refused, writes one ``access_log`` entry (page ``api``). Errors are JSON
``{"error": code, "reason": text}`` (with ``parameter`` for a 400); docs/api.md.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from flask import Blueprint, Flask, Response, current_app, g, jsonify, request
from sqlalchemy.exc import SQLAlchemyError

from dashboard.api import answers as data
from dashboard.api import spec as read_api_spec
from dashboard.auth import sessions
from dashboard.auth.dbcap import DatabaseBusy
from dashboard.auth.policy import (
    BUDGET_KEY,
    BUSY,
    CallContext,
    ChargeRequest,
    current_services,
    record_access,
    session_connection,
    throttled_message,
)
from dashboard.cache import CallCache, call_cache
from dashboard.cache.lazy import Connect, lazy_connection
from ingest import api as ingest_api
from models import db
from models.enums import Outcome
from models.permissions import AccessDenied, Permission
from models.queries.common import QueryLimits
from models.queries.principals import Account, load_account
from models.queries.tokens import check_token
from models.tokens import touch_token

log = logging.getLogger(__name__)
blueprint = Blueprint("read_api", __name__, url_prefix="/api/v1")
PAGE = "api"
_STATE = "northstar.read_api"
TOUCH_EVERY_S = 60.0
REALM = 'Bearer realm="northstar", error="invalid_token"'
_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]
"""Answered here, so that anything but GET is a 405 rather than the ingest API's 404."""


@dataclass
class _State:
    touched: dict[int, float] = field(default_factory=dict)
    """When this process last recorded each token's use (monotonic seconds)."""


def init_app(server: Flask) -> None:
    """Register the read API and add its paths to the OpenAPI document."""
    server.extensions[_STATE] = _State()
    server.register_blueprint(blueprint)
    ingest_api.add_openapi_part(server, read_api_spec.part())


class Problem(Exception):
    """An answer other than 200: status, a stable code and the reason."""

    def __init__(
        self,
        status: int,
        code: str,
        reason: str,
        *,
        parameter: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(reason)
        self.status, self.code, self.reason = status, code, reason
        self.parameter = parameter
        self.headers = headers or {}

    def response(self) -> Response:
        body: dict[str, str] = {"error": self.code, "reason": self.reason}
        if self.parameter is not None:
            body["parameter"] = self.parameter
        answer = jsonify(body)
        answer.status_code = self.status
        answer.headers.update(self.headers)
        return answer

    @property
    def outcome(self) -> Outcome:
        if self.status in (429, 503):
            return Outcome.THROTTLED
        return Outcome.ERROR if self.status >= 500 else Outcome.DENIED


def _unauthorised(reason: str) -> Problem:
    return Problem(401, "unauthorized", reason, headers={"WWW-Authenticate": REALM})


def _bearer() -> str:
    scheme, _, token = request.headers.get("Authorization", "").strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _unauthorised("send a personal access token as 'Authorization: Bearer <token>'")
    return token.strip()


def _authenticate(now: dt.datetime) -> tuple[Account, int]:
    """The token's account, re-read now, and the token's id; Problem 401 otherwise."""
    with session_connection() as connection:
        check = check_token(connection, _bearer(), now)
        g.northstar_refused_user_id = check.user_id  # names the user in a refusal's log
        if check.refused is not None or check.user_id is None or check.token_id is None:
            raise _unauthorised(check.refused or "unknown token")
        account = load_account(connection, check.user_id)
    if account is None or not account.is_active:
        raise _unauthorised("the token's user is deactivated")
    return account, check.token_id


def _mark_use(account: Account, token_id: int, now: dt.datetime) -> None:
    """``last_used_at`` of the token (once a minute per process) and the day's grant use."""
    services = current_services()
    timeout_ms = int(services.settings.statement_timeout_ms)
    sessions.mark_grant_use(services.engine, account, now.timestamp(), timeout_ms)
    state: _State = current_app.extensions[_STATE]
    moment = time.monotonic()
    last = state.touched.get(token_id)
    if last is not None and moment - last < TOUCH_EVERY_S:
        return
    state.touched[token_id] = moment
    try:
        with db.write_session(services.engine, timeout_ms) as session:
            touch_token(session, token_id, now)
    except SQLAlchemyError as exc:  # a lost mark costs a minute of precision, not the answer
        log.warning("could not record the use of access token %s: %s", token_id, exc)


def _spend_budget(user_id: int) -> None:
    charge: ChargeRequest | None = current_app.extensions.get(BUDGET_KEY)
    wait_s = None if charge is None else charge(user_id)
    if wait_s is not None:
        seconds = max(1, math.ceil(wait_s))
        raise Problem(
            429, "throttled", throttled_message(seconds), headers={"Retry-After": str(seconds)}
        )


Handler = Callable[[CallContext, CallCache, Connect, dt.datetime], data.Json]


def _problem_of(exc: Exception) -> Problem:
    if isinstance(exc, Problem):
        return exc
    if isinstance(exc, data.BadParameter):
        return Problem(400, "bad_parameter", exc.reason, parameter=exc.parameter)
    if isinstance(exc, data.NoSuchKpi):
        return Problem(404, "not_found", str(exc))
    if isinstance(exc, AccessDenied):
        return Problem(403, "forbidden", str(exc))
    if isinstance(exc, DatabaseBusy):
        retry = str(max(1, math.ceil(exc.retry_after_s)))
        return Problem(503, "busy", BUSY, headers={"Retry-After": retry})
    if isinstance(exc, ValueError):
        return Problem(400, "bad_request", str(exc))
    log.exception("read API %s failed", request.path)
    return Problem(500, "error", "something went wrong; the error was logged")


def _serve(action: str, handle: Handler) -> Response:
    """Authenticate, check, spend the budget, answer and log one call (see the module)."""
    if request.method != "GET":
        return Problem(
            405, "method_not_allowed", "the read API answers GET only", headers={"Allow": "GET"}
        ).response()
    started = time.perf_counter()
    now = dt.datetime.now(dt.UTC)
    call: CallContext | None = None
    try:
        account, token_id = _authenticate(now)
        call = CallContext(principal=account.principal, page=PAGE, action=action)
        call.detail = {"token": token_id}
        _spend_budget(account.user_id)
        account.principal.require(Permission.KPI_VIEW)
        _mark_use(account, token_id, now)
        cache = call_cache(account.principal)
        with lazy_connection() as connect:
            body = handle(call, cache, connect, now)
        call.detail["cached"] = cache.cached
    except Exception as exc:
        problem = _problem_of(exc)
        if problem.status == 401 and g.get("northstar_refused_user_id") is None:
            # Anonymous, like the pages' anonymous 401s: not logged, or anyone could fill
            # the table (docs/security.md, The guard).
            return problem.response()
        record_access(
            call, PAGE, action, problem.outcome, started, problem.reason, status=problem.status
        )
        return problem.response()
    if not record_access(call, PAGE, action, Outcome.OK, started, None):
        # Every data read is logged (docs/security.md): no log line, no data.
        return Problem(500, "error", "the answer could not be logged, so it is withheld").response()
    return jsonify(body)


def _arg(name: str) -> str | None:
    value = request.args.get(name)
    return None if value is None or value == "" else value


@blueprint.route("/kpis", methods=_METHODS)
def list_kpis() -> Response:
    """Every KPI reported at the unit's level, with its numbers."""

    def handle(
        call: CallContext, cache: CallCache, connect: Connect, now: dt.datetime
    ) -> data.Json:
        choice = data.choice_of(_arg("period"))
        unit = data.unit_of(cache, connect, _arg("unit"), now)
        body = data.overview(cache, connect, unit, choice, now)
        call.rows = len(body["kpis"])
        call.detail |= {"unit": unit.key, "period": choice.key}
        return body

    return _serve("GET /api/v1/kpis", handle)


@blueprint.route("/kpis/<key>", methods=_METHODS)
def get_kpi(key: str) -> Response:
    """One KPI at a unit over a period."""

    def handle(
        call: CallContext, cache: CallCache, connect: Connect, now: dt.datetime
    ) -> data.Json:
        choice = data.choice_of(_arg("period"))
        kpi = data.kpi_of(cache, connect, key, now)
        unit = data.unit_of(cache, connect, _arg("unit"), now)
        call.detail |= {"kpi": kpi.key, "unit": unit.key, "period": choice.key}
        body = data.one_kpi(cache, connect, kpi, unit, choice, now)
        call.rows = 1
        return body

    return _serve("GET /api/v1/kpis/<key>", handle)


@blueprint.route("/kpis/<key>/series", methods=_METHODS)
def get_series(key: str) -> Response:
    """One KPI per bucket over a period or between two times."""

    def handle(
        call: CallContext, cache: CallCache, connect: Connect, now: dt.datetime
    ) -> data.Json:
        asked = data.series_period(_arg("from"), _arg("to"), _arg("period"), now)
        granularity = data.granularity_of(_arg("granularity"), asked[0])
        kpi = data.kpi_of(cache, connect, key, now)
        unit = data.unit_of(cache, connect, _arg("unit"), now)
        call.detail |= {"kpi": kpi.key, "unit": unit.key, "granularity": granularity.value}
        limits = QueryLimits.from_settings(current_services().settings)
        body = data.series(cache, connect, kpi, unit, asked, granularity, now, limits)
        call.rows = len(body["points"])
        return body

    return _serve("GET /api/v1/kpis/<key>/series", handle)


@blueprint.route("/kpis/<key>/breakdown", methods=_METHODS)
def get_breakdown(key: str) -> Response:
    """One KPI per child unit in scope, now and in the previous period."""

    def handle(
        call: CallContext, cache: CallCache, connect: Connect, now: dt.datetime
    ) -> data.Json:
        choice = data.choice_of(_arg("period"))
        kpi = data.kpi_of(cache, connect, key, now)
        unit = data.unit_of(cache, connect, _arg("unit"), now)
        call.detail |= {"kpi": kpi.key, "unit": unit.key, "period": choice.key}
        limits = QueryLimits.from_settings(current_services().settings)
        body = data.breakdown(cache, connect, kpi, unit, choice, now, limits)
        call.rows = len(body["rows"])
        return body

    return _serve("GET /api/v1/kpis/<key>/breakdown", handle)
