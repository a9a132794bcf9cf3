"""The demo event generator: rhythms of the day and week, trend, volumes, determinism."""

from __future__ import annotations

import datetime as dt

import pytest

from ingest.demo.catalog import business_units
from ingest.demo.generator import Generator, UnitProfile
from ingest.demo.history import demo_generator
from ingest.demo.profiles import DEMO_SOURCES, MARKETING_CHANNELS

UTC = dt.UTC
WEDNESDAY = dt.datetime(2026, 11, 18, tzinfo=UTC)
SUNDAY = dt.datetime(2026, 11, 22, tzinfo=UTC)


def one_unit(offset_h: int = 0, seed: int = 7) -> Generator:
    return Generator([UnitProfile("solo", 1.0, offset_h)], DEMO_SOURCES, seed=seed)


@pytest.mark.parametrize("source", ["orders", "web_sessions", "support_tickets"])
def test_a_weekday_afternoon_is_busier_than_the_night(source: str) -> None:
    generator = one_unit()
    afternoon = generator.expected_rate(source, "solo", WEDNESDAY.replace(hour=14))
    night = generator.expected_rate(source, "solo", WEDNESDAY.replace(hour=3))
    assert afternoon > 3 * night


def test_the_rhythm_follows_the_unit_local_time() -> None:
    tokyo = one_unit(offset_h=9)
    # 05:00 UTC is 14:00 in Tokyo, 14:00 UTC is 23:00 there.
    at_local_afternoon = tokyo.expected_rate("orders", "solo", WEDNESDAY.replace(hour=5))
    at_local_night = tokyo.expected_rate("orders", "solo", WEDNESDAY.replace(hour=18))
    assert at_local_afternoon > at_local_night


def test_support_is_quieter_at_the_weekend() -> None:
    generator = one_unit()
    weekday = generator.expected_rate("support_tickets", "solo", WEDNESDAY.replace(hour=10))
    sunday = generator.expected_rate("support_tickets", "solo", SUNDAY.replace(hour=10))
    assert weekday > 2 * sunday


def test_volumes_grow_over_a_year() -> None:
    generator = one_unit()

    def week_volume(start: dt.datetime) -> float:
        hours = (start + dt.timedelta(hours=h) for h in range(7 * 24))
        return sum(generator.expected_rate("orders", "solo", at) for at in hours)

    assert week_volume(WEDNESDAY + dt.timedelta(weeks=52)) > 1.15 * week_volume(WEDNESDAY)


def test_generated_volume_matches_the_expected_rate() -> None:
    generator = one_unit()
    start, end = WEDNESDAY, WEDNESDAY + dt.timedelta(days=7)
    expected = sum(
        generator.expected_rate("orders", "solo", start + dt.timedelta(hours=h))
        for h in range(7 * 24)
    )
    generated = sum(1 for _ in generator.events("orders", start, end))
    assert abs(generated - expected) < 0.1 * expected


def test_the_same_seed_gives_the_same_events_and_another_seed_others() -> None:
    start, end = WEDNESDAY, WEDNESDAY + dt.timedelta(hours=6)
    first = list(one_unit(seed=1).events("orders", start, end))
    again = list(one_unit(seed=1).events("orders", start, end))
    other = list(one_unit(seed=2).events("orders", start, end))
    assert first
    assert first == again
    assert first != other


def test_overlapping_windows_agree_on_their_overlap() -> None:
    # What makes re-running history (and a live simulator) write nothing twice.
    generator = demo_generator(scale=0.2)
    early = list(generator.events("web_sessions", WEDNESDAY, WEDNESDAY + dt.timedelta(hours=5)))
    late_start = WEDNESDAY + dt.timedelta(hours=2, minutes=30)
    late = list(generator.events("web_sessions", late_start, WEDNESDAY + dt.timedelta(hours=8)))
    overlap_early = [e for e in early if e.ts >= late_start]
    overlap_late = [e for e in late if e.ts < WEDNESDAY + dt.timedelta(hours=5)]
    assert overlap_early
    assert sorted(overlap_early) == sorted(overlap_late)


def test_events_are_in_the_window_with_unique_ids_and_the_contract_fields() -> None:
    generator = demo_generator(scale=0.5)
    start, end = WEDNESDAY + dt.timedelta(minutes=10), WEDNESDAY + dt.timedelta(hours=3)
    events = list(generator.events("orders", start, end))
    assert all(start <= e.ts < end for e in events)
    assert len({e.event_id for e in events}) == len(events)
    assert {e.unit_key for e in events} <= {u.key for u in business_units()}
    order = events[0]
    assert set(order.measures) == {"amount", "items"}
    assert set(order.dims) == {"channel", "payment_method", "product_category"}
    assert order.attrs["customer_email"].endswith("@example.com")
    assert all(e.measures["amount"] > 0 for e in events)


def test_marketing_spend_arrives_once_per_finished_day_and_channel() -> None:
    generator = demo_generator()
    now = WEDNESDAY + dt.timedelta(days=2, hours=9)
    rows = list(generator.events("marketing_spend", WEDNESDAY, now))
    days = {r.ts for r in rows}
    # Wednesday and Thursday are over; Friday's figures are delivered on Saturday.
    assert days == {WEDNESDAY, WEDNESDAY + dt.timedelta(days=1)}
    assert len(rows) == 2 * len(business_units()) * len(MARKETING_CHANNELS)
    assert all(r.measures["spend"] > 0 for r in rows)


def test_scale_multiplies_volumes() -> None:
    at = WEDNESDAY.replace(hour=12)
    small = demo_generator(scale=0.5).expected_rate("orders", "de-retail", at)
    large = demo_generator(scale=2.0).expected_rate("orders", "de-retail", at)
    assert large == pytest.approx(4 * small)
