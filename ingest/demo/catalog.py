"""The demo organisation, sources, contracts, KPIs, roles and accounts, as data."""

from __future__ import annotations

import datetime as dt

from ingest.demo.generator import UnitProfile
from ingest.demo.profiles import MARKETING_CHANNELS
from models.accounts import BUILTIN_ROLES, UserSpec
from models.alerts.spec import RuleSpec
from models.alerts.tables import AlertSeverity, Condition
from models.catalog import KpiSpec, OrgUnitSpec, SourceSpec
from models.contracts import FieldRole, FieldSpec, FieldType
from models.enums import Classification, Direction, Granularity, OrgLevel, RefreshMode

COMPANY_KEY = "group"
COMPANY = OrgUnitSpec(COMPANY_KEY, "Northstar Group", OrgLevel.COMPANY)
REGIONS = (
    OrgUnitSpec("emea", "EMEA", OrgLevel.REGION, COMPANY_KEY),
    OrgUnitSpec("amer", "Americas", OrgLevel.REGION, COMPANY_KEY),
    OrgUnitSpec("apac", "Asia-Pacific", OrgLevel.REGION, COMPANY_KEY),
)
# (key, name, region, UTC offset in hours, relative market size, business-unit kinds)
_COUNTRIES: tuple[tuple[str, str, str, int, float, tuple[str, ...]], ...] = (
    ("de", "Germany", "emea", 1, 2.0, ("retail", "online", "b2b")),
    ("fr", "France", "emea", 1, 1.4, ("retail", "online")),
    ("gb", "United Kingdom", "emea", 0, 1.6, ("retail", "online", "b2b")),
    ("es", "Spain", "emea", 1, 0.8, ("retail", "online")),
    ("us", "United States", "amer", -5, 3.0, ("retail", "online", "b2b")),
    ("ca", "Canada", "amer", -5, 0.8, ("retail", "online")),
    ("br", "Brazil", "amer", -3, 0.6, ("online",)),
    ("jp", "Japan", "apac", 9, 1.5, ("retail", "online")),
    ("au", "Australia", "apac", 10, 0.8, ("retail", "online")),
    ("sg", "Singapore", "apac", 8, 0.5, ("online",)),
)
_KIND_NAME = {"retail": "Retail", "online": "Online", "b2b": "B2B"}
_KIND_WEIGHT = {"retail": 1.0, "online": 1.3, "b2b": 0.5}
REGIONAL_EXECUTIVE_REGION = "emea"


def org_units() -> list[OrgUnitSpec]:
    """Every unit, parents before children."""
    units = [COMPANY, *REGIONS]
    units += [OrgUnitSpec(c[0], c[1], OrgLevel.COUNTRY, c[2]) for c in _COUNTRIES]
    for key, name, _region, _offset, _size, kinds in _COUNTRIES:
        units += [
            OrgUnitSpec(f"{key}-{k}", f"{name} {_KIND_NAME[k]}", OrgLevel.BUSINESS_UNIT, key)
            for k in kinds
        ]
    return units


def business_units() -> tuple[UnitProfile, ...]:
    """The leaves of the organisation with the size and time zone the generator uses."""
    return tuple(
        UnitProfile(f"{key}-{kind}", size * _KIND_WEIGHT[kind], offset)
        for key, _name, _region, offset, size, kinds in _COUNTRIES
        for kind in kinds
    )


def _key_fields(id_name: str) -> tuple[FieldSpec, ...]:
    return (
        FieldSpec(
            name=id_name, type=FieldType.STRING, role=FieldRole.EVENT_ID, pattern=r"^\S{1,128}$"
        ),
        FieldSpec(name="ts", type=FieldType.TIMESTAMP, role=FieldRole.TIMESTAMP),
        FieldSpec(
            name="org_unit",
            type=FieldType.STRING,
            role=FieldRole.ORG_UNIT,
            reference="org_units",
            description="key of the business unit, e.g. de-retail",
        ),
    )


def _measure(name: str, kind: FieldType, low: float, high: float | None = None) -> FieldSpec:
    return FieldSpec(name=name, type=kind, role=FieldRole.MEASURE, min=low, max=high)


def _dimension(name: str, allowed: tuple[str, ...]) -> FieldSpec:
    return FieldSpec(name=name, type=FieldType.ENUM, role=FieldRole.DIMENSION, allowed=allowed)


ORDERS = SourceSpec(
    key="orders",
    name="Orders",
    description="Orders placed in every channel, streamed by the order service as they happen.",
    owner_unit_key=COMPANY_KEY,
    refresh_mode=RefreshMode.STREAMING,
    freshness_sla_s=300,
    expected_volume_per_15m=4,
    retention_days=400,
    sensitivity=Classification.PII,
    measure_units={"amount": "EUR", "items": "items"},
    fields=(
        *_key_fields("order_id"),
        _measure("amount", FieldType.FLOAT, 0.0, 100_000.0),
        _measure("items", FieldType.INT, 1.0, 1_000.0),
        _dimension("channel", ("web", "app", "store", "phone")),
        _dimension("payment_method", ("card", "paypal", "invoice", "wallet")),
        _dimension("product_category", ("electronics", "home", "fashion", "sports", "beauty")),
        FieldSpec(
            name="customer_email",
            type=FieldType.STRING,
            role=FieldRole.ATTRIBUTE,
            classification=Classification.PII,
            required=False,
            pattern=r"^[^@\s]+@[^@\s]+$",
        ),
        FieldSpec(
            name="margin",
            type=FieldType.FLOAT,
            role=FieldRole.ATTRIBUTE,
            classification=Classification.CONFIDENTIAL,
            required=False,
        ),
    ),
)
WEB_SESSIONS = SourceSpec(
    key="web_sessions",
    name="Web sessions",
    description="Visits to the web shops, streamed by the analytics collector when they end.",
    owner_unit_key=COMPANY_KEY,
    refresh_mode=RefreshMode.STREAMING,
    freshness_sla_s=120,
    expected_volume_per_15m=125,
    retention_days=90,
    measure_units={"duration_s": "s", "pages": "pages", "converted": "sessions"},
    fields=(
        *_key_fields("session_id"),
        _measure("duration_s", FieldType.FLOAT, 0.0, 86_400.0),
        _measure("pages", FieldType.INT, 1.0, 10_000.0),
        _measure("converted", FieldType.INT, 0.0, 1.0),
        _dimension("device", ("desktop", "mobile", "tablet")),
        _dimension("landing_page", ("home", "product", "search", "campaign", "blog")),
    ),
)
SUPPORT_TICKETS = SourceSpec(
    key="support_tickets",
    name="Support tickets",
    description="Resolved support tickets, sent by the help desk every few minutes in batches.",
    owner_unit_key=COMPANY_KEY,
    refresh_mode=RefreshMode.MICROBATCH,
    freshness_sla_s=1_800,
    expected_volume_per_15m=1,
    retention_days=365,
    measure_units={"resolution_minutes": "min", "reopened": "tickets"},
    fields=(
        *_key_fields("ticket_id"),
        _measure("resolution_minutes", FieldType.FLOAT, 0.0, 525_600.0),
        _measure("reopened", FieldType.INT, 0.0, 1.0),
        _dimension("priority", ("low", "normal", "high", "urgent")),
        _dimension("channel", ("email", "chat", "phone")),
    ),
)
MARKETING_SPEND = SourceSpec(
    key="marketing_spend",
    name="Marketing spend",
    description="Daily media spend per business unit and channel, delivered by Acme Media "
    "the morning after.",
    owner_unit_key=COMPANY_KEY,
    refresh_mode=RefreshMode.SCHEDULED,
    freshness_sla_s=36 * 3_600,
    expected_volume_per_15m=None,
    retention_days=730,
    sensitivity=Classification.CONFIDENTIAL,
    partner_agreement_ref="ACME-MEDIA-DPA-2026-017",
    # A fixed date rather than "a year from now": re-seeding must not change the catalogue.
    partner_agreement_expires_at=dt.datetime(2029, 12, 31, 23, 59, 59, tzinfo=dt.UTC),
    measure_units={"spend": "EUR", "clicks": "clicks"},
    fields=(
        *_key_fields("row_id"),
        _measure("spend", FieldType.FLOAT, 0.0, 10_000_000.0),
        _measure("clicks", FieldType.INT, 0.0),
        FieldSpec(name="campaign", type=FieldType.STRING, role=FieldRole.DIMENSION),
        _dimension("channel", MARKETING_CHANNELS),
    ),
)
SOURCES = (ORDERS, WEB_SESSIONS, SUPPORT_TICKETS, MARKETING_SPEND)

KPIS = (
    KpiSpec(
        key="revenue",
        name="Revenue",
        description="Value of orders placed. Target, warning and critical are per day for the "
        "whole group.",
        formula="sum(orders.amount)",
        owner_unit_key=COMPANY_KEY,
        unit="EUR",
        format=",.0f",
        direction=Direction.HIGHER_IS_BETTER,
        target=38_000.0,
        warn_threshold=33_000.0,
        crit_threshold=29_000.0,
    ),
    KpiSpec(
        key="orders",
        name="Orders",
        description="Number of orders placed, per day for the whole group.",
        formula="count(orders)",
        owner_unit_key=COMPANY_KEY,
        unit="orders",
        format=",.0f",
        direction=Direction.HIGHER_IS_BETTER,
        target=450.0,
        warn_threshold=390.0,
        crit_threshold=340.0,
    ),
    KpiSpec(
        key="average_order_value",
        name="Average order value",
        description="Revenue per order.",
        formula="sum(orders.amount) / count(orders)",
        owner_unit_key=COMPANY_KEY,
        unit="EUR",
        format=",.2f",
        direction=Direction.HIGHER_IS_BETTER,
        target=85.0,
        warn_threshold=78.0,
        crit_threshold=72.0,
    ),
    KpiSpec(
        key="conversion_rate",
        name="Conversion rate",
        description="Orders per hundred web sessions.",
        formula="100 * count(orders) / count(web_sessions)",
        owner_unit_key=COMPANY_KEY,
        unit="%",
        format=".2f",
        direction=Direction.HIGHER_IS_BETTER,
        target=3.6,
        warn_threshold=3.2,
        crit_threshold=2.8,
    ),
    KpiSpec(
        key="support_resolution_time",
        name="Support resolution time",
        description="Average minutes from opening to resolving a support ticket.",
        formula="avg(support_tickets.resolution_minutes)",
        owner_unit_key=COMPANY_KEY,
        unit="min",
        format=",.0f",
        direction=Direction.LOWER_IS_BETTER,
        target=240.0,
        warn_threshold=300.0,
        crit_threshold=360.0,
    ),
    KpiSpec(
        key="ticket_reopen_rate",
        name="Ticket reopen rate",
        description="Share of resolved tickets that were reopened.",
        formula="100 * sum(support_tickets.reopened) / count(support_tickets)",
        owner_unit_key=COMPANY_KEY,
        unit="%",
        format=".1f",
        direction=Direction.LOWER_IS_BETTER,
        target=5.0,
        warn_threshold=8.0,
        crit_threshold=12.0,
    ),
    KpiSpec(
        key="marketing_roi",
        name="Marketing ROI",
        description="Revenue per euro of media spend. Spend arrives daily, so read it by day.",
        formula="sum(orders.amount) / sum(marketing_spend.spend)",
        owner_unit_key=COMPANY_KEY,
        unit="x",
        format=".2f",
        direction=Direction.HIGHER_IS_BETTER,
        target=6.0,
        warn_threshold=5.0,
        crit_threshold=4.0,
        default_granularity=Granularity.DAY,
    ),
)

ROLES = BUILTIN_ROLES
"""The built-in roles (``models.accounts``); the seed re-asserts them."""

STEWARD_EMAIL = "steward@example.com"
DEMO_USERS = (
    UserSpec("executive@example.com", "Grace Global", ("executive",), (COMPANY_KEY,), True),
    UserSpec(
        "emea.executive@example.com",
        "Elena EMEA",
        ("executive",),
        (REGIONAL_EXECUTIVE_REGION,),
        True,
    ),
    UserSpec(STEWARD_EMAIL, "Sam Steward", ("steward",), (COMPANY_KEY,), True),
    UserSpec("admin@example.com", "Ada Admin", ("admin",), (COMPANY_KEY,), True),
)


DEMO_ALERT_OWNER = "admin@example.com"
DEMO_ALERT_RULES = (
    RuleSpec(
        name="Orders halved (group)",
        kpi_key="orders",
        unit_key=COMPANY_KEY,
        condition=Condition.CHANGE_PCT,
        threshold=-50.0,
        clear_threshold=-20.0,
        for_s=300,
        window_s=900,
        severity=AlertSeverity.WARNING,
    ),
)
"""Demo mode only: the simulator's outage fault silences orders for a while, so the group's
orders of the last 15 minutes fall far below the 15 minutes before; the rule fires after
5 minutes of that, opens a review owned by the demo admin and notifies the executives in
the app. Ordinary ups and downs stay within the clear level."""
