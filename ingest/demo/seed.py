"""Idempotent demo seeding: the catalogue file always, demo accounts only in demo mode."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from ingest.demo import catalog
from ingest.demo.targets import demo_target_plans
from models.accounts import UserSpec, create_user, find_user, upsert_role
from models.alerts import rules
from models.audit import Actor
from models.catalog import unit_by_key
from models.catalog_file import Document, apply_catalog
from models.permissions import ROLE_PERMISSIONS, Principal
from models.settings import Settings
from models.targets import apply_target_plans

SEED_ACTOR = Actor("system:demo-seed")
CREDENTIALS_FILE = "demo-credentials.txt"
_HEADER = (
    "# Northstar demo accounts: e-mail, password, role, scope (tab-separated).\n"
    "# Written when the accounts were created; re-seeding keeps them. Keep this file private.\n"
)


@dataclass(frozen=True, slots=True)
class NewAccount:
    email: str
    password: str
    roles: tuple[str, ...]
    scopes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SeedReport:
    """What a seed run did; ``new_accounts`` carry passwords and exist only for this run."""

    org_units: int
    sources: int
    kpis: int
    roles: int
    demo_mode: bool
    demo_accounts: tuple[str, ...]
    new_accounts: tuple[NewAccount, ...]
    credentials_path: Path | None


def credentials_path(settings: Settings) -> Path:
    return Path(settings.data_dir) / CREDENTIALS_FILE


def read_credentials(path: Path) -> dict[str, str]:
    """The passwords recorded in a credentials file, by e-mail."""
    found: dict[str, str] = {}
    if not path.exists():
        return found
    for line in path.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            email, password, *_ = line.split("\t")
            found[email] = password
    return found


def _write_credentials(path: Path, accounts: tuple[NewAccount, ...]) -> None:
    """Record new passwords, keeping other accounts' lines; the file is only owner-readable."""
    lines: dict[str, str] = {}
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            if line and not line.startswith("#"):
                lines[line.split("\t", 1)[0]] = line
    for account in accounts:
        fields = (
            account.email,
            account.password,
            ",".join(account.roles),
            ",".join(account.scopes),
        )
        lines[account.email] = "\t".join(fields)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Created 0600 from the start (never world-readable, even for an instant), then replaced.
    partial = path.with_name(path.name + ".partial")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(_HEADER + "".join(f"{line}\n" for line in lines.values()))
    os.chmod(partial, 0o600)
    os.replace(partial, path)


def _ensure_accounts(session: Session) -> tuple[NewAccount, ...]:
    created = []
    for spec in catalog.DEMO_USERS:
        if find_user(session, spec.email) is None:
            created.append(_create_account(session, spec))
    return tuple(created)


def _create_account(session: Session, spec: UserSpec) -> NewAccount:
    password = secrets.token_urlsafe(12)
    create_user(session, spec, password, SEED_ACTOR)
    return NewAccount(spec.email, password, spec.roles, spec.scopes)


def _ensure_alert_rules(session: Session) -> int:
    """The demo's alert rules, created once, as made by the demo admin; returns how many were
    created now."""
    owner = find_user(session, catalog.DEMO_ALERT_OWNER)
    if owner is None:
        return 0
    company = unit_by_key(session, catalog.COMPANY_KEY)
    principal = Principal(
        owner.id, ROLE_PERMISSIONS["admin"], (str(company.path),), name=owner.display_name
    )
    created = 0
    for spec in catalog.DEMO_ALERT_RULES:
        if rules.rule_named(session, spec.name) is None:
            owned = dataclasses.replace(spec, owner_user_id=owner.id)
            rules.create_rule(session, principal, owned, dt.datetime.now(dt.UTC))
            created += 1
    return created


def _with_stewards_known(session: Session, document: Document) -> Document:
    """The catalogue, without its stewards when the demo steward has no account (outside demo
    mode): then the stored stewards are left as they are."""
    steward = find_user(session, catalog.STEWARD_EMAIL)
    if steward is None or not steward.is_active:
        return document.without("steward")
    return document


def seed_demo(engine: Engine, settings: Settings) -> SeedReport:
    """Create or update the demo catalogue (target plans of the current year included), and
    the demo accounts when demo mode is on.

    Everything runs in one transaction. Existing accounts, and their passwords, are kept; new
    accounts' passwords are written to ``<data_dir>/demo-credentials.txt`` before committing.
    """
    document = catalog.DOCUMENT
    with Session(engine, expire_on_commit=False) as session, session.begin():
        # Units first: the accounts' scopes name them, and the sources name the steward.
        apply_catalog(session, document.only(["org_units"]), SEED_ACTOR)
        # Migration 0011 creates the built-in roles; the seed only re-asserts them (a no-op
        # unless someone edited one).
        roles = [upsert_role(session, spec, SEED_ACTOR) for spec in catalog.ROLES]
        new_accounts = _ensure_accounts(session) if settings.demo_mode else ()
        apply_catalog(session, _with_stewards_known(session, document), SEED_ACTOR)
        apply_target_plans(
            session,
            SEED_ACTOR,
            demo_target_plans(dt.datetime.now(dt.UTC).date()),
            fiscal_start_month=settings.fiscal_year_start_month,
        )
        if settings.demo_mode:
            session.flush()
            _ensure_alert_rules(session)
        path = credentials_path(settings)
        if new_accounts:
            _write_credentials(path, new_accounts)
    return SeedReport(
        org_units=len(document.entries["org_units"]),
        sources=len(document.entries["sources"]),
        kpis=len(document.entries["kpis"]),
        roles=len(roles),
        demo_mode=settings.demo_mode,
        demo_accounts=tuple(u.email for u in catalog.DEMO_USERS) if settings.demo_mode else (),
        new_accounts=new_accounts,
        credentials_path=path if settings.demo_mode else None,
    )
