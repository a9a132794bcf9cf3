"""The ``sources`` section: sources with their settings and contract (a new version when the
fields change; refused when that would orphan stored events without a declared version)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from pydantic import TypeAdapter
from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from models.audit import Actor
from models.catalog import ensure_contract, latest_contract, upsert_by_key
from models.catalog_file.changes import Change, FieldChange, entry_change
from models.catalog_file.document import Document, Parsed
from models.catalog_file.lookups import unit_ids, user_emails
from models.catalog_file.problems import Problem
from models.catalog_file.refs import References
from models.catalog_file.source_entry import MASK, ContractEntry, SourceEntry, masked
from models.contracts import Contract
from models.enums import Classification, PullKind, RefreshMode
from models.facts import events
from models.pulls import PULLED_MODES
from models.sources import Source

NAME = "sources"
_MOMENT = TypeAdapter(dt.datetime)


def _contract_shape(session: Session, source: Source) -> dict[str, Any] | None:
    row = latest_contract(session, source)
    if row is None:
        return None
    contract = Contract.from_row(row.version, row.fields)
    fields = [f.model_dump(mode="json", exclude_defaults=True) for f in contract.fields]
    return {"version": row.version, "fields": fields}


def _shape(
    session: Session, source: Source, owners: dict[int, str], emails: dict[int, str]
) -> dict[str, Any]:
    pull = None
    if source.pull_kind is not None:
        pull = {
            "kind": source.pull_kind.value,
            "target": source.pull_target,
            "query": source.pull_query,
            "interval_s": source.pull_interval_s,
        }
    agreement = None
    if source.partner_agreement_ref is not None:
        expires = source.partner_agreement_expires_at
        agreement = {
            "reference": source.partner_agreement_ref,
            "expires": None
            if expires is None
            else _MOMENT.dump_python(expires.astimezone(dt.UTC), mode="json"),
        }
    return {
        "key": source.key,
        "name": source.name,
        "description": source.description,
        "owner": owners[source.owner_unit_id],
        "steward": None if source.steward_id is None else emails.get(source.steward_id),
        "mode": source.refresh_mode.value,
        "pull": pull,
        "freshness_sla_s": source.freshness_sla_s,
        "expected_volume_per_15m": source.expected_volume_per_15m,
        "retention_days": source.retention_days,
        "sensitivity": source.sensitivity.value,
        "active": source.active,
        "partner_agreement": agreement,
        "contract": _contract_shape(session, source),
    }


def current(session: Session, *, reveal: bool = False) -> dict[str, dict[str, Any]]:
    """The stored sources in the file's shape, oldest first; pull passwords masked unless
    ``reveal``."""
    owners = {i: k for k, i in unit_ids(session).items()}
    emails = user_emails(session)
    found = {}
    for source in session.scalars(select(Source).order_by(Source.id)):
        shaped = _shape(session, source, owners, emails)
        if shaped["pull"] is not None and not reveal:
            shaped["pull"]["target"] = masked(shaped["pull"]["target"])
        found[source.key] = shaped
    return found


def _wanted(parsed: Parsed, entry: SourceEntry, stored: dict[str, Any] | None) -> dict[str, Any]:
    """The fields the file sets, in the stored shape: the contract with its resulting version,
    a masked password and a differently-cased steward e-mail resolved to the stored ones."""
    wanted = parsed.wanted()
    stored = stored or {}
    if entry.contract is not None:
        wanted["contract"] = _contract_after(entry.contract, stored.get("contract"))
    pull, old_pull = wanted.get("pull"), stored.get("pull")
    if (
        pull
        and old_pull
        and MASK in pull["target"]
        and masked(old_pull["target"]) == pull["target"]
    ):
        pull["target"] = old_pull["target"]
    steward, old_steward = wanted.get("steward"), stored.get("steward")
    if steward and old_steward and steward.lower() == old_steward.lower():
        wanted["steward"] = old_steward
    return wanted


def _contract_after(entry: ContractEntry, stored: dict[str, Any] | None) -> dict[str, Any]:
    fields = entry.field_dumps()
    if entry.version is not None:
        version = entry.version
    elif stored is None:
        version = 1
    else:
        version = stored["version"] if stored["fields"] == fields else stored["version"] + 1
    return {"version": version, "fields": fields}


def _created(entry: SourceEntry, wanted: dict[str, Any]) -> dict[str, Any]:
    return {**entry.model_dump(mode="json"), **wanted}


def _has_events(session: Session, source_key: str) -> bool:
    source_id = session.scalar(select(Source.id).where(Source.key == source_key))
    return bool(session.scalar(select(exists().where(events.c.source_id == source_id))))


def _orphaning(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> list[str]:
    """What in ``new`` leaves stored values of ``old`` behind: removed fields, and fields whose
    type or role (where their values are stored) changed."""
    after = {f["name"]: f for f in new}
    found = []
    for field in old:
        name = field["name"]
        if name not in after:
            found.append(f"field {name!r} removed")
            continue
        for prop in ("type", "role"):
            if field.get(prop) != after[name].get(prop):
                found.append(
                    f"{prop} of {name!r} changed from {field.get(prop)} to {after[name].get(prop)}"
                )
    return found


def _version_problem(declared: int, current_version: int, same: bool) -> str | None:
    following = current_version + 1
    if declared < current_version:
        return f"version {declared} is older than the current version {current_version}"
    if declared == current_version and not same:
        return (
            f"version {declared} is stored with other fields; declare version {following} "
            "to make these fields a new version"
        )
    if declared > following:
        return f"the current version is {current_version}: the next one is {following}"
    if declared == following and same:
        return f"version {declared} would repeat version {current_version}: the fields are the same"
    return None


def _contract_problems(
    session: Session, parsed: Parsed, entry: SourceEntry, stored: dict[str, Any] | None
) -> list[Problem]:
    if entry.contract is None or stored is None or stored["contract"] is None:
        return []
    old, fields = stored["contract"], entry.contract.field_dumps()
    same = old["fields"] == fields
    if entry.contract.version is not None:
        problem = _version_problem(entry.contract.version, old["version"], same)
        if problem is not None:
            return [parsed_problem(parsed, "contract.version", problem)]
        if entry.contract.version == old["version"] + 1:
            return []  # a declared new version may leave old fields behind
    orphaned = [] if same else _orphaning(old["fields"], fields)
    if orphaned and _has_events(session, parsed.key):
        return [
            parsed_problem(
                parsed,
                "contract.fields",
                f"the source has stored events that this change would orphan "
                f"({'; '.join(orphaned)}); declare contract version {old['version'] + 1} "
                "to make it a new version",
            )
        ]
    return []


def parsed_problem(parsed: Parsed, field: str, message: str) -> Problem:
    return Problem(parsed.where, field, message)


def _entry_problems(
    session: Session,
    parsed: Parsed,
    entry: SourceEntry,
    stored: dict[str, Any] | None,
    refs: References,
) -> list[Problem]:
    problems = []
    owner = refs.owner_problem(entry.owner)
    if owner is not None:
        problems.append(parsed_problem(parsed, "owner", owner))
    wanted = _wanted(parsed, entry, stored)
    after = {**(stored or _created(entry, {})), **wanted}
    steward = refs.steward_problem(after["steward"], after["owner"], (stored or {}).get("steward"))
    if steward is not None:
        problems.append(parsed_problem(parsed, "steward", steward))
    if after["pull"] is not None and RefreshMode(after["mode"]) not in PULLED_MODES:
        modes = " or ".join(m.value for m in PULLED_MODES)
        problems.append(parsed_problem(parsed, "pull", f"only a source in mode {modes} is pulled"))
    if after["pull"] is not None and MASK in after["pull"]["target"]:
        problems.append(
            parsed_problem(
                parsed, "pull.target", f"the password is masked ({MASK!r}): write it out"
            )
        )
    return problems + _contract_problems(session, parsed, entry, stored)


def check(session: Session, document: Document) -> list[Problem]:
    stored = current(session, reveal=True)
    entries = document.of(NAME, SourceEntry)
    refs = References(session, document, (e.steward for _, e in entries))
    return [
        problem
        for parsed, entry in entries
        for problem in _entry_problems(session, parsed, entry, stored.get(parsed.key), refs)
    ]


def _masked_change(change: Change) -> Change:
    shown = tuple(
        FieldChange(f.field, masked(f.before), masked(f.after)) if f.field == "pull.target" else f
        for f in change.fields
    )
    return replace(change, fields=shown)


def changes(session: Session, document: Document) -> list[Change]:
    stored = current(session, reveal=True)
    found = []
    for parsed, entry in document.of(NAME, SourceEntry):
        old = stored.get(parsed.key)
        wanted = _wanted(parsed, entry, old)
        change = entry_change(NAME, parsed.key, wanted, old, created=_created(entry, wanted))
        if change is not None:
            found.append(_masked_change(change))
    return found


def _columns(merged: dict[str, Any], owner_id: int, steward_id: int | None) -> dict[str, Any]:
    pull, agreement = merged["pull"] or {}, merged["partner_agreement"] or {}
    expires = agreement.get("expires")
    return {
        "name": merged["name"],
        "description": merged["description"],
        "owner_unit_id": owner_id,
        "steward_id": steward_id,
        "refresh_mode": RefreshMode(merged["mode"]),
        "pull_kind": PullKind(pull["kind"]) if pull else None,
        "pull_target": pull.get("target"),
        "pull_query": pull.get("query"),
        "pull_interval_s": pull.get("interval_s"),
        "freshness_sla_s": merged["freshness_sla_s"],
        "expected_volume_per_15m": merged["expected_volume_per_15m"],
        "retention_days": merged["retention_days"],
        "sensitivity": Classification(merged["sensitivity"]),
        "active": merged["active"],
        "partner_agreement_ref": agreement.get("reference"),
        "partner_agreement_expires_at": None
        if expires is None
        else _MOMENT.validate_python(expires),
    }


def apply(session: Session, document: Document, planned: Sequence[Change], actor: Actor) -> None:
    """Create or update the changed sources, then store a changed contract as a new version."""
    changed = {c.key for c in planned if c.section == NAME}
    stored = current(session, reveal=True)
    owners = unit_ids(session)
    entries = [(p, e) for p, e in document.of(NAME, SourceEntry) if p.key in changed]
    refs = References(session, document, (e.steward for _, e in entries))
    for parsed, entry in entries:
        old = stored.get(parsed.key)
        wanted = _wanted(parsed, entry, old)
        merged = {**(old or _created(entry, wanted)), **wanted}
        steward = merged["steward"]
        steward_id = refs.steward_id(steward)
        if steward is not None and steward_id is None:  # the stored steward, now inactive
            steward_id = _stored_steward_id(session, parsed.key)
        values = _columns(merged, owners[merged["owner"]], steward_id)
        source = upsert_by_key(session, actor, Source, "source", parsed.key, values)
        contract = wanted.get("contract")
        if entry.contract is not None and contract != (old or {}).get("contract"):
            ensure_contract(
                session,
                source,
                entry.contract.fields,
                actor,
                note="catalogue file",
                version=contract["version"] if contract else None,
            )


def _stored_steward_id(session: Session, key: str) -> int | None:
    return session.scalar(select(Source.steward_id).where(Source.key == key))


def measures_after(session: Session, document: Document) -> dict[str, tuple[str, tuple[str, ...]]]:
    """Every source once the files are applied: its name and the measures of its contract."""
    found = {}
    for key, shaped in current(session).items():
        contract = shaped["contract"]
        measures = _measures(contract["fields"]) if contract else ()
        found[key] = (shaped["name"], measures)
    for parsed, entry in document.of(NAME, SourceEntry):
        name, measures = found.get(parsed.key, (entry.name, ()))
        if "name" in entry.model_fields_set:
            name = entry.name
        if entry.contract is not None:
            measures = _measures(entry.contract.field_dumps())
        found[parsed.key] = (name, measures)
    return found


def _measures(fields: list[dict[str, Any]]) -> tuple[str, ...]:
    return tuple(f["name"] for f in fields if f.get("role") == "measure")
