"""The shell around every page: a navbar with the signed-in user and sign-out, and the page.

``shell`` is the Dash app's layout function, called per ``/_dash-layout`` request, so the name
shown is the one of the session making the request. Pages render inside ``dash.page_container``.
"""

from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
from dash import html
from flask import has_request_context
from flask_login import current_user  # type: ignore[import-untyped]

from dashboard.auth.login import LOGOUT_PATH
from dashboard.auth.policy import SignedInUser

NAVBAR_ID = "ns-navbar"
USER_NAME_ID = "ns-user-name"
SIGN_OUT_ID = "ns-sign-out"
PAGE_ID = "ns-page"


def signed_in_name() -> str:
    """The display name of the user of this request, or "" when there is none."""
    user = current_user if has_request_context() else None
    return user.account.display_name if isinstance(user, SignedInUser) else ""


def sign_out_form() -> html.Form:
    """A POST form (sign-out changes state, so never a GET link); same-origin checked."""
    return html.Form(
        html.Button("Sign out", type="submit", id=SIGN_OUT_ID, className="btn btn-light btn-sm"),
        action=LOGOUT_PATH,
        method="POST",
        className="d-flex ms-3 mb-0",
    )


def navbar() -> dbc.Navbar:
    links = [
        dbc.NavItem(dbc.NavLink(page["name"], href=page["relative_path"], active="exact"))
        for page in dash.page_registry.values()
        if page.get("nav", True)
    ]
    return dbc.Navbar(
        dbc.Container(
            [
                dbc.NavbarBrand("Northstar", href="/"),
                dbc.Nav(links, navbar=True, className="me-auto"),
                html.Span(signed_in_name(), id=USER_NAME_ID, className="navbar-text"),
                sign_out_form(),
            ],
            fluid=True,
        ),
        id=NAVBAR_ID,
        color="dark",
        dark=True,
        className="mb-3",
    )


def shell() -> html.Div:
    """The whole app layout: navbar, then the current page."""
    return html.Div(
        [navbar(), dbc.Container(dash.page_container, id=PAGE_ID, fluid=True)],
    )
