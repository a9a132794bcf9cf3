"""Org units edited in the admin console: created, renamed, moved, deactivated, reactivated.

Each needs ``catalog:manage`` and a unit (and a new parent) in the admin's scope, and is
audited with before and after. A deactivation covers the unit and every unit below it: they
keep their history but leave the pickers and take no new events. A unit is reactivated with
its subtree, and only under an active parent.
"""

from __future__ import annotations

import re

from sqlalchemy import select, text, update
from sqlalchemy.orm import Session

from models.admin.rules import AdminError, actor_of
from models.audit import Actor, record_change
from models.catalog import OrgUnitSpec, audit_update, upsert_org_unit
from models.enums import OrgLevel
from models.org import OrgUnit
from models.permissions import AccessDenied, Permission, Principal
from models.queries.common import IN_SCOPE, scope_params
from models.queries.scope import OUT_OF_SCOPE

MANAGE = Permission.CATALOG_MANAGE
UNIT_KEY = re.compile(r"[a-z0-9][a-z0-9_.-]{0,99}")
MAX_NAME = 200


def _actor(principal: Principal) -> Actor:
    principal.require(MANAGE)
    if principal.user_id is None:
        raise AccessDenied("org changes need a signed-in user")
    return actor_of(principal)


def _in_scope(session: Session, principal: Principal, unit_id: int) -> OrgUnit:
    """The unit, locked, if it lies in the principal's scope (AccessDenied otherwise)."""
    unit = session.scalar(
        select(OrgUnit)
        .where(OrgUnit.id == unit_id, text(f"org_units.path <@ ANY({IN_SCOPE})"))
        .params(**scope_params(principal.scope_paths))
        .with_for_update()
    )
    if unit is None:
        raise AccessDenied(OUT_OF_SCOPE)
    return unit


def _name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > MAX_NAME or not name.isprintable():
        raise AdminError(f"a unit needs a name of 1 to {MAX_NAME} printable characters")
    return name


def create_unit(
    session: Session, principal: Principal, parent_id: int, key: str, name: str, level: OrgLevel
) -> OrgUnit:
    """A new active unit under ``parent_id`` (in scope and active); audited."""
    actor = _actor(principal)
    parent = _in_scope(session, principal, parent_id)
    if not parent.active:
        raise AdminError(f"{parent.name} is deactivated: reactivate it before adding units")
    key = key.strip()
    if not UNIT_KEY.fullmatch(key):
        raise AdminError(
            "a unit key is 1 to 100 lower-case letters, digits, '.', '-' or '_', "
            "starting with a letter or digit"
        )
    if session.scalar(select(OrgUnit.id).where(OrgUnit.key == key)) is not None:
        raise AdminError(f"a unit with key {key!r} exists already")
    return upsert_org_unit(session, OrgUnitSpec(key, _name(name), level, parent.key), actor)


def rename_unit(session: Session, principal: Principal, unit_id: int, name: str) -> bool:
    """Rename the unit; False when the name is unchanged. Audited as ``org_unit.update``."""
    actor = _actor(principal)
    unit = _in_scope(session, principal, unit_id)
    new = _name(name)
    if new == unit.name:
        return False
    audit_update(session, actor, "org_unit", str(unit.id), unit, {"name": new})
    return True


def move_unit(session: Session, principal: Principal, unit_id: int, parent_id: int) -> None:
    """Move the unit (and its subtree) under ``parent_id``; both in scope, no cycle."""
    actor = _actor(principal)
    unit = _in_scope(session, principal, unit_id)
    parent = _in_scope(session, principal, parent_id)
    if parent.id == unit.id or (parent.path + ".").startswith(unit.path + "."):
        raise AdminError(f"{unit.name} cannot move under itself or a unit below it ({parent.name})")
    if parent.id == unit.parent_id:
        raise AdminError(f"{unit.name} is already under {parent.name}")
    if not parent.active:
        raise AdminError(f"{parent.name} is deactivated: no unit can move under it")
    before = {"parent": _parent_key(session, unit.parent_id), "path": unit.path}
    old_prefix, new_prefix = unit.path, f"{parent.path}.{unit.id}"
    subtree = session.scalars(select(OrgUnit).where(OrgUnit.path.op("<@")(old_prefix))).all()
    for member in subtree:
        member.path = new_prefix + member.path[len(old_prefix) :]
    unit.parent_id = parent.id
    session.flush()
    after = {"parent": parent.key, "path": unit.path, "units": len(subtree)}
    record_change(session, actor, "org_unit.move", "org_unit", unit.id, before=before, after=after)


def _parent_key(session: Session, parent_id: int | None) -> str | None:
    if parent_id is None:
        return None
    return session.scalar(select(OrgUnit.key).where(OrgUnit.id == parent_id))


def set_unit_active(session: Session, principal: Principal, unit_id: int, active: bool) -> int:
    """(De)activate the unit and its subtree; returns how many units changed. Audited as
    ``org_unit.deactivate`` / ``org_unit.reactivate`` with the keys that changed."""
    actor = _actor(principal)
    unit = _in_scope(session, principal, unit_id)
    if active and unit.parent_id is not None:
        parent = session.get(OrgUnit, unit.parent_id)
        if parent is not None and not parent.active:
            raise AdminError(f"{parent.name} is deactivated: reactivate it first")
    if not active and unit.path in principal.scope_paths and len(principal.scope_paths) == 1:
        raise AdminError(f"{unit.name} is the top of your scope: you would deactivate all of it")
    keys = session.scalars(
        update(OrgUnit)
        .where(OrgUnit.path.op("<@")(unit.path), OrgUnit.active.is_(not active))
        .values(active=active)
        .returning(OrgUnit.key)
        .execution_options(synchronize_session=False)
    ).all()
    session.expire_all()
    if keys:
        verb = "reactivate" if active else "deactivate"
        record_change(
            session,
            actor,
            f"org_unit.{verb}",
            "org_unit",
            unit.id,
            before={"active": not active, "units": sorted(keys)},
            after={"active": active, "units": sorted(keys)},
        )
    return len(keys)
