"""Access review over HTTP: grant use tracked once a day per user, grants unused for 90 days
flagged, a quarterly campaign, certify and revoke (audited), a revoked grant refused at the
user's next request, and who may decide what."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import Engine, text

from integration.admin_support import Console, answer_text, audits, console, grants, rows, snapshot
from integration.auth_support import page_request
from integration.steward_support import Caller
from models.admin.reviews import quarter_end, quarter_of

__all__ = ["console"]  # fixture

UPDATE = "/_dash-update-component"
UNUSED, LIST, DETAIL = "admin-review-unused", "admin-review-list", "admin-review-detail"
START, CERTIFY, REVOKE = (
    "admin-review-start-result",
    "admin-review-certify-result",
    "admin-review-revoke-result",
)
DONE = (None, None, None)


def uses(db: Engine, user_id: int) -> list[dt.datetime | None]:
    """``last_used_at`` of the user's role grants, then scope grants."""
    found = rows(
        db,
        "SELECT last_used_at FROM user_roles WHERE user_id = :u UNION ALL "
        "SELECT last_used_at FROM user_scopes WHERE user_id = :u",
        {"u": user_id},
    )
    return [r["last_used_at"] for r in found]


def set_uses(db: Engine, user_id: int, at: dt.datetime | None) -> None:
    with db.begin() as connection:
        for table in ("user_roles", "user_scopes"):
            connection.execute(
                text(f"UPDATE {table} SET last_used_at = :at WHERE user_id = :u"),
                {"at": at, "u": user_id},
            )


def start(
    caller: Caller, console: Console, reviewer: str = "admin", quarter: str | None = None
) -> str:
    today = console.now().date()
    due = (today + dt.timedelta(days=14)).isoformat()
    chosen = quarter or quarter_of(today)
    return answer_text(caller, START, 1, chosen, str(console.users[reviewer]), due)


def review_id(db: Engine, reviewer_id: int) -> int:
    (found,) = rows(db, "SELECT id FROM access_reviews WHERE reviewer_id = :r", {"r": reviewer_id})
    return int(found["id"])


def items(db: Engine, review: int) -> dict[tuple[str, str], dict[str, Any]]:
    """The campaign's items by (user e-mail, grant name)."""
    found = rows(
        db,
        "SELECT i.id, u.email, i.grant_name, i.flagged, CAST(i.decision AS text) AS decision "
        "FROM access_review_items i JOIN users u ON u.id = i.user_id WHERE i.review_id = :r",
        {"r": review},
    )
    return {(r["email"], r["grant_name"]): r for r in found}


def overview(client: Any) -> str:
    return str(client.post(UPDATE, json=page_request("/")).get_data(as_text=True))


def tiles(client: Any) -> str:
    """The Overview's tiles callback, as the browser first posts it."""
    body = {
        "output": "..overview-grid.children...overview-live-watch.data..",
        "outputs": [
            {"id": "overview-grid", "property": "children"},
            {"id": "overview-live-watch", "property": "data"},
        ],
        "inputs": [
            {"id": "overview-period", "property": "value", "value": "today"},
            {"id": "overview-unit", "property": "value", "value": "unit2"},
            {"id": "overview-live-token", "property": "data", "value": None},
        ],
        "changedPropIds": ["overview-period.value"],
        "state": [],
    }
    return str(client.post(UPDATE, json=body).get_data(as_text=True))


# --- grant use --------------------------------------------------------------------------------


def test_grant_use_is_marked_once_a_day_on_the_session_check(console: Console) -> None:
    eve_id = console.users["executive"]
    set_uses(console.db, eve_id, None)
    eve = console.client("executive")  # sign-in's redirect target is the first checked request
    assert eve.get("/").status_code == 200
    now = console.now()
    marked = uses(console.db, eve_id)
    assert len(marked) == 2
    assert all(m is not None and abs((m - now).total_seconds()) < 1 for m in marked)

    # Later the same day: no write (the stored mark is kept as it is).
    today = now.replace(hour=0, minute=0, second=1, microsecond=0)
    set_uses(console.db, eve_id, today)
    assert eve.get("/").status_code == 200
    assert uses(console.db, eve_id) == [today, today]

    # The next day's first request marks again.
    set_uses(console.db, eve_id, today - dt.timedelta(days=1))
    assert eve.get("/").status_code == 200
    assert all(m is not None and m >= now for m in uses(console.db, eve_id))


def test_a_refused_session_marks_nothing(console: Console) -> None:
    eve_id = console.users["executive"]
    eve = console.client("executive")
    old = console.now() - dt.timedelta(days=120)
    set_uses(console.db, eve_id, old)
    with console.db.begin() as connection:
        connection.execute(text("UPDATE users SET is_active = false WHERE id = :u"), {"u": eve_id})
    assert eve.get("/").status_code == 302
    assert uses(console.db, eve_id) == [old, old]


# --- the flow: flagged, revoked, refused at the next request -----------------------------------


def test_a_flagged_grant_revoked_in_a_campaign_is_refused_at_the_users_next_request(
    console: Console,
) -> None:
    eve_id = console.users["executive"]
    eve = console.client("executive")
    assert "overview-grid" in overview(eve)
    assert "Not allowed" not in tiles(eve)
    set_uses(console.db, eve_id, console.now() - dt.timedelta(days=100))

    admin = console.caller("admin")
    unused = answer_text(admin, UNUSED, *DONE)
    assert "Eve Executive (eve@example.com) Role: Executive" in unused
    assert "Eve Executive (eve@example.com) Scope: UNIT2" in unused
    assert "Otto Other" not in unused  # used recently (granted today)

    assert "Campaign started." in start(admin, console)
    review = review_id(console.db, console.users["admin"])
    (started,) = audits(console.db, "access_review.start")
    assert started["actor"] == "Ada Admin"
    assert started["after"]["grants"] == len(items(console.db, review))
    found = items(console.db, review)
    eve_role = found[("eve@example.com", "Executive")]
    assert eve_role["flagged"] is True
    assert found[("otto@example.com", "Executive")]["flagged"] is False
    assert (
        f"{quarter_of(console.now().date())} /admin/access-review?campaign={review} Ada Admin"
        in (answer_text(admin, LIST, *DONE))
    )
    shown = admin.answer(DETAIL, str(review), *DONE)
    pending = shown["admin-review-pending"]["options"]
    label = next(o["label"] for o in pending if o["value"] == eve_role["id"])
    assert "⚠ unused" in label
    assert "Executive" in label

    note = "No use since spring"
    shown_revoke = answer_text(admin, REVOKE, 1, str(review), [eve_role["id"]], note)
    assert "Revoked (effective now): 1 grant(s)." in shown_revoke
    assert grants(console.db, eve_id) == {"roles": [], "scopes": ["unit2"]}

    # Eve's very next request: the page and the callback are refused.
    assert "Not allowed: missing permission kpi:view." in overview(eve)
    assert "Not allowed: missing permission kpi:view." in tiles(eve)

    (decided,) = audits(console.db, "access_review.revoke")
    assert decided["actor"] == "Ada Admin"
    assert decided["target_id"] == str(eve_role["id"])
    assert (decided["before"], decided["after"]) == (
        {"decision": None},
        {"decision": "revoke", "note": note},
    )
    (revoked,) = audits(console.db, "user.access")
    assert revoked["before"] == {"roles": ["executive"], "scopes": ["unit2"]}
    assert revoked["after"] == {"roles": [], "scopes": ["unit2"]}
    assert revoked["detail"] == {"access_review": review, "item": eve_role["id"]}
    assert "already decided" in answer_text(admin, REVOKE, 1, str(review), [eve_role["id"]], "")


def test_a_campaign_closes_when_every_grant_is_decided(console: Console) -> None:
    admin, bob = console.caller("admin"), console.caller("admin2")
    start(admin, console)
    review = review_id(console.db, console.users["admin"])
    found = items(console.db, review)
    own = [i["id"] for (email, _), i in found.items() if email == "ada@example.com"]
    others = [i["id"] for (email, _), i in found.items() if email != "ada@example.com"]
    # The reviewer does not decide her own grants, and nobody else decides the rest.
    assert "decided by another admin" in answer_text(admin, CERTIFY, 1, str(review), own, "")
    assert "only the campaign's reviewer" in answer_text(bob, CERTIFY, 1, str(review), others, "")
    assert "Certified: " in answer_text(admin, CERTIFY, 1, str(review), others, "Fine")
    assert not audits(console.db, "access_review.close")
    assert "Certified: " in answer_text(bob, CERTIFY, 1, str(review), own, "Fine too")
    (closed,) = audits(console.db, "access_review.close")
    assert closed["after"] == {"state": "closed"}
    assert "closed" in answer_text(admin, CERTIFY, 1, str(review), others[:1], "")
    summary = answer_text(admin, DETAIL, str(review), *DONE)
    assert f"{len(found)} of {len(found)} decided, 0 revoked" in summary
    assert "Closed" in summary


def test_a_campaign_covers_the_users_its_reviewer_may_manage(console: Console) -> None:
    admin = console.caller("admin")
    assert "Campaign started." in start(admin, console, reviewer="regional_admin")
    found = items(console.db, review_id(console.db, console.users["regional_admin"]))
    emails = {email for email, _ in found}
    assert emails == {"rada@example.com", "eve@example.com", "nora@example.com"}
    assert "already has a campaign" in start(admin, console, reviewer="regional_admin")
    assert "must be an active user with user:manage" in start(admin, console, reviewer="executive")
    assert "a quarter is written like" in start(admin, console, quarter="2026-Q5")
    next_quarter = quarter_of(quarter_end(quarter_of(console.now().date())) + dt.timedelta(days=1))
    assert "Campaign started." in start(
        admin, console, reviewer="regional_admin", quarter=next_quarter
    )


def test_forged_items_of_another_campaign_are_refused(console: Console) -> None:
    admin = console.caller("admin")
    start(admin, console)
    start(admin, console, reviewer="admin2")
    mine = review_id(console.db, console.users["admin"])
    bobs = review_id(console.db, console.users["admin2"])
    foreign = next(iter(items(console.db, bobs).values()))["id"]
    before = snapshot(console.db)
    assert "not part of this campaign" in answer_text(admin, REVOKE, 1, str(mine), [foreign], "")
    assert "Invalid input" in answer_text(admin, REVOKE, 1, str(mine), ["' OR 1=1 --"], "")
    assert "no such access review" in answer_text(admin, REVOKE, 1, "999999", [foreign], "")
    assert snapshot(console.db) == before


@pytest.mark.parametrize("who", ["executive", "steward", "no_role"])
def test_non_admins_forging_the_review_callbacks_change_nothing(console: Console, who: str) -> None:
    admin = console.caller("admin")
    start(admin, console)
    review = review_id(console.db, console.users["admin"])
    some = [i["id"] for i in items(console.db, review).values()]
    caller = console.caller(who)
    assert "Not allowed: missing permission user:manage." in caller.page("/admin/access-review")
    before = snapshot(console.db)
    calls: list[tuple[str, tuple[Any, ...]]] = [
        (UNUSED, DONE),
        (LIST, DONE),
        (DETAIL, (str(review), *DONE)),
        (REVOKE, (1, str(review), some, "")),
        (CERTIFY, (1, str(review), some, "")),
    ]
    for output, values in calls:
        shown = answer_text(caller, output, *values)
        assert "Not allowed: missing permission user:manage." in shown, output
    forged = answer_text(caller, START, 1, "2031-Q1", str(console.users[who]), "2031-01-15")
    assert "Not allowed: missing permission user:manage." in forged
    assert snapshot(console.db) == before
