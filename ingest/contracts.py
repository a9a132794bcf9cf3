"""Compile a source contract into a msgspec validator that turns records into stream records.

A contract is compiled once per (source, version) into a ``msgspec`` Struct type whose
annotations carry every rule (type, bounds, pattern, allowed values, time zone); a record is
checked with one ``msgspec.convert`` call, never field by field in Python. msgspec stops at the
first problem, so a rejected record carries exactly one field, rule and reason.

Decisions (see docs/ingest-api.md):
- Timestamps are RFC 3339 strings *with* an offset (``Z`` or ``+01:00``); a naive timestamp is
  rejected rather than guessed to be UTC, because a wrong guess misfiles data by hours.
- Unknown fields are not an error (producers may add fields before the contract does); they
  are reported by :meth:`CompiledContract.unknown_fields` for drift counting.
- ``null`` in an optional field means absent; in a required field it is a ``required`` error.
- ``min``/``max`` bound numbers only; ``pattern`` is searched (anchor it with ``^…$``) with
  RE2 (``models.patterns``), in linear time: msgspec's own pattern check would use Python's
  backtracking ``re``, where ``^(a|a)*@x$`` takes minutes on a short string.
- Beyond the contract (``ingest.bounds``): the event time must lie in the configured window,
  a measure within ±1e100, an integer within 64 bits; a failing record is rejected with rule
  ``time_range`` or ``range``.
- Lax mode (CSV uploads) coerces text to numbers, booleans and timestamps (also epoch seconds).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import msgspec

from ingest.bounds import MEASURE_LIMIT, EventWindow
from ingest.streams import StreamRecord
from models.contracts import Contract, FieldRole, FieldSpec, FieldType
from models.patterns import Pattern, PatternError, compile_pattern
from models.safe_json import unstorable

RULES = (
    "json",
    "csv",
    "not_object",
    "text",
    "type",
    "required",
    "min",
    "max",
    "pattern",
    "enum",
    "range",
    "time_range",
)
"""The rules a record can break at the edge (``unknown_org_unit`` is checked by the worker)."""

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_MICROSECOND = dt.timedelta(microseconds=1)
_STORABLE = EventWindow(dt.date(1900, 1, 1), 3_660 * 86_400)
"""The window when the caller names none: what day partitions can be made for at all."""


class RecordError(msgspec.Struct, frozen=True):
    """Why the record at ``index`` of a request was rejected."""

    index: int
    field: str | None
    rule: str
    reason: str


def _python_type(spec: FieldSpec) -> Any:
    """The annotated type that makes msgspec enforce ``spec``'s rules."""
    if spec.type is FieldType.ENUM:
        return Literal[tuple(spec.allowed or ())]
    if spec.type is FieldType.TIMESTAMP:
        return Annotated[dt.datetime, msgspec.Meta(tz=True)]
    if spec.type is FieldType.BOOL:
        return bool
    if spec.type is FieldType.STRING:
        return str  # the pattern is checked with RE2 after conversion
    if spec.type is FieldType.FLOAT:
        if spec.min is None and spec.max is None:
            return float
        return Annotated[float, msgspec.Meta(ge=spec.min, le=spec.max)]
    if spec.min is None and spec.max is None:
        return int
    # msgspec wants integer bounds on an int field: the integers >= 1.5 are those >= 2.
    low = None if spec.min is None else math.ceil(spec.min)
    high = None if spec.max is None else math.floor(spec.max)
    return Annotated[int, msgspec.Meta(ge=low, le=high)]


def _struct_for(contract: Contract) -> type[msgspec.Struct]:
    # Attribute names are positional (f0, f1, …) and renamed to the contract's names, so a
    # field called ``from`` or ``class`` cannot clash with Python; errors show the real names.
    required: list[tuple[str, Any]] = []
    optional: list[tuple[str, Any, Any]] = []
    rename: dict[str, str] = {}
    for n, spec in enumerate(contract.fields):
        attr = f"f{n}"
        rename[attr] = spec.name
        kind = _python_type(spec)
        if spec.required:
            required.append((attr, kind))
        else:
            optional.append((attr, kind | None, None))
    return msgspec.defstruct(
        f"Contract_v{contract.version}", [*required, *optional], rename=rename, frozen=True
    )


_TYPE_WORDS = {
    FieldType.STRING: "a string",
    FieldType.INT: "an integer",
    FieldType.FLOAT: "a number",
    FieldType.BOOL: "true or false",
    FieldType.TIMESTAMP: "an RFC 3339 timestamp with a time zone, e.g. 2024-05-01T12:00:00Z",
    FieldType.ENUM: "one of the allowed values",
}
_GOT_WORDS = {
    "str": "a string",
    "int": "an integer",
    "float": "a number",
    "bool": "a boolean",
    "null": "null",
    "array": "an array",
    "object": "an object",
}
_AT = re.compile(r" - at `\$\.(?P<field>[^`]+)`$")
_MISSING = re.compile(r"^Object missing required field `(?P<field>[^`]+)`")
_GOT = re.compile(r"^Expected `[^`]+`, got `(?P<got>[^`]+)`")
_BOUND = re.compile(r"^Expected `[^`]+` (?P<op>>=|<=|>|<) (?P<value>\S+)")


@dataclass(frozen=True, slots=True)
class _Field:
    """What the compiled contract needs about one field after conversion."""

    attr: str
    name: str
    role: FieldRole
    type: FieldType


class CompiledContract:
    """A contract version turned into a validator; safe to share between threads."""

    def __init__(self, source_id: int, source_key: str, contract: Contract) -> None:
        self.source_id = source_id
        self.source_key = source_key
        self.contract = contract
        self.version = contract.version
        self.known = frozenset(f.name for f in contract.fields)
        self._struct = _struct_for(contract)
        self._specs = {f.name: f for f in contract.fields}
        self._fields = tuple(
            _Field(f"f{n}", f.name, f.role, f.type) for n, f in enumerate(contract.fields)
        )
        self._event_id = self._one(FieldRole.EVENT_ID)
        self._ts = self._one(FieldRole.TIMESTAMP)
        self._org_unit = self._one(FieldRole.ORG_UNIT)
        self._by_role = {
            role: tuple(f for f in self._fields if f.role is role)
            for role in (FieldRole.MEASURE, FieldRole.DIMENSION, FieldRole.ATTRIBUTE)
        }
        self._floats = tuple(f for f in self._fields if f.type is FieldType.FLOAT)
        self._patterns = tuple(
            (f, _runnable(spec.pattern), spec.pattern)
            for f, spec in zip(self._fields, contract.fields, strict=True)
            if spec.type is FieldType.STRING and spec.pattern
        )

    def _one(self, role: FieldRole) -> _Field:
        return next(f for f in self._fields if f.role is role)

    def validate(
        self,
        record: object,
        index: int,
        *,
        lax: bool = False,
        window: EventWindow | None = None,
        now_s: float | None = None,
    ) -> StreamRecord | RecordError:
        """Check one parsed record against the contract and the storable bounds.

        Args:
            record: the record as parsed JSON (or a CSV row of strings, with ``lax``).
            index: its position in the request, carried into the result.
            lax: coerce strings to numbers, booleans and timestamps (CSV has only text).
            window: the event times accepted (None: any time storage can hold).
            now_s: the current time for the window (None: the clock).
        """
        if not isinstance(record, dict):
            got = _GOT_WORDS.get(_json_kind(record), type(record).__name__)
            return RecordError(index, None, "not_object", f"a record must be an object, got {got}")
        found = unstorable(record)
        if found is not None:
            where, why = found
            rule = "text" if "U+0000" in why or "surrogate" in why else "range"
            what = f"{where!r}" if where is not None else "the record"
            return RecordError(index, where, rule, f"{what} {why}")
        try:
            value = msgspec.convert(record, self._struct, strict=not lax)
        except msgspec.ValidationError as exc:
            return self._error(index, str(exc))
        mismatch = self._pattern_error(value, index)
        if mismatch is not None:
            return mismatch
        try:
            return self._stream_record(value, index, window or _STORABLE, now_s)
        except (OverflowError, ValueError) as exc:  # a time or number storage cannot hold
            return RecordError(index, None, "range", f"the record cannot be stored: {exc}")

    def _pattern_error(self, value: msgspec.Struct, index: int) -> RecordError | None:
        for f, compiled, pattern in self._patterns:
            text = getattr(value, f.attr)
            if text is None:
                continue
            if isinstance(compiled, PatternError):
                return RecordError(index, f.name, "pattern", f"{compiled}; fix the contract")
            if not compiled.found_in(text):
                return RecordError(
                    index, f.name, "pattern", f"{f.name!r} does not match the pattern {pattern!r}"
                )
        return None

    def unknown_fields(self, record: object) -> list[str]:
        """Names of the record's fields outside the contract (for drift counting)."""
        if not isinstance(record, dict):
            return []
        return [str(k) for k in record if k not in self.known]

    def _stream_record(
        self, value: msgspec.Struct, index: int, window: EventWindow, now_s: float | None
    ) -> StreamRecord | RecordError:
        # Lax coercion turns "nan" or "inf" into floats; they cannot be stored or aggregated.
        for f in self._floats:
            number = getattr(value, f.attr)
            if number is not None and not math.isfinite(number):
                return RecordError(index, f.name, "type", f"{f.name!r} must be a finite number")
        ts: dt.datetime = getattr(value, self._ts.attr)
        ts_us = (ts - _EPOCH) // _MICROSECOND
        outside = window.problem(ts_us, now_s)
        if outside is not None:
            name = self._ts.name
            return RecordError(index, name, "time_range", f"{name!r} {ts.isoformat()} {outside}")
        measures: dict[str, float] = {}
        for f in self._by_role[FieldRole.MEASURE]:
            v = getattr(value, f.attr)
            if v is None:
                continue
            if not -MEASURE_LIMIT <= v <= MEASURE_LIMIT:
                reason = f"{f.name!r} must lie between -1e100 and 1e100 to be aggregated"
                return RecordError(index, f.name, "range", reason)
            measures[f.name] = float(v)
        dims = self._plain(value, FieldRole.DIMENSION)
        attrs = self._plain(value, FieldRole.ATTRIBUTE)
        # Lax coercion may make a 100-digit integer of a CSV cell.
        found = unstorable(dims) or unstorable(attrs)
        if found is not None:
            return RecordError(index, None, "range", f"a field {found[1]}")
        return StreamRecord(
            index=index,
            event_id=str(getattr(value, self._event_id.attr)),
            ts_us=ts_us,
            org_unit=str(getattr(value, self._org_unit.attr)),
            measures=measures,
            dims=dims,
            attrs=attrs,
        )

    def _plain(self, value: msgspec.Struct, role: FieldRole) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in self._by_role[role]:
            item = getattr(value, f.attr)
            if item is None:
                continue
            if isinstance(item, dt.datetime):
                item = item.astimezone(dt.UTC).isoformat()
            out[f.name] = item
        return out

    def _error(self, index: int, message: str) -> RecordError:
        """Turn msgspec's message into the field, the rule and a reason a producer can act on."""
        missing = _MISSING.match(message)
        if missing:
            name = missing["field"]
            return RecordError(index, name, "required", f"required field {name!r} is missing")
        at = _AT.search(message)
        name = at["field"] if at else None
        spec = self._specs.get(name) if name else None
        if spec is None:
            return RecordError(index, name, "type", message)
        rule, reason = _rule_and_reason(spec, message)
        return RecordError(index, name, rule, f"{name!r} {reason}")


def _runnable(pattern: str) -> Pattern | PatternError:
    """The compiled pattern, or why a version saved before patterns ran with RE2 has none."""
    try:
        return compile_pattern(pattern)
    except PatternError as exc:
        return exc


def _rule_and_reason(spec: FieldSpec, message: str) -> tuple[str, str]:
    got = _GOT.match(message)
    if got:
        if got["got"] == "null":
            return "required", "must not be null"
        word = _GOT_WORDS.get(got["got"], got["got"])
        return "type", f"must be {_TYPE_WORDS[spec.type]}, got {word}"
    bound = _BOUND.match(message)
    if bound:
        rule = "min" if bound["op"].startswith(">") else "max"
        word = "at least" if rule == "min" else "at most"
        return rule, f"must be {word} {bound['value']}"
    if "matching regex" in message:
        return "pattern", f"does not match the pattern {spec.pattern!r}"
    if message.startswith("Invalid enum value"):
        allowed = ", ".join(spec.allowed or ())
        return "enum", f"must be one of: {allowed}"
    if "timezone component" in message:
        return "type", "needs a time zone offset (Z or +hh:mm); naive timestamps are rejected"
    if "RFC3339" in message:
        return "type", f"must be {_TYPE_WORDS[FieldType.TIMESTAMP]}"
    return "type", message


def _json_kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, list):
        return "array"
    return type(value).__name__


def compile_contract(source_id: int, source_key: str, contract: Contract) -> CompiledContract:
    """A validator for ``contract``; build it once per (source, version) and keep it."""
    return CompiledContract(source_id, source_key, contract)
