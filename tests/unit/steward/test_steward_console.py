"""The steward console's pure parts: quality figures plotly accepts, input parsing, the
navbar's permission filter and the notification bell's links."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path
from typing import Any

import plotly.graph_objects as go
import pytest

from dashboard.common import params
from dashboard.shell.inbox import bell_label, local_link
from dashboard.shell.navbar import may_use
from dashboard.steward.figures import evidence_figure, is_outside, volume_figure
from models.permissions import ROLE_PERMISSIONS, Permission, Principal
from models.quality.tables import CheckKey, DqState, IncidentStatus
from models.quality.windows import WINDOW, Window
from models.queries.steward.dq_health import VolumePoint
from models.queries.steward.incidents import ResultView

T0 = dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC)

ASSETS = Path(__file__).resolve().parents[3] / "assets"


def result(
    n: int, value: float | None, state: DqState, threshold: float | None = 300.0
) -> ResultView:
    start = T0 + n * WINDOW
    return ResultView(n, CheckKey.FRESHNESS, 1, start, start, start + WINDOW, value, threshold,
                      state, f"summary {n}", {})  # fmt: skip


def point(n: int, received: int, expected: float | None, low: float | None,
          high: float | None) -> VolumePoint:  # fmt: skip
    start = T0 + n * WINDOW
    return VolumePoint(Window(start, start + WINDOW), received, expected, low, high)


def validated(figure: Any) -> go.Figure:
    """The figure as plotly reads it (raises on any property plotly does not know)."""
    json.dumps(figure)  # only JSON types
    return go.Figure(figure)


def test_the_evidence_figure_marks_each_state_by_shape_and_the_incident_times() -> None:
    results = [result(0, 100.0, DqState.OK), result(1, None, DqState.FAILING),
               result(2, 900.0, DqState.FAILING), result(3, 350.0, DqState.WARNING)]  # fmt: skip
    figure = evidence_figure(CheckKey.FRESHNESS, results, title="Freshness on Orders",
                             opened_at=T0 + WINDOW, resolved_at=T0 + 3 * WINDOW)  # fmt: skip
    checked = validated(figure)
    traces = {t.name: t for t in checked.data}
    assert traces["Failing"].marker.symbol == "square"
    assert traces["Failing"].y == (900.0,)  # a result without a value is a gap, not a zero
    assert traces["Warning"].marker.symbol == "triangle-up"
    assert traces["OK"].marker.symbol == "circle"
    assert traces["Freshness SLA"].y == (300.0,) * 4
    assert [a.text for a in checked.layout.annotations] == ["opened", "resolved"]
    assert checked.layout.yaxis.title.text == "Age of the newest event (s)"


def test_the_anomaly_evidence_has_thresholds_on_both_sides_and_an_empty_one_says_so() -> None:
    z = [
        dataclasses.replace(result(n, v, DqState.FAILING, 5.0), check=CheckKey.VOLUME_ANOMALY)
        for n, v in enumerate((6.0, -7.0))
    ]
    figure = validated(evidence_figure(CheckKey.VOLUME_ANOMALY, z, title="z"))
    assert sorted(t.y[0] for t in figure.data if t.mode == "lines" and t.line.dash == "dash") == [
        -5.0,
        5.0,
    ]
    empty = validated(evidence_figure(CheckKey.RECONCILIATION, [], title="r"))
    assert empty.layout.annotations[0].text == "No check results in this incident's time range."
    silent = validated(
        evidence_figure(CheckKey.FRESHNESS, [result(0, None, DqState.FAILING)], title="f")
    )
    assert silent.layout.annotations[0].text == "No measured value: summary 0"


def test_the_volume_figure_draws_the_band_and_crosses_the_windows_outside_it() -> None:
    learned = [point(0, 100, 100.0, 80.0, 120.0), point(1, 50, 100.0, 80.0, 120.0),
               point(2, 130, 100.0, 80.0, 120.0)]  # fmt: skip
    figure = validated(volume_figure(learned, title="Orders"))
    traces = {t.name: t for t in figure.data if t.showlegend is not False}
    assert traces["Expected band"].fill == "tonexty"
    assert traces["Outside the band"].y == (50, 130)
    assert traces["Outside the band"].marker.symbol == "x"
    declared = [point(0, 90, 100.0, 95.0, None), point(1, 96, 100.0, 95.0, None)]
    names = [t.name for t in validated(volume_figure(declared, title="Orders")).data]
    assert "Fewest records accepted" in names
    assert "Expected band" not in names
    assert is_outside(declared[0])
    assert not is_outside(declared[1])
    unknown = validated(volume_figure([point(0, 5, None, None, None)], title="x"))
    assert [t.name for t in unknown.data] == ["Records received", "Outside the band"]


@pytest.mark.parametrize("value", ["12", 12, " 12 "])
def test_a_record_id_is_a_positive_integer_or_its_digits(value: object) -> None:
    assert params.record_id(value, "an incident") == 12


@pytest.mark.parametrize(
    "value", [0, -1, 2**31, True, 1.0, "1.0", "1e3", "", "١٢", "12; DROP", None, [1], {"id": 1}]
)
def test_anything_else_is_not_a_record_id(value: object) -> None:
    with pytest.raises(ValueError, match="an incident must be given by its number"):
        params.record_id(value, "an incident")


def test_choices_accept_only_known_values() -> None:
    assert params.choices(["open", "open", "resolved"], IncidentStatus, "state") == [
        IncidentStatus.OPEN,
        IncidentStatus.RESOLVED,
    ]
    assert params.choices(None, IncidentStatus, "state") == []
    for forged in (["OPEN"], [1], "x" * 10_000, [["open"]], {"a": 1}, ["open"] * 21):
        with pytest.raises(ValueError, match="state"):
            params.choices(forged, IncidentStatus, "state")


def test_clicked_needs_a_positive_integer() -> None:
    assert params.clicked(1)
    assert not any(params.clicked(v) for v in (0, None, True, "1", 1.0, -3))


def principal(role: str | None, *extra: Permission) -> Principal:
    granted = ROLE_PERMISSIONS.get(role or "", frozenset()) | set(extra)
    return Principal(1, frozenset(granted), ("1",))


def test_the_navbar_links_pages_only_to_holders_of_their_permissions() -> None:
    console = {"permission": "incident:manage"}
    both = {"permission": ("incident:manage", "kpi:view")}
    assert may_use({}, principal("executive"))
    assert not may_use(console, principal("executive"))
    assert may_use(console, principal("steward"))
    assert may_use(both, principal("admin"))
    assert not may_use(both, principal(None, Permission.INCIDENT_MANAGE))
    assert not may_use({}, None)  # nobody signed in: no links
    assert not may_use({"permission": "incident:rule"}, principal("admin"))  # unknown: hidden
    assert not may_use({"permission": 5}, principal("admin"))


def test_notification_links_stay_on_the_site() -> None:
    assert local_link("/steward/incidents/3") == "/steward/incidents/3"
    for link in ("", "https://evil.example/", "//evil.example/x", "/\\evil", "javascript:x"):
        assert local_link(link) is None, link


def words(node: Any) -> str:
    """The text of a component tree."""
    if isinstance(node, str):
        return node
    if isinstance(node, list):
        return " ".join(words(n) for n in node)
    return words(getattr(node, "children", None) or "")


def test_the_bell_says_the_count_in_words_and_shows_it_as_a_badge() -> None:
    assert words(bell_label(None)) == " Inbox"
    assert words(bell_label(0)) == " Inbox , 0 unread notifications"  # no badge for nothing
    assert words(bell_label(1)) == " Inbox 1 , 1 unread notification"
    assert words(bell_label(150)) == " Inbox 99+ , 99+ unread notifications"
    # The bell is a local picture (assets/bell.svg), not an emoji a system font must supply.
    assert [n for n in bell_label(0) if getattr(n, "className", None) == "ns-bell"]
    assert (ASSETS / "bell.svg").is_file()
    assert 'url("bell.svg")' in (ASSETS / "northstar.css").read_text(encoding="utf-8")
