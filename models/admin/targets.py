"""Target plans saved from the admin console's grid: every unit in the admin's scope and
active, then :func:`models.targets.apply_target_plans` (checked whole, audited, one
transaction). A dry run shows the changes and writes nothing."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import text
from sqlalchemy.orm import Session

from models.admin.rules import actor_of
from models.permissions import AccessDenied, Permission, Principal
from models.queries.common import scope_params
from models.queries.scope import OUT_OF_SCOPE
from models.targets import TargetPlanChange, TargetPlanSpec, apply_target_plans

MANAGE = Permission.CATALOG_MANAGE
_IN_SCOPE = text(
    "SELECT key FROM org_units WHERE key = ANY(:keys) AND active "
    "AND path <@ ANY(CAST(:scopes AS ltree[]))"
)


def save_target_plans(
    session: Session,
    principal: Principal,
    specs: Sequence[TargetPlanSpec],
    *,
    fiscal_start_month: int,
    dry_run: bool = False,
) -> list[TargetPlanChange]:
    """Apply ``specs`` for units in the principal's scope; with ``dry_run`` the changes are
    computed in a savepoint and rolled back (nothing written, nothing audited).

    Raises:
        AccessDenied: missing ``catalog:manage``, or a unit out of scope, unknown or
            deactivated (indistinguishably).
        TargetPlanError: a spec that cannot be applied (``apply_target_plans``).
    """
    principal.require(MANAGE)
    if principal.user_id is None:
        raise AccessDenied("plan changes need a signed-in user")
    keys = sorted({spec.unit for spec in specs})
    found = set(session.scalars(_IN_SCOPE, {"keys": keys, **scope_params(principal.scope_paths)}))
    missing = [key for key in keys if key not in found]
    if missing:
        raise AccessDenied(f"{OUT_OF_SCOPE}: {missing[0]!r}")
    actor = actor_of(principal)
    if not dry_run:
        return apply_target_plans(
            session, actor, list(specs), fiscal_start_month=fiscal_start_month
        )
    savepoint = session.begin_nested()
    try:
        return apply_target_plans(
            session, actor, list(specs), fiscal_start_month=fiscal_start_month
        )
    finally:
        savepoint.rollback()
