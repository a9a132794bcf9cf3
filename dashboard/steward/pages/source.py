"""The source page (steward console, read-only): contract versions with what changed between
them, SLA, expected volume, steward, the badge and recent check results.

It needs ``kpi:view`` and ``incident:manage`` or ``quarantine:manage`` (a steward), and the
source's owner unit in scope (docs/quality.md, "Source page"): it shows pipeline facts and
definitions, never event values. Editing sources belongs to the admin console.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import dash
from dash import Input, Output, dcc, html

from dashboard.auth.policy import CallContext, error_view, guarded_callback, read_connection
from dashboard.common import params
from dashboard.steward.quarantine_layout import SOURCES_PATH
from dashboard.steward.source_view import source_body
from models.permissions import Permission
from models.queries.steward.dq_health import recent_results
from models.queries.steward.quality import source_badges
from models.queries.steward.sources_view import contract_versions, source_detail

dash.register_page(  # type: ignore[no-untyped-call]
    __name__,
    path_template=f"{SOURCES_PATH}/<key>",
    name="Source",
    title="Northstar · Source",
    permission=Permission.KPI_VIEW.value,
    nav=False,
)

PAGE = "steward-source"
PARAMS_ID = "source-params"
BODY_ID = "source-body"
RECENT_RESULTS = 50


def layout(key: object = None, **_query: Any) -> html.Div:
    """Only the source key from the path; the guarded callback reads and checks everything."""
    return html.Div(
        [
            dcc.Store(id=PARAMS_ID, data={"key": key}),
            dcc.Loading(html.Div(id=BODY_ID), type="dot", delay_show=300),
        ]
    )


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dash.callback(Output(BODY_ID, "children"), Input(PARAMS_ID, "data"))
@guarded_callback(page=PAGE, permission=Permission.KPI_VIEW, on_error=error_view)
def source_page(call: CallContext, page_params: object) -> html.Div:
    """The source named in the path, if it is in scope (the key is untrusted input)."""
    if not isinstance(page_params, dict):
        raise ValueError("the page parameters are malformed")
    key = params.key(page_params.get("key"), "source")
    with read_connection() as connection:
        detail = source_detail(connection, call.principal, key)
        versions = contract_versions(connection, detail)
        # The health reads list active sources only; an inactive one is no longer checked.
        results = (
            recent_results(connection, call.principal, detail.id, limit=RECENT_RESULTS)
            if detail.active
            else []
        )
        badge = source_badges(connection, [detail.id], utc_now()).get(detail.id)
    call.rows = len(versions) + len(results)
    call.detail = {"source": detail.key}
    return source_body(detail, badge, versions, results)
