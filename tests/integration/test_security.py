"""Hardening through HTTP: same-origin POSTs, headers and CSP, cookies, no CDN, no traces."""

from __future__ import annotations

import base64
import hashlib
import re

from flask.testing import FlaskClient

from dashboard.app import create_app
from models.settings import Environment, Settings

from .auth_support import GLOBAL, PASSWORD, Site, sign_in, site

__all__ = ["site"]

STRONG_SECRET = "bN7q-Xv2LrT9wKp4ZsYc8Hf3Jd6Gm1Ea5Ru0Qi"
EVIL = "https://evil.example"


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


def test_a_broken_callback_request_shows_no_trace(site: Site) -> None:
    client = _signed_in(site)
    response = client.post(
        "/_dash-update-component", json={"output": "nope.children", "inputs": []}
    )
    assert response.status_code == 500
    assert response.get_json() == {"error": "internal", "message": "Internal error; it was logged."}
