"""The OpenAPI 3.1 document of the ingest API, served at ``/api/v1/openapi.json``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ingest.api_bodies import CSV, JSON, MULTIPART, NDJSON_TYPES
from ingest.contracts import RULES

_ERROR = {"$ref": "#/components/schemas/Error"}
_RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before retrying the same request.",
        "schema": {"type": "integer", "minimum": 1},
    }
}


def _error(description: str, *, retry: bool = False) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "description": description,
        "content": {"application/json": {"schema": _ERROR}},
    }
    if retry:
        answer["headers"] = _RETRY_AFTER
    return answer


_RESPONSES: dict[str, Any] = {
    "202": {
        "description": "Valid records are durable in the ingest streams; rejected records are "
        "quarantined with their reason and listed in `errors`.",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Accepted"}}},
    },
    "400": _error("The body is not a JSON array, NDJSON or CSV at all; nothing was accepted."),
    "401": _error("Missing, unknown, revoked or expired API key."),
    "403": _error(
        "The key belongs to another source, the source is inactive, or its partner agreement "
        "expired (`partner_agreement_expired`)."
    ),
    "404": _error("No source with this key (answered only to a valid key)."),
    "405": _error("Only POST is allowed."),
    "409": _error("The source has no contract yet."),
    "413": _error(
        "The body is larger than NORTHSTAR_INGEST_MAX_BYTES, or holds more records than "
        "NORTHSTAR_INGEST_MAX_RECORDS; nothing was accepted."
    ),
    "415": _error("Content-Type (or Content-Encoding) not accepted by this endpoint."),
    "429": _error(
        "The stream backlog is over its limit (backlog_full), or the key's rejected records "
        "this hour would pass NORTHSTAR_INGEST_MAX_REJECTED_PER_HOUR (quarantine_budget); "
        "nothing was accepted.",
        retry=True,
    ),
    "503": _error(
        "Stream storage or the catalogue is unavailable; nothing was accepted.", retry=True
    ),
}

_ARRAY = {"type": "array", "items": {"$ref": "#/components/schemas/Event"}}
_NDJSON = {"type": "string", "description": "One JSON object per line; blank lines are skipped."}
_CSV = {
    "type": "string",
    "description": "A header row of field names, then one record per row; empty cells are "
    "absent fields; numbers, booleans and timestamps are coerced by the contract.",
}


def _operation(summary: str, description: str, content: dict[str, Any]) -> dict[str, Any]:
    return {
        "summary": summary,
        "description": description,
        "security": [{"sourceKey": []}],
        "parameters": [
            {
                "name": "source_key",
                "in": "path",
                "required": True,
                "schema": {"type": "string"},
                "description": "The key of the source the API key belongs to.",
            }
        ],
        "requestBody": {"required": True, "content": content},
        "responses": _RESPONSES,
    }


_EVENTS = _operation(
    "Post events",
    "Validate each event against the source's current contract at the edge. Retrying a "
    "request with the same event ids and timestamps is safe: events are stored once.",
    {JSON: {"schema": _ARRAY}} | {t: {"schema": _NDJSON} for t in NDJSON_TYPES},
)
_UPLOADS = _operation(
    "Upload a file",
    "A CSV or JSON file of records for batch sources: same validation, same streams, same "
    "answers as posting events.",
    {
        CSV: {"schema": _CSV},
        JSON: {"schema": _ARRAY},
        NDJSON_TYPES[0]: {"schema": _NDJSON},
        MULTIPART: {
            "schema": {
                "type": "object",
                "required": ["file"],
                "properties": {
                    "file": {
                        "type": "string",
                        "contentMediaType": "text/csv",
                        "description": "The file: CSV, JSON array or NDJSON, told apart by "
                        "its part's Content-Type or its name's extension.",
                    }
                },
            }
        },
    },
)

_SCHEMAS: dict[str, Any] = {
    "Event": {
        "type": "object",
        "description": "Fields as the source's contract declares them; unknown fields are "
        "accepted (and counted as schema drift). Timestamps are RFC 3339 with an offset.",
        "additionalProperties": True,
    },
    "RecordError": {
        "type": "object",
        "required": ["index", "field", "reason"],
        "properties": {
            "index": {"type": "integer", "description": "0-based position of the record."},
            "field": {"type": ["string", "null"]},
            "rule": {
                "type": "string",
                "enum": list(RULES),
            },
            "reason": {"type": "string"},
        },
    },
    "Accepted": {
        "type": "object",
        "required": ["batch_id", "accepted", "rejected", "errors"],
        "properties": {
            "batch_id": {"type": "string", "format": "uuid"},
            "accepted": {"type": "integer", "minimum": 0},
            "rejected": {"type": "integer", "minimum": 0},
            "errors": {"type": "array", "items": {"$ref": "#/components/schemas/RecordError"}},
            "errors_truncated": {
                "type": "boolean",
                "description": "Present and true when more than 1000 records were rejected.",
            },
        },
    },
    "Error": {
        "type": "object",
        "required": ["error", "message"],
        "properties": {"error": {"type": "string"}, "message": {"type": "string"}},
    },
}


def document(parts: Sequence[Mapping[str, Any]] = ()) -> dict[str, Any]:
    """The OpenAPI 3.1 document (a fresh dict; the caller may serialise it), with the
    ``paths``, ``schemas`` and ``securitySchemes`` of other APIs under ``/api/v1`` added."""
    found = _ingest_document()
    for part in parts:
        found["paths"].update(part.get("paths", {}))
        found["components"]["schemas"].update(part.get("schemas", {}))
        found["components"]["securitySchemes"].update(part.get("securitySchemes", {}))
    if parts:
        found["info"]["title"] = "Northstar API"
        found["info"]["description"] += (
            " Scripts read KPIs under /kpis with a personal access token. See docs/api.md."
        )
    return found


def _ingest_document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Northstar ingest API",
            "version": "1",
            "description": "Producers post events with a per-source API key. The API uses "
            "API keys, never dashboard sessions. See docs/ingest-api.md.",
        },
        "servers": [{"url": "/api/v1"}],
        "paths": {
            "/sources/{source_key}/events": {"post": _EVENTS},
            "/sources/{source_key}/uploads": {"post": _UPLOADS},
            "/openapi.json": {
                "get": {
                    "summary": "This document",
                    "security": [],
                    "responses": {"200": {"description": "The OpenAPI document."}},
                }
            },
        },
        "components": {
            "securitySchemes": {
                "sourceKey": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A source API key, `ns_<prefix>_<secret>`, from "
                    "`northstar sources create-key`.",
                }
            },
            "schemas": _SCHEMAS,
        },
    }
