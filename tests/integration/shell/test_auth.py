"""Sign-in, sessions and the guard, through HTTP against real PostgreSQL and Redis."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, select, text, update
from sqlalchemy.orm import Session

from dashboard.auth.sessions import end_all_sessions
from integration.auth_support import (
    COOKIE,
    GLOBAL,
    PASSWORD,
    REGIONAL,
    Site,
    page_request,
    sign_in,
    site,
)
from models.logs import AccessLog
from models.queries.principals import load_account, load_principal
from models.users import User

__all__ = ["site"]


def _goes_to_login(response_location: str | None) -> bool:
    return bool(response_location) and response_location.startswith("/login")


def test_sign_in_lands_on_the_local_next_page(site: Site) -> None:
    client = site.client()
    response = sign_in(client, next_path="/?period=7d")
    assert response.status_code == 303
    assert response.headers["Location"] == "/?period=7d"
    assert client.get("/").status_code == 200


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example",
        "/\\evil.example",
        "https://evil.example/",
        "javascript:alert(1)",
        "/\tevil",
        "evil.example",
    ],
)
def test_next_never_leaves_the_site(site: Site, target: str) -> None:
    response = sign_in(site.client(), next_path=target)
    assert response.status_code == 303
    assert response.headers["Location"] == "/"


def test_wrong_password_and_unknown_user_get_the_same_generic_answer(site: Site) -> None:
    wrong = sign_in(site.client("10.0.0.2"), password="nope")
    unknown = sign_in(site.client("10.0.0.3"), email="nobody@example.com")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.get_data() == unknown.get_data()
    assert b"Wrong e-mail address or password." in wrong.get_data()
    assert COOKIE not in (wrong.headers.get("Set-Cookie") or "")


def test_sign_in_records_last_login_and_access_log(site: Site, db: Engine) -> None:
    sign_in(site.client())
    sign_in(site.client(), password="nope")
    with Session(db) as session:
        user = session.scalars(select(User).where(User.email == GLOBAL)).one()
        rows = session.scalars(select(AccessLog).order_by(AccessLog.id)).all()
    assert user.last_login_at is not None
    assert [(r.action, r.outcome.value, r.user_id) for r in rows] == [
        ("sign-in", "ok", user.id),
        ("sign-in", "denied", None),
    ]
    assert rows[1].client == "10.0.0.1"


def test_throttle_holds_per_account_even_with_the_right_password(site: Site) -> None:
    for n in range(5):
        assert sign_in(site.client(f"10.1.0.{n}"), password="nope").status_code == 401
    blocked = sign_in(site.client("10.1.0.99"))
    assert blocked.status_code == 429
    assert b"Too many failed sign-ins" in blocked.get_data()
    assert int(blocked.headers["Retry-After"]) > 0
    # Another account is not blocked from a fresh address.
    assert sign_in(site.client("10.1.1.1"), email=REGIONAL).status_code == 303


def test_throttle_holds_per_address_and_ignores_forged_forwarded_for(site: Site) -> None:
    client = site.client("10.2.0.1")
    for n in range(5):
        response = client.post(
            "/login",
            data={"email": f"guess{n}@example.com", "password": "x"},
            headers={"X-Forwarded-For": f"192.0.2.{n}"},
        )
        assert response.status_code == 401
    forged = client.post(
        "/login",
        data={"email": REGIONAL, "password": PASSWORD},
        headers={"X-Forwarded-For": "198.51.100.7"},
    )
    assert forged.status_code == 429


def test_a_cookie_replayed_after_logout_is_refused(site: Site) -> None:
    client = site.client()
    sign_in(client)
    stolen = client.get_cookie(COOKIE)
    assert stolen is not None
    assert client.post("/logout").status_code == 303
    attacker = site.client("10.9.9.9")
    attacker.set_cookie(COOKIE, stolen.value)
    assert _goes_to_login(attacker.get("/").headers.get("Location"))
    layout = attacker.post("/_dash-update-component", json={})
    assert layout.status_code == 401


def test_a_deactivated_users_next_request_is_refused(site: Site, db: Engine) -> None:
    client = site.client()
    sign_in(client)
    assert client.get("/").status_code == 200
    with db.begin() as connection:
        connection.execute(update(User).where(User.email == GLOBAL).values(is_active=False))
    assert _goes_to_login(client.get("/").headers.get("Location"))
    assert sign_in(client).status_code == 401


def test_a_password_change_ends_existing_sessions(site: Site, db: Engine) -> None:
    client = site.client()
    sign_in(client)
    site.clock.advance(60)
    with db.begin() as connection:
        connection.execute(
            text("UPDATE users SET password_changed_at = now() + interval '1 minute'")
        )
    assert _goes_to_login(client.get("/").headers.get("Location"))


def test_ending_all_sessions_signs_out_every_device(site: Site, db: Engine) -> None:
    laptop, tablet = site.client("10.3.0.1"), site.client("10.3.0.2")
    sign_in(laptop)
    sign_in(tablet)
    with Session(db) as session, session.begin():
        end_all_sessions(session, site.user_ids[GLOBAL], "admin request")
    assert _goes_to_login(laptop.get("/").headers.get("Location"))
    assert _goes_to_login(tablet.get("/").headers.get("Location"))


def test_idle_timeout_ends_a_quiet_session_but_not_a_busy_one(site: Site) -> None:
    busy, quiet = site.client("10.4.0.1"), site.client("10.4.0.2")
    sign_in(busy)
    sign_in(quiet)
    for _ in range(4):
        site.clock.advance(10 * 60)
        assert busy.get("/").status_code == 200
    assert _goes_to_login(quiet.get("/").headers.get("Location"))


def test_absolute_timeout_ends_even_a_busy_session(site: Site) -> None:
    client = site.client()
    sign_in(client)
    for _ in range(12 * 4 - 1):
        site.clock.advance(15 * 60)
        assert client.get("/").status_code == 200
    site.clock.advance(15 * 60)
    assert _goes_to_login(client.get("/").headers.get("Location"))


def test_anonymous_pages_redirect_with_next_and_callbacks_get_401(site: Site) -> None:
    client = site.client()
    page = client.get("/kpi/revenue?period=7d")
    assert page.status_code == 302
    assert page.headers["Location"] == "/login?next=%2Fkpi%2Frevenue%3Fperiod%3D7d"
    for path in ("/_dash-update-component", "/_dash-layout", "/_dash-dependencies"):
        response = client.post(path, json={}) if path.endswith("component") else client.get(path)
        assert response.status_code == 401, path
        assert response.get_json()["error"] == "unauthenticated"


def test_public_paths_answer_without_a_session(site: Site) -> None:
    client = site.client()
    assert client.get("/healthz").status_code == 200
    assert client.get("/login").status_code == 200
    assert client.get("/api/v1/openapi.json").status_code == 200
    css = client.get("/vendor/bootstrap/css/bootstrap.min.css")
    assert css.status_code == 200
    assert css.mimetype == "text/css"
    assert b"Bootstrap" in css.get_data()[:200]


def test_the_sign_in_page_names_a_favicon_it_may_load(site: Site) -> None:
    # Without a link the browser asks for /favicon.ico, which the guard sends to /login.
    client = site.client()
    assert b'<link rel="icon" href="/_favicon.ico">' in client.get("/login").get_data()
    icon = client.get("/_favicon.ico")
    assert icon.status_code == 200
    assert icon.mimetype.startswith("image/")


def test_metrics_answer_loopback_only(site: Site) -> None:
    assert site.client("127.0.0.1").get("/metrics").status_code == 200
    assert site.client("10.5.0.1").get("/metrics").status_code == 403


def test_the_account_page_says_who_you_are_and_your_scope(site: Site) -> None:
    client = site.client()
    sign_in(client, email=REGIONAL)
    layout = client.get("/_dash-layout")
    assert layout.status_code == 200
    assert "Elena Region" in layout.get_data(as_text=True)
    page = client.post("/_dash-update-component", json=page_request("/account"))
    body = page.get_data(as_text=True)
    assert page.status_code == 200, body[:500]
    assert "Welcome, Elena Region" in body
    assert "UNIT2" in body
    assert "ACME" not in body


def test_principal_comes_from_roles_and_scopes(site: Site, db: Engine) -> None:
    with db.connect() as connection:
        grace = load_principal(connection, site.user_ids[GLOBAL])
        elena = load_principal(connection, site.user_ids[REGIONAL])
        nobody = load_principal(connection, 10**12)
    assert {p.value for p in grace.permissions} == {"kpi:view", "event:view"}
    assert grace.scope_paths == ("1",)
    assert elena.scope_paths == ("1.2",)
    assert nobody.permissions == frozenset()
    assert nobody.scope_paths == ()


def test_a_deactivated_user_has_no_permissions_or_scope(site: Site, db: Engine) -> None:
    with db.begin() as connection:
        connection.execute(update(User).values(is_active=False))
        account = load_account(connection, site.user_ids[GLOBAL])
    assert account is not None
    assert not account.is_active
    assert account.principal.permissions == frozenset()
    assert account.principal.scope_paths == ()
