"""The shell around every page: a navbar with the pages the user may use, the notification
bell, the signed-in user and sign-out, and the page.

``shell`` is the Dash app's layout function, called per ``/_dash-layout`` request, so the name
and links shown are the ones of the session making the request. Pages render inside
``dash.page_container``.

A page may declare in its ``dash.register_page`` call the permission it needs
(``permission="incident:manage"``, or a tuple of them) and a navbar group
(``nav_group="Steward"``: a dropdown of that name, after the plain links). Links to pages
the user may not use are left out. Hiding a link is not access control: every page layout
and callback checks again.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dash
import dash_bootstrap_components as dbc
from dash import html
from flask import has_request_context
from flask_login import current_user  # type: ignore[import-untyped]

from dashboard.auth.login import LOGOUT_PATH
from dashboard.auth.policy import SignedInUser
from dashboard.shell import inbox as notifications
from models.permissions import Permission, Principal

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


def signed_in_principal() -> Principal | None:
    """The principal of this request's signed-in user, or None when there is none."""
    user = current_user if has_request_context() else None
    if not isinstance(user, SignedInUser) or not user.account.is_active:
        return None
    return user.account.principal


def may_use(page: Mapping[str, Any], principal: Principal | None) -> bool:
    """Whether the navbar links to ``page`` for ``principal``: it holds every permission the
    page declares (none declared: any signed-in user). An unknown permission hides the page."""
    if principal is None:
        return False
    declared = page.get("permission")
    if declared is None:
        return True
    wanted = (declared,) if isinstance(declared, str) else declared
    try:
        needed = [Permission(p) for p in wanted]
    except (TypeError, ValueError):
        return False
    return all(principal.has(p) for p in needed)


def nav_links(principal: Principal | None) -> list[Any]:
    """Links to the pages the user may use, in registry order; then one dropdown per
    ``nav_group`` with its pages (in registry order, which ``order=`` sets)."""
    items: list[Any] = []
    groups: dict[str, list[Any]] = {}
    for page in dash.page_registry.values():
        if not page.get("nav", True) or not may_use(page, principal):
            continue
        group = page.get("nav_group")
        if isinstance(group, str):
            item = dbc.DropdownMenuItem(page["name"], href=page["relative_path"])
            groups.setdefault(group, []).append(item)
        else:
            link = dbc.NavLink(page["name"], href=page["relative_path"], active="exact")
            items.append(dbc.NavItem(link))
    for group, members in groups.items():
        items.append(dbc.DropdownMenu(members, label=group, nav=True, in_navbar=True))
    return items


def bell_for(principal: Principal | None) -> html.Div | None:
    """The notification bell, for users whose callbacks may fill it."""
    if principal is None or not principal.has(notifications.PERMISSION):
        return None
    return notifications.bell()


def navbar() -> dbc.Navbar:
    principal = signed_in_principal()
    return dbc.Navbar(
        dbc.Container(
            [
                dbc.NavbarBrand("Northstar", href="/"),
                dbc.Nav(nav_links(principal), navbar=True, className="me-auto"),
                bell_for(principal),
                html.Span(signed_in_name(), id=USER_NAME_ID, className="navbar-text ms-2"),
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
