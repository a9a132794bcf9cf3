"""A regional admin stays inside their region, also where an action affects users indirectly:
editing a custom role changes the rights of everyone holding it, and an access-review campaign
shows and decides the grants of the users it covers.

The organisation of ``admin_support``: Ada and Bob are company-wide admins, Rada admin of
unit2 (Eve and Nora are hers), Otto an executive of unit3, Sam a company-wide steward.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Engine, text

from integration.admin_support import (
    Console,
    answer_text,
    console,
    grants,
    permissions_of,
    role_id,
    rows,
    snapshot,
)
from integration.steward_support import Caller, prop
from models.admin.reviews import quarter_of

__all__ = ["console"]  # fixture

ROLE_NAME, ROLE_SAVE = "admin-role-name", "admin-role-save-result"
ROLE_CREATE = "admin-role-create-result"
REVIEW_LIST, REVIEW_DETAIL = "admin-review-list", "admin-review-detail"
START, CERTIFY, REVOKE = (
    "admin-review-start-result",
    "admin-review-certify-result",
    "admin-review-revoke-result",
)
DONE = (None, None, None)
OUTSIDE = ("(ada@example.com)", "(bob@example.com)", "(sam@example.com)", "(otto@example.com)")
"""Users Rada (unit2) may not manage, as labels show them."""


def give_role(db: Engine, user_id: int, role_key: str) -> None:
    with db.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO user_roles (user_id, role_id) SELECT :u, id FROM roles WHERE key = :k"
            ),
            {"u": user_id, "k": role_key},
        )


def save_role(caller: Caller, role: int, name: str, permissions: list[str]) -> str:
    return answer_text(caller, ROLE_SAVE, 1, str(role), name, "", permissions)


# --- custom roles -----------------------------------------------------------------------------


def test_a_regional_admin_cannot_edit_a_role_held_outside_their_region(console: Console) -> None:
    ada, rada = console.caller("admin"), console.caller("regional_admin")
    assert "Role created" in answer_text(ada, ROLE_CREATE, 1, "viewer", "Viewer", "", ["kpi:view"])
    viewer = role_id(console.db, "viewer")
    give_role(console.db, console.users["no_role"], "viewer")  # Nora, unit2: Rada's
    give_role(console.db, console.users["other"], "viewer")  # Otto, unit3: not Rada's

    # The form tells Rada why she cannot save it.
    form = rada.answer(ROLE_NAME, str(viewer))
    assert form["admin-role-save"]["disabled"] is True
    note = str(form["admin-role-note"]["children"])
    assert "held by 1 user(s) outside your scope" in note

    # A forged save, adding pii:view (which Rada holds), changes nothing: not Otto's rights.
    before = snapshot(console.db)
    shown = save_role(rada, viewer, "Viewer", ["kpi:view", "event:view", "pii:view"])
    assert "Not allowed: this role is held by 1 user(s) outside your scope" in shown
    assert "an admin who may manage every holder edits it" in shown
    assert snapshot(console.db) == before
    # Renaming it is refused alike (holders outside her scope see the role too).
    assert "outside your scope" in save_role(rada, viewer, "Renamed", ["kpi:view"])
    assert snapshot(console.db) == before

    # A deactivated holder counts too: reactivated, they would get the new set.
    with console.db.begin() as connection:
        connection.execute(
            text("UPDATE users SET is_active = false WHERE id = :u"), {"u": console.users["other"]}
        )
    assert "outside your scope" in save_role(rada, viewer, "Viewer", ["kpi:view", "pii:view"])
    assert permissions_of(console.db, "viewer") == ["kpi:view"]

    # The company-wide admin, who manages every holder, may edit it.
    assert "Saved" in save_role(ada, viewer, "Viewer", ["kpi:view", "event:view"])
    assert permissions_of(console.db, "viewer") == ["event:view", "kpi:view"]


def test_a_regional_admin_edits_a_role_held_only_inside_their_region(console: Console) -> None:
    rada = console.caller("regional_admin")
    assert "Role created" in answer_text(rada, ROLE_CREATE, 1, "emea", "EMEA", "", ["kpi:view"])
    give_role(console.db, console.users["no_role"], "emea")
    emea = role_id(console.db, "emea")
    form = rada.answer(ROLE_NAME, str(emea))
    assert form["admin-role-save"]["disabled"] is False
    assert "Saved" in save_role(rada, emea, "EMEA", ["kpi:view", "event:view"])
    assert permissions_of(console.db, "emea") == ["event:view", "kpi:view"]


# --- access review campaigns ------------------------------------------------------------------


def start(caller: Caller, console: Console, reviewer: str) -> str:
    due = (console.now().date() + dt.timedelta(days=14)).isoformat()
    quarter = quarter_of(console.now().date())
    return answer_text(caller, START, 1, quarter, str(console.users[reviewer]), due)


def review_of(db: Engine, reviewer_id: int) -> int:
    (found,) = rows(db, "SELECT id FROM access_reviews WHERE reviewer_id = :r", {"r": reviewer_id})
    return int(found["id"])


def item_ids(db: Engine, review: int, email: str) -> list[int]:
    found = rows(
        db,
        "SELECT i.id FROM access_review_items i JOIN users u ON u.id = i.user_id "
        "WHERE i.review_id = :r AND u.email = :e ORDER BY i.id",
        {"r": review, "e": email},
    )
    return [int(r["id"]) for r in found]


def reviewer_choices(caller: Caller) -> str:
    options: list[dict[str, Any]] = prop(
        caller.page("/admin/access-review"), "admin-review-reviewer", "options"
    )
    return " ".join(o["label"] for o in options)


def test_a_regional_admin_is_offered_only_the_admins_they_manage_as_reviewers(
    console: Console,
) -> None:
    offered = reviewer_choices(console.caller("regional_admin"))
    assert "rada@example.com" in offered
    assert not any(email in offered for email in OUTSIDE)
    everyone = reviewer_choices(console.caller("admin"))
    assert all(e in everyone for e in ("(ada@example.com)", "(bob@example.com)", "(rada@"))


def test_a_regional_admin_cannot_start_read_or_decide_a_company_wide_campaign(
    console: Console,
) -> None:
    ada, rada = console.caller("admin"), console.caller("regional_admin")
    before = snapshot(console.db)
    shown = start(rada, console, reviewer="admin")
    assert "Not allowed: the reviewer must be an admin you may manage" in shown
    assert snapshot(console.db) == before

    assert "Campaign started." in start(ada, console, reviewer="admin")
    review = review_of(console.db, console.users["admin"])
    listed = answer_text(rada, REVIEW_LIST, *DONE)
    assert "Ada Admin" not in listed
    assert "No campaign yet." in listed
    detail = rada.answer(REVIEW_DETAIL, str(review), *DONE)
    assert "no such access review" in str(detail)
    assert not any(email in str(detail) for email in OUTSIDE)

    # Ada's own grants are decided "by another admin": never by one who cannot manage her.
    own = item_ids(console.db, review, "ada@example.com")
    others = item_ids(console.db, review, "otto@example.com")
    before = snapshot(console.db)
    for output in (CERTIFY, REVOKE):
        for chosen in (own, others):
            shown = answer_text(rada, output, 1, str(review), chosen, "fine")
            assert "Not allowed: no such access review" in shown, (output, chosen)
    assert snapshot(console.db) == before
    assert grants(console.db, console.users["admin"])["roles"] == ["admin"]
    # Bob, company-wide, still decides Ada's own grants.
    bob = console.caller("admin2")
    assert "Certified: " in answer_text(bob, CERTIFY, 1, str(review), own, "")


def test_a_campaign_shows_and_decides_only_users_the_admin_manages_now(console: Console) -> None:
    ada, rada = console.caller("admin"), console.caller("regional_admin")
    assert "Campaign started." in start(ada, console, reviewer="regional_admin")
    review = review_of(console.db, console.users["regional_admin"])
    eve_items = item_ids(console.db, review, "eve@example.com")
    assert eve_items
    # Eve is made company-wide after the start: no longer Rada's to see or decide.
    with console.db.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO user_scopes (user_id, org_unit_id) "
                "SELECT :u, id FROM org_units WHERE key = 'acme'"
            ),
            {"u": console.users["executive"]},
        )
    shown = rada.answer(REVIEW_DETAIL, str(review), *DONE)
    labels = " ".join(o["label"] for o in shown["admin-review-pending"]["options"])
    assert "nora@example.com" in labels
    assert "eve@example.com" not in labels
    before = snapshot(console.db)
    for output in (CERTIFY, REVOKE):
        shown_text = answer_text(rada, output, 1, str(review), eve_items, "")
        assert "Not allowed: no such user among those you may manage" in shown_text
    assert snapshot(console.db) == before

    # A company-wide admin decides the grants of a user who left the reviewer's scope.
    detail = ada.answer(REVIEW_DETAIL, str(review), *DONE)
    enabled = {o["value"] for o in detail["admin-review-pending"]["options"] if not o["disabled"]}
    assert set(eve_items) <= enabled
    assert "Certified: " in answer_text(ada, CERTIFY, 1, str(review), eve_items, "moved")
    nora = item_ids(console.db, review, "nora@example.com")
    assert "only the campaign's reviewer" in answer_text(ada, CERTIFY, 1, str(review), nora, "")
    assert "Certified: " in answer_text(rada, CERTIFY, 1, str(review), nora, "fine")
