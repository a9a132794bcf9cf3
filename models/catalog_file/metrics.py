"""The ``metrics`` section: the name and unit of a source's event count (key ``orders``) and
of its measures (``orders.amount``). A source's metrics are created with it; an entry here
sets their name and unit."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from models.audit import Actor, record_change
from models.catalog import audit_update, metric_key
from models.catalog_file import sources
from models.catalog_file.changes import Change, entry_change
from models.catalog_file.document import Document
from models.catalog_file.problems import Problem
from models.sources import Metric, Source

NAME = "metrics"
METRIC_KEY = r"^[a-z][a-z0-9_]{1,63}(\.[a-z][a-z0-9_]{0,62})?$"


class MetricEntry(BaseModel):
    """A metric's display name and unit; an unset one keeps its value (default on creation:
    ``<source name> (count)`` and ``events``, or ``<source name>: <measure>`` and none)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    key: str = Field(pattern=METRIC_KEY)
    name: str = Field(default="", max_length=200)
    unit: str = Field(default="", max_length=40)


def _default(key: str, source_name: str) -> dict[str, Any]:
    measure = key.partition(".")[2]
    if not measure:
        return {"key": key, "name": f"{source_name} (count)", "unit": "events"}
    return {"key": key, "name": f"{source_name}: {measure}", "unit": ""}


def current(session: Session) -> dict[str, dict[str, Any]]:
    """The stored metrics of every source's event count and current measures, by key."""
    after = sources.measures_after(session, Document())
    rows = session.execute(
        select(Metric.key, Metric.name, Metric.unit, Metric.measure, Source.key)
        .join(Source, Source.id == Metric.source_id)
        .order_by(Metric.key)
    )
    return {
        key: {"key": key, "name": name, "unit": unit}
        for key, name, unit, measure, source_key in rows
        if measure is None or measure in after.get(source_key, ("", ()))[1]
    }


def _stored_keys(session: Session) -> set[str]:
    return set(session.scalars(select(Metric.key)))


def keys_after(session: Session, document: Document) -> set[str]:
    """The metrics formulas may read once the files are applied."""
    implied = {
        metric_key(key, measure)
        for key, (_name, measures) in sources.measures_after(session, document).items()
        for measure in (None, *measures)
    }
    return implied | _stored_keys(session)


def check(session: Session, document: Document) -> list[Problem]:
    after = sources.measures_after(session, document)
    stored = _stored_keys(session)
    problems = []
    for parsed, _entry in document.of(NAME, MetricEntry):
        source_key, _, measure = parsed.key.partition(".")
        if parsed.key in stored or document.is_refused(sources.NAME, source_key):
            continue
        if source_key not in after:
            problem = f"unknown source {source_key!r}"
        elif measure and measure not in after[source_key][1]:
            problem = f"source {source_key!r} has no measure {measure!r} in its contract"
        else:
            continue
        problems.append(Problem(parsed.where, "key", problem))
    return problems


def _planned(
    session: Session, document: Document
) -> dict[str, tuple[dict[str, Any], dict[str, Any] | None]]:
    """Each metric to create or set: (the file's fields, what is stored or None)."""
    after = sources.measures_after(session, document)
    stored = _all_stored(session)
    declared = {p.key: p.wanted() for p, _e in document.of(NAME, MetricEntry)}
    planned: dict[str, tuple[dict[str, Any], dict[str, Any] | None]] = {}
    for parsed in document.entries.get(sources.NAME, []):
        _name, measures = after[parsed.key]
        for measure in (None, *measures):
            key = metric_key(parsed.key, measure)
            planned[key] = (declared.get(key, {"key": key}), stored.get(key))
    for key, wanted in declared.items():
        planned[key] = (wanted, stored.get(key))
    return planned


def _all_stored(session: Session) -> dict[str, dict[str, Any]]:
    rows = session.execute(select(Metric.key, Metric.name, Metric.unit))
    return {k: {"key": k, "name": n, "unit": u} for k, n, u in rows}


def changes(session: Session, document: Document) -> list[Change]:
    after = sources.measures_after(session, document)
    found = []
    for key, (wanted, stored) in _planned(session, document).items():
        source_name = after[key.partition(".")[0]][0]
        created = {**_default(key, source_name), **wanted}
        change = entry_change(NAME, key, wanted, stored, created=created)
        if change is not None:
            found.append(change)
    return found


def apply(session: Session, document: Document, planned: Sequence[Change], actor: Actor) -> None:
    """Create the metrics of new sources and measures, then set declared names and units."""
    source_ids = dict(session.execute(select(Source.key, Source.id)).all())
    existing = {m.key: m for m in session.scalars(select(Metric))}
    for change in planned:
        if change.section != NAME:
            continue
        values = {f.field: f.after for f in change.fields}
        metric = existing.get(change.key)
        if metric is None:
            source_key, _, measure = change.key.partition(".")
            metric = Metric(
                key=change.key, source_id=source_ids[source_key], measure=measure or None, **values
            )
            session.add(metric)
            session.flush()
            after = {"key": change.key, "measure": measure or None, **values}
            record_change(session, actor, "metric.create", "metric", change.key, after=after)
        else:
            audit_update(session, actor, "metric", change.key, metric, values)
