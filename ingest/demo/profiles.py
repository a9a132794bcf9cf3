"""How each demo source behaves: volumes, daily and weekly rhythms, and what one event holds."""

from __future__ import annotations

import math
import random

from ingest.demo.generator import EventBody, SourceProfile, Weighted

# Relative volumes by local hour, 00:00 first: quiet nights, a lunchtime and an evening peak.
_SHOPPING_HOURS = (
    0.25, 0.15, 0.10, 0.08, 0.08, 0.12, 0.30, 0.60, 0.90, 1.10, 1.25, 1.35,
    1.45, 1.40, 1.40, 1.35, 1.30, 1.35, 1.50, 1.65, 1.70, 1.45, 1.00, 0.55,
)  # fmt: skip
_BROWSING_HOURS = (
    0.35, 0.22, 0.15, 0.12, 0.12, 0.18, 0.40, 0.75, 1.00, 1.15, 1.25, 1.30,
    1.35, 1.30, 1.30, 1.25, 1.25, 1.30, 1.45, 1.60, 1.65, 1.50, 1.10, 0.70,
)  # fmt: skip
# Tickets are resolved by agents: office hours only, with a dip at lunch.
_OFFICE_HOURS = (
    0.05, 0.03, 0.03, 0.03, 0.03, 0.05, 0.15, 0.50, 1.30, 1.80, 1.90, 1.80,
    1.30, 1.70, 1.90, 1.80, 1.60, 1.20, 0.60, 0.35, 0.25, 0.15, 0.10, 0.06,
)  # fmt: skip
_FLAT_HOURS = (1.0,) * 24

_CATEGORY = Weighted({"electronics": 22, "home": 20, "fashion": 28, "sports": 15, "beauty": 15})
_ITEM_PRICE = {"electronics": 120.0, "home": 50.0, "fashion": 40.0, "sports": 50.0, "beauty": 25.0}
_ORDER_CHANNEL = Weighted({"web": 45, "app": 30, "store": 20, "phone": 5})
_PAYMENT = Weighted({"card": 55, "paypal": 25, "invoice": 10, "wallet": 10})
_DEVICE = Weighted({"desktop": 42, "mobile": 50, "tablet": 8})
_LANDING = Weighted({"home": 35, "product": 25, "search": 20, "campaign": 12, "blog": 8})
_PRIORITY = Weighted({"low": 30, "normal": 50, "high": 15, "urgent": 5})
_RESOLUTION_MEDIAN_MIN = {"low": 300.0, "normal": 180.0, "high": 90.0, "urgent": 30.0}
_TICKET_CHANNEL = Weighted({"email": 50, "chat": 30, "phone": 20})
MARKETING_CHANNELS = ("search", "social", "display", "email")
_SPEND_SHARE = {"search": 0.40, "social": 0.30, "display": 0.20, "email": 0.10}
_COST_PER_CLICK = {"search": 0.90, "social": 0.60, "display": 0.40, "email": 0.10}
_CAMPAIGNS = {
    "search": ("brand-search", "generic-search"),
    "social": ("seasonal-social", "retargeting"),
    "display": ("awareness-display",),
    "email": ("newsletter", "win-back"),
}
CONVERSION_PROBABILITY = 0.033


def _order(rng: random.Random, index: int, amount: float) -> EventBody:
    category = _CATEGORY.pick(rng)
    items = 1 + min(int(rng.expovariate(1.5)), 7)
    value = round(_ITEM_PRICE[category] * rng.lognormvariate(0.0, 0.45) * items, 2)
    measures = {"amount": value, "items": float(items)}
    dims = {
        "channel": _ORDER_CHANNEL.pick(rng),
        "payment_method": _PAYMENT.pick(rng),
        "product_category": category,
    }
    attrs = {
        "customer_email": f"customer{rng.randrange(1, 200_000):06d}@example.com",
        "margin": round(value * rng.uniform(0.18, 0.42), 2),
    }
    return measures, dims, attrs


def _session(rng: random.Random, index: int, amount: float) -> EventBody:
    measures = {
        "duration_s": round(rng.lognormvariate(math.log(90.0), 0.9), 1),
        "pages": float(1 + int(rng.expovariate(0.35))),
        "converted": 1.0 if rng.random() < CONVERSION_PROBABILITY else 0.0,
    }
    return measures, {"device": _DEVICE.pick(rng), "landing_page": _LANDING.pick(rng)}, {}


def _ticket(rng: random.Random, index: int, amount: float) -> EventBody:
    priority = _PRIORITY.pick(rng)
    minutes = _RESOLUTION_MEDIAN_MIN[priority] * rng.lognormvariate(0.0, 0.6)
    measures = {
        "resolution_minutes": round(minutes, 1),
        "reopened": 1.0 if rng.random() < 0.06 else 0.0,
    }
    return measures, {"priority": priority, "channel": _TICKET_CHANNEL.pick(rng)}, {}


def _spend(rng: random.Random, index: int, amount: float) -> EventBody:
    channel = MARKETING_CHANNELS[index]
    spend = round(amount * _SPEND_SHARE[channel] * rng.lognormvariate(0.0, 0.15), 2)
    clicks = float(int(spend / _COST_PER_CLICK[channel] * rng.uniform(0.85, 1.15)))
    campaign = rng.choice(_CAMPAIGNS[channel])
    return {"spend": spend, "clicks": clicks}, {"campaign": campaign, "channel": channel}, {}


ORDERS = SourceProfile(
    key="orders",
    id_prefix="ord",
    per_day=340.0,
    hourly=_SHOPPING_HOURS,
    weekly=(0.95, 0.97, 1.00, 1.02, 1.08, 1.12, 0.90),
    trend_per_year=0.30,
    noise=0.08,
    make=_order,
)
WEB_SESSIONS = SourceProfile(
    key="web_sessions",
    id_prefix="ses",
    per_day=10_000.0,
    hourly=_BROWSING_HOURS,
    weekly=(1.00, 1.00, 1.00, 1.00, 0.98, 1.06, 1.02),
    trend_per_year=0.25,
    noise=0.06,
    make=_session,
)
SUPPORT_TICKETS = SourceProfile(
    key="support_tickets",
    id_prefix="tkt",
    per_day=80.0,
    hourly=_OFFICE_HOURS,
    weekly=(1.25, 1.20, 1.15, 1.10, 1.05, 0.50, 0.35),
    trend_per_year=0.10,
    noise=0.12,
    make=_ticket,
)
MARKETING_SPEND = SourceProfile(
    key="marketing_spend",
    id_prefix="spd",
    per_day=5_600.0,
    hourly=_FLAT_HOURS,
    weekly=(1.00, 1.00, 1.00, 1.00, 1.05, 1.10, 1.00),
    trend_per_year=0.20,
    noise=0.10,
    make=_spend,
    daily_rows=MARKETING_CHANNELS,
)
DEMO_SOURCES = (ORDERS, WEB_SESSIONS, SUPPORT_TICKETS, MARKETING_SPEND)
