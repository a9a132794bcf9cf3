"""The alert pages' pure parts: figures plotly accepts, the editor's form read back, and the
marks reviews leave on a KPI's trend."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import plotly.graph_objects as go
import pytest

from dashboard.alerts.figures import (
    ReviewMark,
    evidence_figure,
    preview_figure,
    with_review_marks,
)
from dashboard.alerts.params import parse_form, parse_moment
from dashboard.alerts.review_marks import ReviewNote, marks
from dashboard.alerts.rule_form import FIELDS
from dashboard.executive.figures.trend import trend_figure
from models.alerts.spec import RuleInvalid
from models.alerts.tables import AlertSeverity, Condition, ReviewState
from models.enums import Granularity, OrgLevel
from models.queries.executive.numbers import KpiSeries, SeriesPoint
from models.queries.scope import Unit

T0 = dt.datetime(2026, 3, 4, tzinfo=dt.UTC)
HOUR = dt.timedelta(hours=1)
JUDGED = [(T0 + i * HOUR, float(i % 5) * 40) for i in range(48)] + [(T0 + 48 * HOUR, None)]
EVIDENCE: dict[str, Any] = {
    "at": (T0 + 5 * HOUR).isoformat(),
    "kpi_name": "Revenue",
    "kpi_unit": "EUR",
    "series": [[(T0 + i * HOUR).isoformat(), float(i)] for i in range(24)],
    "lines": [{"name": "Alert level", "value": 10.0}, {"name": "Clear level", "value": 8.0}],
}

FIGURES = {
    "preview": preview_figure(JUDGED, [T0 + 3 * HOUR], fire=100.0, clear=80.0, y_title="EUR"),
    "preview, empty": preview_figure([], [], fire=1.0, clear=1.0, y_title=""),
    "evidence": evidence_figure(EVIDENCE, "Revenue when it fired"),
    "evidence, malformed": evidence_figure({"series": "x", "lines": [1, {"value": "y"}]}, "X"),
}


@pytest.mark.parametrize("name", FIGURES)
def test_plotly_takes_each_figure_as_it_is(name: str) -> None:
    figure = FIGURES[name]
    drawn = go.Figure(figure)
    assert len(drawn.data) == len(figure["data"])
    json.dumps(figure)


def test_the_preview_marks_where_it_would_have_fired_on_the_judged_line() -> None:
    figure = FIGURES["preview"]
    names = [t["name"] for t in figure["data"]]
    assert names == ["Judged value", "Alert level", "Clear level", "Would have fired"]
    fired = figure["data"][-1]
    assert fired["x"] == [(T0 + 3 * HOUR).isoformat()]
    assert fired["y"] == [120.0]


def test_the_evidence_draws_the_levels_and_the_moment_it_fired() -> None:
    figure = FIGURES["evidence"]
    assert [t["name"] for t in figure["data"]] == ["Revenue", "Alert level", "Clear level"]
    assert figure["layout"]["annotations"][0]["text"] == "Fired"
    assert FIGURES["evidence, malformed"]["data"][0]["x"] == []


def note(n: int, state: ReviewState, decided: dt.datetime | None = None) -> ReviewNote:
    return ReviewNote(n, f"Review {n}", "EMEA", state, T0 + n * HOUR, T0, decided, "ok")


def test_reviews_mark_the_trend_where_they_opened_or_were_decided_inside_the_period() -> None:
    acme = Unit(1, "acme", "ACME", OrgLevel.COMPANY, None, "1")
    points = tuple(SeriesPoint(T0 + i * HOUR, T0 + (i + 1) * HOUR, 1.0) for i in range(24))
    trend = trend_figure(
        KpiSeries("revenue", acme, Granularity.HOUR, points, ()), None, title="Revenue"
    )
    notes = [
        note(2, ReviewState.OPEN),
        note(3, ReviewState.DECIDED, T0 + 5 * HOUR),
        note(30, ReviewState.SCHEDULED),  # opened after the period
        note(4, ReviewState.CLOSED),  # closed without a decision: no mark
    ]
    assert marks(notes) == [
        ReviewMark(2, T0 + 2 * HOUR, "Review #2", open=True),
        ReviewMark(3, T0 + 5 * HOUR, "Decided #3", open=False),
        ReviewMark(30, T0 + 30 * HOUR, "Review #30", open=True),
    ]
    marked = with_review_marks(trend, marks(notes), T0, T0 + 24 * HOUR)
    assert [a["text"] for a in marked["layout"]["annotations"]] == ["Review #2", "Decided #3"]
    assert len(go.Figure(marked).layout.shapes) == 2
    assert "shapes" not in trend["layout"]  # the trend itself is left as it was
    assert with_review_marks(trend, [], T0, T0 + HOUR) is trend


# --- the editor's form ---------------------------------------------------------------------------

GOOD = {
    "name": "Revenue drop",
    "kpi": "revenue",
    "unit": "emea",
    "condition": "below",
    "threshold": 1000,
    "clear": 1100.5,
    "for_min": 5,
    "window": 3600,
    "severity": "critical",
    "mute_from": "",
    "mute_until": "2026-03-05T08:30",
    "notify": ["in_app", "email"],
    "channels": [3, 1, 3],
    "owner": 7,
    "active": [],
}


def test_a_filled_form_reads_back_as_the_rule_it_describes() -> None:
    assert set(GOOD) == set(FIELDS)
    spec = parse_form(GOOD)
    assert spec.condition is Condition.BELOW
    assert spec.severity is AlertSeverity.CRITICAL
    assert (spec.threshold, spec.clear_threshold, spec.for_s) == (1000.0, 1100.5, 300)
    assert spec.mute_from is None
    assert spec.mute_until == dt.datetime(2026, 3, 5, 8, 30, tzinfo=dt.UTC)
    assert (spec.notify_in_app, spec.notify_email) == (True, True)
    assert spec.channel_ids == (1, 3)
    assert spec.owner_user_id == 7
    assert spec.active is False


@pytest.mark.parametrize(
    ("field", "value", "problem"),
    [
        ("threshold", "100", "the alert level must be a finite number"),
        ("threshold", float("inf"), "the alert level must be a finite number"),
        ("threshold", True, "the alert level must be a finite number"),
        ("clear", [], "the clear level must be a finite number"),
        ("window", "3600", "choose one of the evaluation windows offered"),
        ("condition", "' OR 1=1 --", "choose a condition"),
        ("severity", None, "choose a severity"),
        ("kpi", {"a": 1}, "choose a KPI"),
        ("unit", "x" * 101, "choose an org unit"),
        ("mute_until", "tomorrow", "give the mute end as a date and time"),
        ("channels", [1, "2"], "choose the channels from the list"),
        ("channels", list(range(1, 60)), "choose the channels from the list"),
        ("owner", -1, "choose the owner from the list"),
        ("notify", ["sms"], "the notification choice is malformed"),
        ("for_min", 10**9, "the duration must lie between 0 and 7 days"),
    ],
)
def test_every_malformed_field_is_named_without_echoing_it(
    field: str, value: object, problem: str
) -> None:
    with pytest.raises(RuleInvalid) as refused:
        parse_form({**GOOD, field: value})
    assert problem in refused.value.problems
    assert "OR 1=1" not in str(refused.value)


def test_a_meeting_time_is_utc_unless_it_names_a_zone() -> None:
    assert parse_moment("2026-04-01T10:00", "meeting") == dt.datetime(2026, 4, 1, 10, tzinfo=dt.UTC)
    assert parse_moment("", "meeting") is None
    with pytest.raises(ValueError, match="give the meeting as a date and time"):
        parse_moment(12, "meeting")
