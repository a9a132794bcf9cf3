"""KPI definitions: the KPIs a principal may see, each with its parsed formula and metrics."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, RowMapping, text

from models.enums import Direction, Granularity, OrgLevel
from models.formulas import Formula, FormulaError, parse_formula
from models.permissions import Permission, Principal
from models.queries.common import DEFAULT_LIMITS, QueryLimits


class UnknownKpi(LookupError):
    """No KPI has this key."""


class InvalidKpi(ValueError):
    """A stored KPI whose formula cannot be computed (names the KPI and the formula error)."""


@dataclass(frozen=True, slots=True)
class KpiDefinition:
    """A KPI with its parsed formula and the ids of the metrics (and sources) it reads."""

    id: int
    key: str
    name: str
    description: str
    formula: Formula
    unit: str
    format: str
    direction: Direction
    target: float | None
    warn_threshold: float | None
    crit_threshold: float | None
    default_granularity: Granularity
    levels: tuple[OrgLevel, ...]
    metric_ids: Mapping[str, int]
    source_ids: frozenset[int]


_KPI_COLUMNS = (
    "id, key, name, description, formula, unit, format, direction, target, "
    "warn_threshold, crit_threshold, default_granularity, CAST(levels AS text[]) AS levels"
)


def _definition(row: Mapping[Any, Any], metrics: Mapping[str, tuple[int, int]]) -> KpiDefinition:
    try:
        formula = parse_formula(row["formula"], known_metrics=metrics.keys())
    except FormulaError as exc:
        raise InvalidKpi(f"KPI {row['key']!r}: {exc}") from exc
    used = {key: metrics[key] for key in formula.metric_keys}
    return KpiDefinition(
        id=row["id"],
        key=row["key"],
        name=row["name"],
        description=row["description"],
        formula=formula,
        unit=row["unit"],
        format=row["format"],
        direction=Direction(row["direction"]),
        target=row["target"],
        warn_threshold=row["warn_threshold"],
        crit_threshold=row["crit_threshold"],
        default_granularity=Granularity(row["default_granularity"]),
        levels=tuple(OrgLevel(level) for level in row["levels"]),
        metric_ids={key: metric_id for key, (metric_id, _) in used.items()},
        source_ids=frozenset(source_id for _, source_id in used.values()),
    )


def _metrics_named(connection: Connection, keys: set[str]) -> dict[str, tuple[int, int]]:
    rows = connection.execute(
        text("SELECT key, id, source_id FROM metrics WHERE key = ANY(:keys) LIMIT :limit"),
        {"keys": sorted(keys), "limit": len(keys)},
    )
    return {key: (metric_id, source_id) for key, metric_id, source_id in rows}


def _referenced_keys(rows: Sequence[RowMapping]) -> set[str]:
    keys: set[str] = set()
    for row in rows:
        try:
            keys |= parse_formula(row["formula"]).metric_keys
        except FormulaError as exc:
            raise InvalidKpi(f"KPI {row['key']!r}: {exc}") from exc
    return keys


def load_kpis(
    connection: Connection, principal: Principal, *, limits: QueryLimits = DEFAULT_LIMITS
) -> list[KpiDefinition]:
    """Every KPI, by name. Raises InvalidKpi when a stored formula cannot be computed."""
    principal.require(Permission.KPI_VIEW)
    rows = list(
        connection.execute(
            text(f"SELECT {_KPI_COLUMNS} FROM kpis ORDER BY name, id LIMIT :limit"),
            {"limit": limits.row_limit},
        ).mappings()
    )
    metrics = _metrics_named(connection, _referenced_keys(rows))
    return [_definition(row, metrics) for row in rows]


def load_kpi(connection: Connection, principal: Principal, key: str) -> KpiDefinition:
    """The KPI with this key. Raises UnknownKpi, or InvalidKpi for a broken formula."""
    principal.require(Permission.KPI_VIEW)
    row = (
        connection.execute(
            text(f"SELECT {_KPI_COLUMNS} FROM kpis WHERE key = :key LIMIT 1"), {"key": key}
        )
        .mappings()
        .first()
    )
    if row is None:
        raise UnknownKpi(f"no KPI with key {key!r}")
    return _definition(row, _metrics_named(connection, _referenced_keys([row])))


DRAFT_KEY = "draft"


def draft_kpi(
    connection: Connection,
    principal: Principal,
    formula: str,
    *,
    unit: str = "",
    format: str = ",.2f",
    direction: Direction = Direction.HIGHER_IS_BETTER,
) -> KpiDefinition:
    """A KPI not saved yet (the admin screen's preview), computable like a stored one.

    Raises:
        FormulaError: the formula is malformed or reads an unknown metric.
    """
    principal.require(Permission.KPI_VIEW)
    metrics = _metrics_named(connection, set(parse_formula(formula).metric_keys))
    parse_formula(formula, known_metrics=metrics.keys())  # an unknown metric, with its position
    row = {
        "id": 0,
        "key": DRAFT_KEY,
        "name": "Draft",
        "description": "",
        "formula": formula,
        "unit": unit,
        "format": format,
        "direction": direction.value,
        "target": None,
        "warn_threshold": None,
        "crit_threshold": None,
        "default_granularity": Granularity.HOUR.value,
        "levels": [level.value for level in OrgLevel],
    }
    return _definition(row, metrics)
