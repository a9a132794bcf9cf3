"""What PostgreSQL and msgpack can hold: found without recursion, kept as escaped text."""

from __future__ import annotations

import json
from typing import Any

import pytest

from models.safe_json import escaped_json, storable_payload, unstorable


@pytest.mark.parametrize(
    ("value", "where", "words"),
    [
        ({"a": "x\x00"}, "a", "U+0000"),
        ({"a\x00": 1}, None, "field name"),
        ({"a": "\ud800"}, "a", "surrogate"),
        ({"a": {"b\x00": 1}}, "a", "field name"),
        ({"a": 2**63}, "a", "64-bit"),
        ({"a": -(2**63) - 1}, "a", "64-bit"),
        ({"a": [1, [float("nan")]]}, "a", "not finite"),
        ({"a": float("inf")}, "a", "not finite"),
        (
            {"a": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]},
            "a",
            "nested",
        ),
        (["\x00"], None, "U+0000"),
    ],
)
def test_what_cannot_be_stored_is_found_with_its_field(value: Any, where: Any, words: str) -> None:
    found = unstorable(value)
    assert found is not None
    assert found[0] == where
    assert words in found[1]


def test_storable_values_pass_flat_or_nested() -> None:
    assert unstorable({"a": "é", "b": 2**63 - 1, "c": -1.5, "d": None, "e": True}) is None
    assert unstorable({"a": {"b": [1, "x", {"c": 2}]}}) is None
    deep: Any = []
    for _ in range(100_000):  # no recursion: a deep value is judged, not a crash
        deep = [deep]
    assert unstorable(deep) is not None


def test_an_unstorable_payload_is_kept_as_escaped_json_text() -> None:
    payload, raw = storable_payload({"k\x00": "v\x00", "n": 10**30}, None)
    assert payload is None
    assert raw is not None
    assert "\x00" not in raw
    assert json.loads(raw) == {"k\x00": "v\x00", "n": 10**30}
    assert "\\ud800" in escaped_json({"a": "\ud800"})
    assert storable_payload({"a": 1}, "line\x00") == ({"a": 1}, "line\\u0000")


def test_even_a_value_too_deep_to_write_out_gets_a_text() -> None:
    deep: Any = []
    for _ in range(100_000):
        deep = [deep]
    payload, raw = storable_payload(deep, None)
    assert payload is None
    assert raw
