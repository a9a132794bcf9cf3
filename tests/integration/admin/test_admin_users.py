"""Admin console, users page over HTTP: create and invite, one-time links, deactivation that
ends live sessions, password resets, roles and scopes, each action audited with actor, time,
before and after; regional admins and lock-out rules; non-admins forging callbacks change
nothing."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import Engine

from integration.admin_support import (
    EMAILS,
    Console,
    answer_text,
    audits,
    console,
    grants,
    invite_path,
    rows,
    snapshot,
)
from integration.auth_support import PASSWORD, sign_in
from integration.steward_support import Caller
from models.queries.principals import load_principal

__all__ = ["console"]  # fixture

NEW_PASSWORD = "a brand new long passphrase"
TABLE, INFO, CREATE = "admin-users-table", "admin-user-info", "admin-new-create-result"
DONE = (None,) * 5


def create(caller: Caller, email: str, roles: list[int], scopes: list[int], *,
           password: str | None = None, name: str = "Nina New") -> str:  # fmt: skip
    mode = "password" if password is not None else "invite"
    return answer_text(caller, CREATE, 1, email, name, roles, scopes, mode, password or "")


def act(caller: Caller, action: str, user: Any, *states: Any) -> str:
    return answer_text(caller, f"admin-user-{action}-result", 1, user, *states)


def listed(caller: Caller, search: str = "", role: str = "", status: str = "all") -> str:
    return answer_text(caller, TABLE, search, role, status, *DONE)


def signed_in_page(client: Any, path: str = "/") -> int:
    """The status of a page load by ``client`` (200, or the guard's redirect)."""
    return int(client.get(path).status_code)


# --- create and invite ----------------------------------------------------------------------


def test_an_admin_creates_a_user_with_a_password_audited(console: Console) -> None:
    admin = console.caller("admin")
    page = admin.page("/admin/users")
    assert "admin-new-email" in page
    assert "Eve Executive" not in page
    assert "Eve Executive" in listed(admin)

    shown = create(
        admin,
        "nina@example.com",
        [console.roles["executive"]],
        [console.units["unit2"]],
        password=NEW_PASSWORD,
    )
    assert "Created nina@example.com: they can sign in now." in shown
    client = console.app.test_client()
    assert sign_in(client, "nina@example.com", NEW_PASSWORD).status_code == 303
    (created,) = audits(console.db, "user.create")[-1:]
    assert created["actor"] == "Ada Admin"
    assert created["actor_id"] == console.users["admin"]
    assert created["before"] is None
    assert created["after"] == {
        "email": "nina@example.com",
        "roles": ["executive"],
        "scopes": ["unit2"],
        "is_demo": False,
    }
    assert created["at"] is not None
    assert "nina@example.com" in listed(admin, search="NINA")
    assert "nina@example.com" not in listed(admin, search="nina", status="deactivated")


def test_bad_input_is_refused_and_creates_nothing(console: Console) -> None:
    admin = console.caller("admin")
    before = snapshot(console.db)
    executive = [console.roles["executive"]]
    unit2 = [console.units["unit2"]]
    assert "valid e-mail" in create(admin, "not-an-address", executive, unit2)
    assert "already exists" in create(admin, EMAILS["executive"].upper(), executive, unit2)
    assert "at least 12 characters" in create(
        admin, "x@example.com", executive, unit2, password="short"
    )
    assert "Invalid input" in create(admin, "x@example.com", [10**12], unit2)
    assert "Not allowed" in create(admin, "x@example.com", executive, [999])
    assert snapshot(console.db) == before


def test_an_invite_link_works_once_and_is_audited(console: Console) -> None:
    admin = console.caller("admin")
    shown = create(admin, "ivy@example.com", [console.roles["executive"]], [console.units["unit3"]])
    assert "Invitation link made" in shown
    assert "shown only now" in shown
    path = invite_path(shown)
    (user,) = rows(
        console.db, "SELECT id, password_hash FROM users WHERE email = 'ivy@example.com'"
    )
    assert user["password_hash"] is None  # no password until they choose one
    stored = rows(
        console.db, "SELECT token_hash FROM invitations WHERE user_id = :u", {"u": user["id"]}
    )
    assert path.rsplit("/", 1)[1] not in str(stored)  # only the hash is kept

    # The invitee, not signed in, opens the link and chooses a password.
    invitee = console.app.test_client()
    form = invitee.get(path)
    assert form.status_code == 200
    assert "ivy@example.com" in form.get_data(as_text=True)
    differ = invitee.post(path, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD + "x"})
    assert differ.status_code == 400
    assert "differ" in differ.get_data(as_text=True)
    short = invitee.post(path, data={"password": "short", "confirm": "short"})
    assert short.status_code == 400
    assert "at least 12" in short.get_data(as_text=True)
    done = invitee.post(path, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert done.status_code == 200
    assert "Your password is set" in done.get_data(as_text=True)
    assert sign_in(console.app.test_client(), "ivy@example.com", NEW_PASSWORD).status_code == 303

    # Used: the link is dead, and says no more than an unknown one.
    again = invitee.get(path)
    unknown = invitee.get("/invite/no-such-token")
    assert again.status_code == unknown.status_code == 404
    assert again.get_data() == unknown.get_data()
    replay = invitee.post(
        path, data={"password": "another long password", "confirm": "another long password"}
    )
    assert replay.status_code == 404
    assert sign_in(console.app.test_client(), "ivy@example.com", NEW_PASSWORD).status_code == 303
    (issued,) = audits(console.db, "user.invite_link")
    assert issued["actor"] == "Ada Admin"
    assert issued["after"]["purpose"] == "invite"
    (chosen,) = audits(console.db, "user.password_set")
    assert chosen["actor_id"] == user["id"]
    assert chosen["before"] == {"password_set": False}
    assert chosen["after"] == {"password_set": True}


def test_an_invite_link_expires(console: Console) -> None:
    admin = console.caller("admin")
    path = invite_path(create(admin, "late@example.com", [], [console.units["unit2"]]))
    assert console.app.test_client().get(path).status_code == 200
    console.clock.advance(72 * 3600 + 1)  # NORTHSTAR_INVITE_LINK_TTL_S
    client = console.app.test_client()
    assert client.get(path).status_code == 404
    late = client.post(path, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert late.status_code == 404
    assert rows(console.db, "SELECT password_hash FROM users WHERE email = 'late@example.com'") == [
        {"password_hash": None}
    ]


def test_the_invite_page_is_public_but_throttled_per_address(console: Console) -> None:
    admin = console.caller("admin")
    path = invite_path(create(admin, "tina@example.com", [], [console.units["unit2"]]))
    guesser = console.client(None, address="10.6.6.6")
    for n in range(5):  # NORTHSTAR_LOGIN_MAX_FAILURES
        assert guesser.get(f"/invite/guess{n}").status_code == 404
    blocked = guesser.get(path)  # even a valid link, from this address
    assert blocked.status_code == 429
    assert int(blocked.headers["Retry-After"]) > 0
    assert "tina@example.com" not in blocked.get_data(as_text=True)
    assert console.client(None, address="10.7.7.7").get(path).status_code == 200


# --- deactivation and resets ------------------------------------------------------------------


def test_deactivation_refuses_the_users_live_session_at_its_next_request(console: Console) -> None:
    eve = console.client("executive")
    assert signed_in_page(eve) == 200
    admin = console.caller("admin")
    eve_id = console.users["executive"]

    assert "Deactivated: their sessions have ended." in act(admin, "deactivate", str(eve_id))
    assert eve.get("/").status_code == 302  # to the sign-in page
    assert eve.post("/_dash-update-component", json={}).status_code == 401
    assert sign_in(console.app.test_client(), EMAILS["executive"]).status_code == 401
    (deactivated,) = audits(console.db, "user.deactivate")
    assert deactivated["actor"] == "Ada Admin"
    assert deactivated["target_id"] == str(eve_id)
    assert (deactivated["before"], deactivated["after"]) == (
        {"is_active": True},
        {"is_active": False},
    )
    assert audits(console.db, "user.sessions_ended")[0]["detail"] == {"reason": "deactivated"}
    assert "already deactivated" in act(admin, "deactivate", str(eve_id))
    assert "Deactivated" in listed(admin, status="deactivated")

    assert "Reactivated" in act(admin, "reactivate", str(eve_id))
    assert eve.get("/").status_code == 302  # the old session stays ended
    assert sign_in(console.app.test_client(), EMAILS["executive"]).status_code == 303
    (reactivated,) = audits(console.db, "user.reactivate")
    assert reactivated["after"] == {"is_active": True}


def test_a_reset_link_sets_a_new_password_and_ends_old_sessions(console: Console) -> None:
    eve = console.client("executive")
    admin = console.caller("admin")
    shown = act(admin, "reset", str(console.users["executive"]))
    assert "Password-reset link made" in shown
    path = invite_path(shown)
    assert signed_in_page(eve) == 200  # nothing changes until the link is used
    assert "Password reset link" in answer_text(admin, INFO, str(console.users["executive"]), *DONE)

    console.clock.advance(5)
    page = console.app.test_client().get(path)
    assert "Choose a new password" in page.get_data(as_text=True)
    done = console.app.test_client().post(
        path, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    )
    assert done.status_code == 200
    assert eve.get("/").status_code == 302  # her live session ended
    assert sign_in(console.app.test_client(), EMAILS["executive"], PASSWORD).status_code == 401
    assert sign_in(console.app.test_client(), EMAILS["executive"], NEW_PASSWORD).status_code == 303
    (issued,) = audits(console.db, "user.reset_link")
    assert issued["before"] == {"open_links": 0}
    assert issued["after"]["open_links"] == 1


def test_a_new_link_or_deactivation_revokes_the_open_one(console: Console) -> None:
    admin = console.caller("admin")
    eve = str(console.users["executive"])
    first = invite_path(act(admin, "reset", eve))
    second = invite_path(act(admin, "reset", eve))
    client = console.app.test_client()
    assert client.get(first).status_code == 404
    assert client.get(second).status_code == 200
    act(admin, "deactivate", eve)
    assert client.get(second).status_code == 404
    assert audits(console.db, "user.deactivate")[0]["detail"] == {"links_revoked": 1}


# --- roles and scopes -------------------------------------------------------------------------


def test_saving_roles_and_scopes_is_audited_and_applies_at_the_next_request(
    console: Console,
) -> None:
    admin = console.caller("admin")
    eve_id = console.users["executive"]
    detail = admin.answer(INFO, str(eve_id), *DONE)
    assert detail["admin-user-roles"]["value"] == [console.roles["executive"]]
    assert detail["admin-user-scopes"]["value"] == [console.units["unit2"]]

    roles = [console.roles["executive"], console.roles["steward"]]
    shown = act(admin, "save", str(eve_id), roles, [console.units["unit3"]])
    assert "Saved" in shown
    assert grants(console.db, eve_id) == {"roles": ["executive", "steward"], "scopes": ["unit3"]}
    (changed,) = audits(console.db, "user.access")
    assert changed["actor"] == "Ada Admin"
    assert changed["before"] == {"roles": ["executive"], "scopes": ["unit2"]}
    assert changed["after"] == {"roles": ["executive", "steward"], "scopes": ["unit3"]}
    with console.db.connect() as connection:
        principal = load_principal(connection, eve_id)
    assert principal.scope_paths == ("1.3",)
    assert "Nothing to change" in act(admin, "save", str(eve_id), roles, [console.units["unit3"]])
    assert len(audits(console.db, "user.access")) == 1


def test_a_regional_admin_manages_only_users_and_units_of_their_region(console: Console) -> None:
    rada = console.caller("regional_admin")
    shown = listed(rada)
    assert "Eve Executive" in shown
    assert "Nora Norole" in shown
    assert "Otto Other" not in shown
    assert "Ada Admin" not in shown
    before = snapshot(console.db)
    otto, ada, eve = (str(console.users[k]) for k in ("other", "admin", "executive"))
    refused = "Not allowed: no such user among those you may manage."
    assert act(rada, "deactivate", otto) == refused
    assert act(rada, "reset", ada) == refused
    assert answer_text(rada, INFO, otto, *DONE) == refused
    unit3 = [console.units["unit3"]]
    assert "Not allowed" in act(rada, "save", eve, [console.roles["executive"]], unit3)
    assert "Not allowed" in create(rada, "new@example.com", [], unit3)
    assert snapshot(console.db) == before
    # Within the region it works.
    assert "Saved" in act(rada, "save", eve, [console.roles["steward"]], [console.units["unit2"]])


def test_an_admin_cannot_lock_themselves_out(console: Console) -> None:
    admin = console.caller("admin")
    me = str(console.users["admin"])
    before = snapshot(console.db)
    assert "cannot deactivate yourself" in act(admin, "deactivate", me)
    shown = act(admin, "save", me, [console.roles["executive"]], [console.units["acme"]])
    assert "take user:manage away from you" in shown
    assert snapshot(console.db) == before
    # Another admin may.
    bob = console.caller("admin2")
    assert "Deactivated" in act(bob, "deactivate", me)


# --- who may use the page ---------------------------------------------------------------------


ADMIN_CALLS: list[tuple[str, tuple[Any, ...]]] = [
    ("admin-users-table", ("", "", "all", *DONE)),
    ("admin-user-info", ("{eve}", *DONE)),
    ("admin-user-save-result", (1, "{eve}", ["{admin_role}"], ["{acme}"])),
    ("admin-user-reset-result", (1, "{eve}")),
    ("admin-user-deactivate-result", (1, "{eve}")),
    ("admin-user-reactivate-result", (1, "{eve}")),
    (CREATE, (1, "mal@example.com", "Mal", ["{admin_role}"], ["{acme}"], "password", NEW_PASSWORD)),
]


def fill(console: Console, values: tuple[Any, ...]) -> list[Any]:
    names = {
        "{eve}": str(console.users["executive"]),
        "{admin_role}": console.roles["admin"],
        "{acme}": console.units["acme"],
    }

    def one(value: Any) -> Any:
        if isinstance(value, list):
            return [one(v) for v in value]
        return names.get(value, value) if isinstance(value, str) else value

    return [one(v) for v in values]


@pytest.mark.parametrize("who", ["executive", "steward", "no_role"])
def test_non_admins_forging_the_users_callbacks_change_nothing(
    console: Console, who: str, db: Engine
) -> None:
    caller = console.caller(who)
    assert "Not allowed: missing permission user:manage." in caller.page("/admin/users")
    before = snapshot(db)
    for output, values in ADMIN_CALLS:
        shown = answer_text(caller, output, *fill(console, values))
        assert "Not allowed: missing permission user:manage." in shown, output
    assert snapshot(db) == before
    denied = rows(
        db,
        "SELECT count(*) AS n FROM access_log WHERE user_id = :u AND page = 'admin-users' "
        "AND outcome = 'denied'",
        {"u": console.users[who]},
    )
    assert denied == [{"n": len(ADMIN_CALLS)}]


def test_the_admin_pages_are_listed_in_the_navbar_for_admins_only(console: Console) -> None:
    admin = console.client("admin")
    shell = admin.get("/_dash-layout").get_data(as_text=True).replace("\\u002f", "/")
    assert "/admin/users" in shell
    assert "/admin/access-review" in shell
    executive = console.client("executive")
    other = executive.get("/_dash-layout").get_data(as_text=True).replace("\\u002f", "/")
    assert "/admin/users" not in other


def test_links_expire_at_the_configured_time(console: Console) -> None:
    admin = console.caller("admin")
    act(admin, "reset", str(console.users["executive"]))
    (link,) = rows(console.db, "SELECT created_at, expires_at FROM invitations")
    assert link["expires_at"] - console.now() == pytest.approx(
        dt.timedelta(hours=24), abs=dt.timedelta(minutes=1)
    )
