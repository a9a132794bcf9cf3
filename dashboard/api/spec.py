"""The read API's part of the OpenAPI document served at ``/api/v1/openapi.json``."""

from __future__ import annotations

from typing import Any

from dashboard.executive.selectors import DEFAULT_PERIOD, PERIODS
from models.enums import Granularity
from models.judging import Status

_PROBLEM = {"$ref": "#/components/schemas/ReadProblem"}
_RETRY = {
    "Retry-After": {
        "description": "Seconds to wait before trying again.",
        "schema": {"type": "integer", "minimum": 1},
    }
}


def _answer(description: str, *, retry: bool = False) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "description": description,
        "content": {"application/json": {"schema": _PROBLEM}},
    }
    if retry:
        answer["headers"] = _RETRY
    return answer


def _parameter(name: str, description: str, **schema: Any) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": {"type": "string", **schema},
    }


_UNIT = _parameter("unit", "An org unit key in your scope; default: the first unit of your scope.")
_PERIOD = _parameter(
    "period",
    f"The period up to now (UTC; `today` starts at midnight UTC); default `{DEFAULT_PERIOD}`.",
    enum=list(PERIODS),
)
_KEY = {
    "name": "key",
    "in": "path",
    "required": True,
    "description": "The KPI's key.",
    "schema": {"type": "string"},
}
_ERRORS = {
    "400": _answer("A bad parameter, named in `parameter`."),
    "401": _answer("Missing, unknown, revoked or expired token, or a deactivated user."),
    "403": _answer("The token's user lacks kpi:view, or the unit is not in their scope."),
    "429": _answer("The user's request budget (shared with the pages) is spent.", retry=True),
    "503": _answer("The database is busy.", retry=True),
}


def _operation(summary: str, schema: str, parameters: list[Any], *, kpi: bool) -> dict[str, Any]:
    responses: dict[str, Any] = {
        "200": {
            "description": summary,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
        },
        **_ERRORS,
    }
    if kpi:
        responses["404"] = _answer("No KPI has this key.")
    return {
        "summary": summary,
        "security": [{"accessToken": []}],
        "parameters": ([_KEY] if kpi else []) + parameters,
        "responses": responses,
    }


_TIME = {"type": "string", "format": "date-time"}
_NUMBER = {"type": ["number", "null"]}
_UNIT_SCHEMA = {
    "type": "object",
    "properties": {
        "key": {"type": "string"},
        "name": {"type": "string"},
        "level": {"type": "string"},
    },
}
_PERIOD_SCHEMA = {
    "type": "object",
    "properties": {"key": {"type": "string"}, "start": _TIME, "end": _TIME},
}
_CHANGE = {
    "type": "object",
    "properties": {"absolute": _NUMBER, "percent": _NUMBER},
}
_KPI_NUMBERS = {
    "type": "object",
    "properties": {
        "key": {"type": "string"},
        "name": {"type": "string"},
        "value": _NUMBER,
        "previous_value": _NUMBER,
        "change": _CHANGE,
        "value_unit": {"type": "string"},
        "format": {"type": "string", "description": "A Python format spec, e.g. `,.2f`."},
        "direction": {"type": "string", "enum": ["higher_is_better", "lower_is_better"]},
        "target": _NUMBER,
        "target_basis": {
            "type": "string",
            "enum": ["own", "equal", "share", "none"],
            "description": "What the target rests on: the unit's own plan, an equal split or "
            "a share of its parent's, or nothing (no target, no status).",
        },
        "target_explanation": {
            "type": "string",
            "description": "Where the target comes from, or why there is none, in words.",
        },
        "warn_threshold": _NUMBER,
        "crit_threshold": _NUMBER,
        "status": {"type": "string", "enum": [s.value for s in Status]},
        "quality": {
            "type": "object",
            "properties": {
                "level": {"type": "string", "enum": ["ok", "warning", "failing"]},
                "reasons": {"type": "array", "items": {"type": "string"}},
            },
        },
    },
}
_SCHEMAS: dict[str, Any] = {
    "ReadProblem": {
        "type": "object",
        "required": ["error", "reason"],
        "properties": {
            "error": {"type": "string"},
            "reason": {"type": "string"},
            "parameter": {"type": "string"},
        },
    },
    "KpiNumbers": _KPI_NUMBERS,
    "KpiList": {
        "type": "object",
        "properties": {
            "unit": _UNIT_SCHEMA,
            "period": _PERIOD_SCHEMA,
            "as_of": _TIME,
            "kpis": {"type": "array", "items": {"$ref": "#/components/schemas/KpiNumbers"}},
        },
    },
    "KpiDetail": {
        "allOf": [
            {"$ref": "#/components/schemas/KpiNumbers"},
            {
                "type": "object",
                "properties": {
                    "unit": _UNIT_SCHEMA,
                    "period": _PERIOD_SCHEMA,
                    "previous_period": _PERIOD_SCHEMA,
                    "as_of": _TIME,
                },
            },
        ]
    },
    "KpiSeries": {
        "type": "object",
        "properties": {
            "key": {"type": "string"},
            "unit": _UNIT_SCHEMA,
            "period": _PERIOD_SCHEMA,
            "granularity": {"type": "string", "enum": [g.value for g in Granularity]},
            "total": _NUMBER,
            "as_of": _TIME,
            "points": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"start": _TIME, "end": _TIME, "value": _NUMBER},
                },
            },
        },
    },
    "KpiBreakdown": {
        "type": "object",
        "properties": {
            "key": {"type": "string"},
            "unit": _UNIT_SCHEMA,
            "period": _PERIOD_SCHEMA,
            "as_of": _TIME,
            "rows": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "unit": _UNIT_SCHEMA,
                        "value": _NUMBER,
                        "previous_value": _NUMBER,
                        "change": _CHANGE,
                    },
                },
            },
        },
    },
}
_SERIES_PARAMETERS = [
    _UNIT,
    _parameter("from", "Start (ISO 8601 with offset); give `to` too. Instead of `period`."),
    _parameter("to", "End (ISO 8601 with offset), exclusive."),
    _PERIOD,
    _parameter(
        "granularity",
        "Bucket width; default `auto` (minutes up to 3 hours, hours up to 8 days, else days).",
        enum=["auto", *(g.value for g in Granularity)],
    ),
]


def part() -> dict[str, Any]:
    """Paths, schemas and the security scheme of the read API (a fresh dict)."""
    return {
        "paths": {
            "/kpis": {
                "get": _operation(
                    "The KPIs at a unit, with their numbers", "KpiList", [_UNIT, _PERIOD], kpi=False
                )
            },
            "/kpis/{key}": {
                "get": _operation(
                    "One KPI: value, previous value, change, target, status, quality",
                    "KpiDetail",
                    [_UNIT, _PERIOD],
                    kpi=True,
                )
            },
            "/kpis/{key}/series": {
                "get": _operation("One KPI per bucket", "KpiSeries", _SERIES_PARAMETERS, kpi=True)
            },
            "/kpis/{key}/breakdown": {
                "get": _operation(
                    "One KPI per child unit in scope", "KpiBreakdown", [_UNIT, _PERIOD], kpi=True
                )
            },
        },
        "schemas": _SCHEMAS,
        "securitySchemes": {
            "accessToken": {
                "type": "http",
                "scheme": "bearer",
                "description": "A personal access token, `nsp_<prefix>_<secret>`, made on the "
                "account page or by `northstar tokens create`; it acts as its user.",
            }
        },
    }
