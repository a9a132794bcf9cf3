"""Hardening through HTTP: same-origin POSTs, headers and CSP, cookies, no CDN, no traces."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from typing import Any

from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from dashboard import security
from dashboard.app import DASH_KEY, create_app
from integration.auth_support import GLOBAL, PASSWORD, Site, page_request, sign_in, site
from models.settings import Environment, Settings

__all__ = ["site"]

STRONG_SECRET = "bN7q-Xv2LrT9wKp4ZsYc8Hf3Jd6Gm1Ea5Ru0Qi"
EVIL = "https://evil.example"
UPDATE = "/_dash-update-component"


def _signed_in(site: Site) -> FlaskClient:
    client = site.client()
    assert sign_in(client).status_code == 303
    return client


def test_cross_origin_posts_to_login_and_callbacks_are_refused(site: Site) -> None:
    client = _signed_in(site)
    forged_login = client.post(
        "/login", data={"email": GLOBAL, "password": PASSWORD}, headers={"Origin": EVIL}
    )
    assert forged_login.status_code == 403
    assert forged_login.get_json()["error"] == "cross_origin"
    for headers in ({"Origin": EVIL}, {"Sec-Fetch-Site": "cross-site"}, {"Origin": "null"}):
        response = client.post("/_dash-update-component", json={}, headers=headers)
        assert response.status_code == 403, headers
    assert client.post("/logout", headers={"Sec-Fetch-Site": "same-site"}).status_code == 403
    # Still signed in: the forged sign-out did nothing.
    assert client.get("/").status_code == 200


def test_same_origin_posts_pass(site: Site) -> None:
    client = site.client()
    response = client.post(
        "/login",
        data={"email": GLOBAL, "password": PASSWORD},
        headers={"Origin": "http://localhost", "Sec-Fetch-Site": "same-origin"},
    )
    assert response.status_code == 303


def test_security_headers_and_a_csp_without_unsafe_scripts(site: Site) -> None:
    client = _signed_in(site)
    for path in ("/", "/login", "/_dash-layout", "/healthz"):
        headers = client.get(path).headers
        csp = headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in csp, path
        assert "default-src 'self'" in csp
        script_src = re.search(r"script-src ([^;]*)", csp)
        assert script_src is not None
        assert "unsafe" not in script_src.group(1)
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "same-origin"
        assert "camera=()" in headers["Permissions-Policy"]


def test_the_csp_allows_every_inline_script_of_the_page(site: Site) -> None:
    client = _signed_in(site)
    response = client.get("/")
    # Dash's "no Internet Explorer" script sits in a conditional comment no browser runs.
    html = re.sub(r"<!--.*?-->", "", response.get_data(as_text=True), flags=re.S)
    csp = response.headers["Content-Security-Policy"]
    inline = re.findall(r"<script(?![^>]*\bsrc=)([^>]*)>(.*?)</script>", html, re.S)
    executable = [body for attrs, body in inline if "application/json" not in attrs]
    assert executable, "Dash's renderer start-up script is inline"
    for body in executable:
        digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in csp


def test_data_responses_are_not_cached_but_static_files_may_be(site: Site) -> None:
    client = _signed_in(site)
    for path in ("/", "/_dash-layout", "/_dash-dependencies", "/login"):
        assert client.get(path).headers["Cache-Control"] == "no-store", path
    css = client.get("/vendor/bootstrap/css/bootstrap.min.css")
    assert css.headers.get("Cache-Control") != "no-store"


def test_the_rendered_pages_link_no_external_host(site: Site) -> None:
    client = _signed_in(site)
    for path in ("/", "/login"):
        html = client.get(path).get_data(as_text=True)
        links = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", html)
        assert links, path
        external = [u for u in links if not u.startswith("/") or u.startswith("//")]
        assert external == [], path
        assert "/vendor/bootstrap/css/bootstrap.min.css" in links
        for link in links:
            assert client.get(link).status_code == 200, link


def test_session_cookie_is_httponly_and_samesite(site: Site) -> None:
    response = sign_in(site.client())
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie


def test_production_cookies_are_secure_host_only(settings: Settings, site: Site) -> None:
    production = settings.model_copy(
        update={"env": Environment.PRODUCTION, "secret_key": STRONG_SECRET}
    )
    app = create_app(production, clock=site.clock)
    client = app.test_client()
    response = client.post(
        "/login",
        data={"email": GLOBAL, "password": PASSWORD},
        base_url="https://northstar.example",
    )
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("__Host-northstar=")
    assert "Secure" in cookie
    assert "Strict-Transport-Security" in response.headers
    app.extensions["northstar"].close()


def test_a_server_error_shows_no_trace(site: Site) -> None:
    def explode() -> str:
        raise RuntimeError("secret detail /work/main/dashboard")

    site.app.add_url_rule("/explode", view_func=explode)
    client = _signed_in(site)
    response = client.get("/explode")
    body = response.get_data(as_text=True)
    assert response.status_code == 500
    assert body == "Internal error; it was logged."
    assert "Traceback" not in body
    assert "secret detail" not in body


def test_a_server_error_in_a_callback_shows_no_trace(site: Site) -> None:
    def explode() -> str:
        raise RuntimeError("secret detail /work/main/dashboard")

    site.app.add_url_rule("/_dash-explode", view_func=explode, methods=["POST"])
    response = _signed_in(site).post("/_dash-explode", json={})
    assert response.status_code == 500
    assert response.get_json() == {"error": "internal", "message": "Internal error; it was logged."}


# --- malformed callback requests: 400 with the reason, never a 500 from inside Dash ----------

ROUTER = page_request("/")
"""Dash's page-router callback: registered in every app, so a stable envelope to break."""


def _with(**changes: Any) -> dict[str, Any]:
    return {**ROUTER, **changes}


def _without(key: str) -> dict[str, Any]:
    return {k: v for k, v in ROUTER.items() if k != key}


def _location(pathname: Any, search: Any = "") -> dict[str, Any]:
    return _with(
        inputs=[
            {"id": "_pages_location", "property": "pathname", "value": pathname},
            {"id": "_pages_location", "property": "search", "value": search},
        ]
    )


MALFORMED: dict[str, tuple[Any, str]] = {
    "unknown output id": (_with(output="nope.children"), "no such callback"),
    "missing output": (_without("output"), "'output' must name a callback"),
    "output not a string": (_with(output=["_pages_content.children"]), "'output' must name"),
    "client-side callback": (
        _with(output="_pages_dummy.children"),
        "that callback runs in the browser",
    ),
    "body a list": ([ROUTER], "the body must be a JSON object"),
    "body null": (None, "the body must be a JSON object"),
    "missing outputs": (_without("outputs"), "'outputs' must list 2 outputs"),
    "outputs an object": (_with(outputs=ROUTER["outputs"][0]), "'outputs' must list 2"),
    "outputs of another component": (
        _with(outputs=[{"id": "ns-navbar", "property": "children"}, ROUTER["outputs"][1]]),
        "outputs entry 1 names another component",
    ),
    "missing inputs": (_without("inputs"), "'inputs' must list 2 entries"),
    "too few inputs": (_with(inputs=ROUTER["inputs"][:1]), "'inputs' must list 2 entries"),
    "inputs an object": (_with(inputs={"id": "_pages_location"}), "'inputs' must list 2"),
    "input not an object": (_with(inputs=[1, 2]), "inputs entry 1 must be the declared"),
    "input of another property": (
        _with(inputs=[{**ROUTER["inputs"][0], "property": "href"}, ROUTER["inputs"][1]]),
        "inputs entry 1 must be the declared property",
    ),
    "input of another component": (
        _with(inputs=[ROUTER["inputs"][0], {**ROUTER["inputs"][1], "id": "overview-unit"}]),
        "inputs entry 2 names another component",
    ),
    "state not a list": (_with(state="x"), "'state' must list 0 entries"),
    "extra state": (_with(state=[ROUTER["inputs"][0]]), "'state' must list 0 entries"),
    "changedPropIds not a list": (_with(changedPropIds="a.b"), "'changedPropIds' must be"),
    "changedPropIds of numbers": (_with(changedPropIds=[1]), "'changedPropIds' must be"),
    "pathname not a string": (_location(["/"]), "the page location must be a path"),
    "pathname not a path": (_location("kpi/revenue"), "the page location must be a path"),
    "pathname missing": (_location(None), "the page location must be a path"),
    "search not a string": (_location("/", {"unit": 1}), "the page location must be a path"),
}


def _unclean(response: TestResponse, status: int, reason: str) -> str | None:
    """Why ``response`` is not a clean refusal with ``status`` and ``reason``; None if it is."""
    body = response.get_data(as_text=True)
    answer = response.get_json(silent=True) or {}
    clean = (
        response.status_code == status
        and answer.get("error") == "bad_callback_request"
        and str(answer.get("message")).startswith(f"Malformed callback: {reason}")
        and "Traceback" not in body
        and 'File "' not in body
        and "nope" not in body  # the reason never echoes the request
    )
    return None if clean else f"{response.status_code} {body[:200]}"


def test_a_malformed_callback_request_gets_400_with_the_reason(site: Site) -> None:
    client = _signed_in(site)
    answers = {
        case: _unclean(
            client.post(UPDATE, data=json.dumps(body), content_type="application/json"),
            400,
            reason,
        )
        for case, (body, reason) in MALFORMED.items()
    }
    assert {case: why for case, why in answers.items() if why} == {}


def test_a_callback_body_that_is_not_json_gets_400(site: Site) -> None:
    client = _signed_in(site)
    bodies = {
        "broken": b"{not json",
        "empty": b"",
        "not utf-8": b"\xff\xfe",
        "nested too deep": b"[" * 100_000 + b"]" * 100_000,
        "truncated": b'{"output": NaN',
    }
    answers = {
        case: _unclean(
            client.post(UPDATE, data=raw, content_type="application/json"),
            400,
            "the body is not valid JSON",
        )
        for case, raw in bodies.items()
    }
    assert {case: why for case, why in answers.items() if why} == {}


def test_a_callback_body_of_another_type_gets_415(site: Site) -> None:
    client = _signed_in(site)
    for kwargs in (
        {"data": json.dumps(ROUTER), "content_type": "text/plain"},
        {"data": {"output": ROUTER["output"]}},
    ):
        response = client.post(UPDATE, **kwargs)
        assert _unclean(response, 415, "the body must be JSON") is None


def test_well_formed_callback_requests_still_pass(site: Site) -> None:
    client = _signed_in(site)
    assert security.DASH_KEY == DASH_KEY  # where the check finds the registered callbacks
    for body in (ROUTER, _location("/account", None), _location("/no/such/page", "?x=1")):
        response = client.post(UPDATE, json=body)
        assert response.status_code == 200, response.get_data(as_text=True)
        assert "_pages_content" in response.get_json()["response"]


def test_anonymous_malformed_callbacks_get_401_and_learn_nothing(site: Site) -> None:
    client = site.client()
    for body in (_with(output="nope.children"), ROUTER):
        response = client.post(UPDATE, json=body)
        assert response.status_code == 401
        assert response.get_json()["error"] == "unauthenticated"
