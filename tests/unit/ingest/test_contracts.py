"""Contract compilation: what a producer's record becomes, and what it is told when it is bad."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from ingest.contracts import CompiledContract, RecordError, compile_contract
from ingest.streams import StreamRecord
from models.contracts import Contract, FieldRole, FieldSpec, FieldType
from models.enums import Classification

FIELDS = (
    FieldSpec(name="order_id", type=FieldType.STRING, role=FieldRole.EVENT_ID, pattern=r"^\S+$"),
    FieldSpec(name="ts", type=FieldType.TIMESTAMP, role=FieldRole.TIMESTAMP),
    FieldSpec(name="org_unit", type=FieldType.STRING, role=FieldRole.ORG_UNIT),
    FieldSpec(name="amount", type=FieldType.FLOAT, role=FieldRole.MEASURE, min=0, max=1000),
    FieldSpec(name="items", type=FieldType.INT, role=FieldRole.MEASURE, min=1.5, max=9.5),
    FieldSpec(
        name="channel", type=FieldType.ENUM, role=FieldRole.DIMENSION, allowed=("web", "app")
    ),
    FieldSpec(name="gift", type=FieldType.BOOL, role=FieldRole.DIMENSION, required=False),
    FieldSpec(
        name="email",
        type=FieldType.STRING,
        role=FieldRole.ATTRIBUTE,
        classification=Classification.PII,
        required=False,
        pattern=r"^[^@\s]+@[^@\s]+$",
    ),
    # A Python keyword as a field name must work like any other.
    FieldSpec(name="from", type=FieldType.TIMESTAMP, role=FieldRole.ATTRIBUTE, required=False),
)


@pytest.fixture(scope="module")
def compiled() -> CompiledContract:
    return compile_contract(7, "orders", Contract(version=3, fields=FIELDS))


def good(**changes: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "order_id": "o-1",
        "ts": "2024-05-01T12:00:00.250+02:00",
        "org_unit": "de-retail",
        "amount": 12,
        "items": 2,
        "channel": "web",
    }
    record.update(changes)
    return {k: v for k, v in record.items() if v is not ...}


def test_a_good_record_becomes_a_stream_record_by_field_role(compiled: CompiledContract) -> None:
    record = good(gift=True, email="a@example.com", **{"from": "2024-05-01T00:00:00Z"})
    result = compiled.validate(record, 4)
    assert result == StreamRecord(
        index=4,
        event_id="o-1",
        ts_us=int(dt.datetime(2024, 5, 1, 10, 0, 0, 250_000, tzinfo=dt.UTC).timestamp() * 1e6),
        org_unit="de-retail",
        measures={"amount": 12.0, "items": 2.0},
        dims={"channel": "web", "gift": True},
        attrs={"email": "a@example.com", "from": "2024-05-01T00:00:00+00:00"},
    )


def test_optional_fields_may_be_missing_or_null(compiled: CompiledContract) -> None:
    result = compiled.validate(good(gift=None), 0)
    assert isinstance(result, StreamRecord)
    assert result.dims == {"channel": "web"}
    assert result.attrs == {}


@pytest.mark.parametrize(
    ("record", "field", "rule", "reason"),
    [
        (good(amount="12"), "amount", "type", "'amount' must be a number, got a string"),
        (good(items=2.0), "items", "type", "'items' must be an integer, got a number"),
        (good(amount=...), "amount", "required", "required field 'amount' is missing"),
        (good(amount=None), "amount", "required", "'amount' must not be null"),
        (good(amount=-0.5), "amount", "min", "'amount' must be at least 0.0"),
        (good(amount=1000.5), "amount", "max", "'amount' must be at most 1000.0"),
        (good(items=1), "items", "min", "'items' must be at least 2"),
        (good(items=10), "items", "max", "'items' must be at most 9"),
        (good(order_id="a b"), "order_id", "pattern", "'order_id' does not match the pattern"),
        (good(channel="fax"), "channel", "enum", "'channel' must be one of: web, app"),
        (good(ts="2024-05-01T12:00:00"), "ts", "type", "'ts' needs a time zone offset"),
        (good(ts="yesterday"), "ts", "type", "'ts' must be an RFC 3339 timestamp"),
        (good(ts=1714557600), "ts", "type", "'ts' must be an RFC 3339 timestamp"),
        (good(gift="yes"), "gift", "type", "'gift' must be true or false, got a string"),
    ],
)
def test_a_bad_record_names_its_field_rule_and_reason(
    compiled: CompiledContract, record: dict[str, Any], field: str, rule: str, reason: str
) -> None:
    result = compiled.validate(record, 9)
    assert isinstance(result, RecordError), result
    assert (result.index, result.field, result.rule) == (9, field, rule)
    assert result.reason.startswith(reason), result.reason


@pytest.mark.parametrize(
    ("record", "got"), [([1, 2], "an array"), ("x", "a string"), (None, "null")]
)
def test_a_record_that_is_not_an_object_is_rejected(
    compiled: CompiledContract, record: object, got: str
) -> None:
    result = compiled.validate(record, 1)
    assert result == RecordError(1, None, "not_object", f"a record must be an object, got {got}")


def test_unknown_fields_pass_and_are_reported_for_drift(compiled: CompiledContract) -> None:
    record = good(coupon="X1", referrer="ads")
    assert isinstance(compiled.validate(record, 0), StreamRecord)
    assert sorted(compiled.unknown_fields(record)) == ["coupon", "referrer"]
    assert compiled.unknown_fields(good()) == []


def test_lax_mode_coerces_csv_text_and_rejects_non_finite_numbers(
    compiled: CompiledContract,
) -> None:
    row = good(amount="12.5", items="3", gift="true", ts="2024-05-01T10:00:00Z")
    result = compiled.validate(row, 0, lax=True)
    assert isinstance(result, StreamRecord)
    assert result.measures == {"amount": 12.5, "items": 3.0}
    assert result.dims["gift"] is True
    unbounded = compile_contract(
        1,
        "s",
        Contract(
            version=1,
            fields=(*FIELDS[:3], FieldSpec(name="x", type=FieldType.FLOAT, role=FieldRole.MEASURE)),
        ),
    )
    nan = unbounded.validate(good(x="nan"), 2, lax=True)
    assert nan == RecordError(2, "x", "type", "'x' must be a finite number")


def test_strict_mode_does_not_coerce_text(compiled: CompiledContract) -> None:
    result = compiled.validate(good(items="3"), 0)
    assert isinstance(result, RecordError)
    assert result.rule == "type"


def test_an_integer_event_id_is_carried_as_text() -> None:
    fields = (
        FieldSpec(name="id", type=FieldType.INT, role=FieldRole.EVENT_ID),
        *FIELDS[1:3],
    )
    compiled = compile_contract(1, "s", Contract(version=1, fields=fields))
    result = compiled.validate({"id": 42, "ts": "2024-01-01T00:00:00Z", "org_unit": "u"}, 0)
    assert isinstance(result, StreamRecord)
    assert result.event_id == "42"


def test_a_pattern_re2_cannot_run_is_refused_when_the_contract_is_saved() -> None:
    for pattern in (r"^(?=a)a$", r"^(a)\1$"):
        with pytest.raises(ValueError, match=r"cannot be used.*RE2"):
            FieldSpec(name="code", type=FieldType.STRING, role=FieldRole.ATTRIBUTE, pattern=pattern)


def test_bounds_beyond_the_contract_hold_in_lax_mode_too() -> None:
    fields = (
        *FIELDS[1:3],
        FieldSpec(name="id", type=FieldType.INT, role=FieldRole.EVENT_ID),
        FieldSpec(name="n", type=FieldType.INT, role=FieldRole.MEASURE),
        FieldSpec(name="tag", type=FieldType.INT, role=FieldRole.DIMENSION, required=False),
    )
    compiled = compile_contract(1, "s", Contract(version=1, fields=fields))
    row = {"id": "1", "ts": "2024-01-01T00:00:00Z", "org_unit": "u", "n": "1"}
    assert isinstance(compiled.validate(row, 0, lax=True), StreamRecord)
    huge = compiled.validate(row | {"n": "1" + "0" * 400}, 0, lax=True)
    assert isinstance(huge, RecordError)
    assert (huge.field, huge.rule) == ("n", "range")
    wide = compiled.validate(row | {"tag": "1" + "0" * 30}, 0, lax=True)
    assert isinstance(wide, RecordError)
    assert wide.rule == "range"
    old = compiled.validate(row | {"ts": "0001-01-01T00:30:00+01:00"}, 0, lax=True)
    assert isinstance(old, RecordError)
    assert (old.field, old.rule) == ("ts", "time_range")


def test_a_stored_version_with_a_pattern_re2_cannot_run_loads_and_rejects_with_a_reason() -> None:
    fields = [f.model_dump(mode="json") for f in FIELDS]
    fields[0]["pattern"] = r"^(?!x)\S+$"
    contract = Contract.from_row(2, fields)  # saved before patterns ran with RE2
    result = compile_contract(1, "s", contract).validate(good(), 0)
    assert isinstance(result, RecordError)
    assert (result.field, result.rule) == ("order_id", "pattern")
    assert "fix the contract" in result.reason
