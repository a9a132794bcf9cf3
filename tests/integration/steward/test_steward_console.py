"""The steward console over HTTP: who sees its pages and their links, data health and lineage.

Incidents are opened by real check cycles (``steward_support.open_incidents``); every request
goes through the app as a browser's would, sign-in and Dash's callback endpoint included.
"""

from __future__ import annotations

from typing import Any

from integration.steward_support import Caller, Console, console, texts

__all__ = ["console"]  # fixture


# --- who sees the console ---------------------------------------------------------------------

STEWARD_PAGES = ("/steward/incidents", "/steward/health", "/steward/lineage")


def test_the_console_pages_refuse_an_executive(console: Console) -> None:
    caller = Caller(console.client("executive"))
    for path in (*STEWARD_PAGES, f"/steward/incidents/{console.orders_incident}"):
        page = caller.page(path)
        assert "Not allowed: missing permission incident:manage." in page, path
        assert "Orders" not in page


def navbar_of(console: Console, who: str) -> tuple[set[str], str]:
    """The links of the navbar the user gets, and its text."""
    navbar = console.client(who).get("/_dash-layout").get_json()["props"]["children"][0]
    links: set[str] = set()

    def visit(node: Any) -> None:
        if isinstance(node, list):
            for item in node:
                visit(item)
        elif isinstance(node, dict):
            href = node.get("href")
            if isinstance(href, str):
                links.add(href)
            for value in node.values():
                visit(value)

    visit(navbar)
    return links, texts(navbar)


def test_the_navbar_shows_steward_pages_only_to_stewards(console: Console) -> None:
    executive, executive_text = navbar_of(console, "executive")
    steward, steward_text = navbar_of(console, "steward")
    admin, _ = navbar_of(console, "admin")
    for path in STEWARD_PAGES:
        assert path not in executive, path
        assert path in steward, path
        assert path in admin, path
    assert "Steward" in steward_text
    assert "Steward" not in executive_text
    assert {"/", "/account"} <= executive  # the pages without a permission stay
    assert "Notifications" in executive_text  # everyone has an inbox


# --- data health and lineage -------------------------------------------------------------------


def test_data_health_shows_sources_by_check_and_the_volume_band(console: Console) -> None:
    caller = Caller(console.client("steward"))
    assert "health-source" in caller.page("/steward/health", "?source=tickets")
    matrix = texts(caller.answer("health-matrix", 0)["health-matrix"]["children"])
    assert "Orders" in matrix
    assert "Tickets" in matrix
    assert "Freshness" in matrix
    assert "Reconciliation" in matrix
    assert "✗" in matrix
    assert "Failing" in matrix

    answer = caller.answer("health-volume", "orders", "7d")
    figure = answer["health-volume"]["figure"]
    received = next(t for t in figure["data"] if t["name"] == "Records received")
    assert len(received["x"]) == 7 * 96
    assert sum(received["y"]) <= 30
    assert "Orders: records per 15-minute window" in texts(answer["health-volume-caption"])

    for forged, message in (
        ("zz-unknown", "Not allowed: no such source in your scope."),
        (["orders"], "Invalid input: a source must be given by its key."),
        ("x" * 500, "Invalid input: a source key must be 1 to 100 printable characters."),
    ):
        refused = caller.answer("health-volume", forged, "1d")
        assert message in texts(refused["health-volume-caption"])
        assert refused["health-volume"]["figure"] == {"data": [], "layout": {}}
    assert "Invalid input: unknown span." in texts(
        caller.answer("health-volume", "orders", "365d")["health-volume-caption"]
    )
    outsider = Caller(console.client("regional"))
    assert "no such source in your scope" in texts(
        outsider.answer("health-volume", "orders", "1d")["health-volume-caption"]
    )
    assert "No active source" in texts(outsider.answer("health-matrix", 0)["health-matrix"])


def test_lineage_goes_from_each_source_to_its_kpis_and_their_pages(console: Console) -> None:
    caller = Caller(console.client("steward"))
    shown = texts(caller.answer("lineage-view", 0)["lineage-view"]["children"])
    for part in ("Orders", "Tickets", "orders.amount", "tickets.minutes", "Revenue",
                 "Minutes per item", "/kpi/revenue", "/kpi/ticket_minutes", "Overview tiles",
                 "/events?kpi=revenue", "event count", "failing",
                 "/steward/sources/orders"):  # fmt: skip
        assert part in shown, part
    outsider = Caller(console.client("regional"))
    assert "No source is owned" in texts(outsider.answer("lineage-view", 0)["lineage-view"])
