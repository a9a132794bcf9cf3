"""Support of the fresh-install test: a small company's catalogue (not the demo's), the
``northstar`` command run as a subprocess, and the expected targets worked out by hand."""

from __future__ import annotations

import calendar
import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[3]
ADMIN, EXECUTIVE = "olga@northwind.example", "nils@northwind.example"
ADMIN_PASSWORD = "fjords and figs, forty-two"
EXECUTIVE_PASSWORD = "herring season all year"

REVENUE_PER_DAY_NORTH = 24.0
"""North's own monthly revenue plan, per day of the month: far below what its shops sell, so
its status is "on target" at any time of day."""
SE_QUARTER_REVENUE = 1e9
"""Sweden's own quarterly plan: far above what it sells, so its status is always critical."""
BASKET_NORTH = 100.0
"""North's own monthly plan for the average basket (a ratio: its target as is)."""


def quarter_start(day: dt.date) -> dt.date:
    return dt.date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)


def quarter_seconds(day: dt.date) -> float:
    start = quarter_start(day)
    month = start.month + 3
    end = dt.date(start.year + (month > 12), (month - 1) % 12 + 1, 1)
    return (end - start).days * 86400.0


def month_seconds(day: dt.date) -> float:
    return calendar.monthrange(day.year, day.month)[1] * 86400.0


def catalogue(today: dt.date) -> str:
    """Northwind: two regions, three countries, one source ``sales`` with its contract, its
    metrics, an additive KPI (revenue) and a ratio (average basket), and target plans for
    this month, quarter and year (fiscal years start in January, the default)."""
    month, days = f"{today:%Y-%m}", calendar.monthrange(today.year, today.month)[1]
    quarter = f"{today.year}-Q{(today.month - 1) // 3 + 1}"
    return f"""\
org_units:
  - {{key: northwind, name: Northwind Trading, level: company}}
  - {{key: north, name: Nordics, level: region, parent: northwind}}
  - {{key: south, name: Iberia, level: region, parent: northwind}}
  - {{key: se, name: Sweden, level: country, parent: north}}
  - {{key: "no", name: Norway, level: country, parent: north}}
  - {{key: es, name: Spain, level: country, parent: south}}

sources:
  - key: sales
    name: Sales
    description: Tickets of the shops' tills, posted as they are rung up.
    owner: northwind
    mode: streaming
    freshness_sla_s: 600
    retention_days: 400
    sensitivity: confidential
    contract:
      fields:
        - {{name: sale_id, type: string, role: event_id}}
        - {{name: ts, type: timestamp, role: timestamp}}
        - {{name: org_unit, type: string, role: org_unit, reference: org_units}}
        - {{name: amount, type: float, role: measure, min: 0}}
        - {{name: channel, type: enum, role: dimension, allowed: [store, web]}}

metrics:
  - {{key: sales, name: Tickets, unit: tickets}}
  - {{key: sales.amount, name: Sales amount, unit: EUR}}

kpis:
  - key: revenue
    name: Revenue
    formula: sum(sales.amount)
    unit: EUR
    format: ",.0f"
    owner: northwind
    thresholds: {{warn_pct: 95, crit_pct: 85}}
  - key: avg_basket
    name: Average basket
    formula: sum(sales.amount) / count(sales)
    unit: EUR
    format: ",.2f"
    owner: northwind
    thresholds: {{warn_pct: 95, crit_pct: 85}}

targets:
  - {{kpi: revenue, unit: northwind, grain: year, period: FY{today.year}, value: 36500000,
     allocation: equal}}
  - {{kpi: revenue, unit: north, grain: month, period: "{month}",
     value: {REVENUE_PER_DAY_NORTH * days}, allocation: equal}}
  - {{kpi: revenue, unit: se, grain: quarter, period: {quarter}, value: {SE_QUARTER_REVENUE}}}
  - {{kpi: avg_basket, unit: north, grain: month, period: "{month}", value: {BASKET_NORTH}}}
"""


def northstar(
    database_url: str, redis_url: str, *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """``northstar ARGS`` from this checkout, in a process of its own, demo mode off."""
    env = {
        k: v for k, v in os.environ.items() if k not in ("NORTHSTAR_DEMO", "NORTHSTAR_DEMO_MODE")
    }
    env |= {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "NORTHSTAR_ENV": "test",
        "NORTHSTAR_DEMO": "false",
    }
    return subprocess.run(  # noqa: S603 - our own command, arguments from the test
        [sys.executable, "-c", "from cli.main import main; main()", *args],
        cwd=REPOSITORY,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
