"""The demo catalogue (``catalog.yaml`` beside this module) as specs, and the demo roles,
accounts and alert rules, as data."""

from __future__ import annotations

from pathlib import Path

from ingest.demo.generator import UnitProfile
from models.accounts import BUILTIN_ROLES, UserSpec
from models.alerts.spec import RuleSpec
from models.alerts.tables import AlertSeverity, Condition
from models.catalog import KpiSpec, OrgUnitSpec, SourceSpec
from models.catalog_file import CatalogFileError, read_catalog
from models.catalog_file.kpis import KpiEntry
from models.catalog_file.metrics import MetricEntry
from models.catalog_file.source_entry import SourceEntry
from models.catalog_file.units import UnitEntry
from models.contracts import FieldRole
from models.enums import OrgLevel

CATALOG_FILE = Path(__file__).with_name("catalog.yaml")
"""The demo organisation, sources, metrics and KPIs (applied by ``northstar demo seed``)."""
# Read when this module is imported: the file ships with the code like the constants it
# replaced, and a broken demo catalogue should fail at once, not at the first seed.
DOCUMENT = read_catalog([CATALOG_FILE])
if DOCUMENT.problems:
    raise CatalogFileError(DOCUMENT.problems)

COMPANY_KEY = "group"
REGIONAL_EXECUTIVE_REGION = "emea"
# (country key, UTC offset in hours, relative market size, business-unit kinds): what the
# generator needs; the units' names and tree are in the catalogue file.
_COUNTRIES: tuple[tuple[str, int, float, tuple[str, ...]], ...] = (
    ("de", 1, 2.0, ("retail", "online", "b2b")),
    ("fr", 1, 1.4, ("retail", "online")),
    ("gb", 0, 1.6, ("retail", "online", "b2b")),
    ("es", 1, 0.8, ("retail", "online")),
    ("us", -5, 3.0, ("retail", "online", "b2b")),
    ("ca", -5, 0.8, ("retail", "online")),
    ("br", -3, 0.6, ("online",)),
    ("jp", 9, 1.5, ("retail", "online")),
    ("au", 10, 0.8, ("retail", "online")),
    ("sg", 8, 0.5, ("online",)),
)
_KIND_WEIGHT = {"retail": 1.0, "online": 1.3, "b2b": 0.5}

_UNITS = tuple(
    OrgUnitSpec(e.key, e.name, e.level, e.parent) for _p, e in DOCUMENT.of("org_units", UnitEntry)
)
COMPANY = next(u for u in _UNITS if u.key == COMPANY_KEY)
REGIONS = tuple(u for u in _UNITS if u.level is OrgLevel.REGION)


def org_units() -> list[OrgUnitSpec]:
    """Every unit, parents before children (each level after the one above)."""
    order = list(OrgLevel)
    return sorted(_UNITS, key=lambda u: order.index(u.level))


def business_units() -> tuple[UnitProfile, ...]:
    """The leaves of the organisation with the size and time zone the generator uses."""
    return tuple(
        UnitProfile(f"{key}-{kind}", size * _KIND_WEIGHT[kind], offset)
        for key, offset, size, kinds in _COUNTRIES
        for kind in kinds
    )


_UNIT_OF = {e.key: e.unit for _p, e in DOCUMENT.of("metrics", MetricEntry)}


def _source(entry: SourceEntry) -> SourceSpec:
    assert entry.contract is not None
    agreement = entry.partner_agreement
    return SourceSpec(
        key=entry.key,
        name=entry.name,
        description=entry.description,
        owner_unit_key=entry.owner,
        refresh_mode=entry.mode,
        freshness_sla_s=entry.freshness_sla_s,
        expected_volume_per_15m=entry.expected_volume_per_15m,
        retention_days=entry.retention_days,
        sensitivity=entry.sensitivity,
        partner_agreement_ref=None if agreement is None else agreement.reference,
        partner_agreement_expires_at=None if agreement is None else agreement.expires,
        measure_units={
            f.name: _UNIT_OF.get(f"{entry.key}.{f.name}", "")
            for f in entry.contract.fields
            if f.role is FieldRole.MEASURE
        },
        fields=entry.contract.fields,
    )


def _kpi(entry: KpiEntry) -> KpiSpec:
    return KpiSpec(
        key=entry.key,
        name=entry.name,
        description=entry.description,
        formula=entry.formula,
        owner_unit_key=entry.owner,
        unit=entry.unit,
        format=entry.format,
        direction=entry.direction,
        target=entry.thresholds.target,
        warn_threshold=entry.thresholds.warn,
        crit_threshold=entry.thresholds.crit,
        default_granularity=entry.granularity,
        levels=entry.levels,
        target_warn_pct=entry.thresholds.warn_pct,
        target_crit_pct=entry.thresholds.crit_pct,
    )


SOURCES = tuple(_source(e) for _p, e in DOCUMENT.of("sources", SourceEntry))
"""The demo sources as specs (the simulator and tests read their contracts)."""
_BY_KEY = {s.key: s for s in SOURCES}
ORDERS = _BY_KEY["orders"]
WEB_SESSIONS = _BY_KEY["web_sessions"]
SUPPORT_TICKETS = _BY_KEY["support_tickets"]
MARKETING_SPEND = _BY_KEY["marketing_spend"]
KPIS = tuple(_kpi(e) for _p, e in DOCUMENT.of("kpis", KpiEntry))

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
