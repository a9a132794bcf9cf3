"""``northstar demo``: seed the demo catalogue and accounts, back-fill history, summarise."""

from __future__ import annotations

import click

from cli.common import Runtime
from ingest.demo.generator import DEFAULT_SEED
from ingest.demo.history import SourceHistory, write_history
from ingest.demo.seed import SeedReport, seed_demo
from ingest.demo.summary import KpiLine, demo_summary


@click.group()
def demo() -> None:
    """Demo organisation, accounts and data."""


@demo.command()
@click.pass_obj
def seed(runtime: Runtime) -> None:
    """Create or update the demo catalogue; in demo mode (NORTHSTAR_DEMO=1) also its accounts."""
    _print_seed(seed_demo(runtime.engine, runtime.settings))


def _print_seed(report: SeedReport) -> None:
    click.echo(
        f"catalogue: {report.org_units} org units, {report.sources} sources, "
        f"{report.kpis} KPIs, {report.roles} roles"
    )
    if not report.demo_mode:
        click.echo("demo accounts: none created or changed (NORTHSTAR_DEMO is not set)")
        return
    for account in report.new_accounts:
        click.echo(f"created {account.email} ({', '.join(account.roles)}): {account.password}")
    kept = len(report.demo_accounts) - len(report.new_accounts)
    if kept:
        click.echo(f"kept {kept} existing demo account(s) and their passwords")
    click.echo(f"demo credentials: {report.credentials_path}")


@demo.command()
@click.option(
    "--days", type=click.FloatRange(min=0, min_open=True), default=30.0, show_default=True
)
@click.option(
    "--scale",
    type=click.FloatRange(min=0, min_open=True),
    default=1.0,
    show_default=True,
    help="Multiplies every volume; 1.0 is about 12 thousand events a day.",
)
@click.option("--seed", "seed_", type=int, default=DEFAULT_SEED, show_default=True)
@click.pass_obj
def history(runtime: Runtime, days: float, scale: float, seed_: int) -> None:
    """Write DAYS of generated events up to the last full hour (re-running adds nothing)."""

    def progress(result: SourceHistory) -> None:
        click.echo(
            f"{result.source_key:<16} {result.written:>9,} new of {result.generated:>9,} events"
        )

    report = write_history(runtime.engine, days=days, scale=scale, seed=seed_, progress=progress)
    click.echo(
        f"history {report.start:%Y-%m-%d %H:%M} to {report.end:%Y-%m-%d %H:%M} UTC: "
        f"{report.written:,} new events in {report.seconds:.1f} s"
    )


@demo.command()
@click.pass_obj
def summary(runtime: Runtime) -> None:
    """Print the events stored per source and each KPI for the last full day."""
    result = demo_summary(runtime.engine, runtime.settings)
    click.echo("events stored per source:")
    for key, count in result.events.items():
        click.echo(f"  {key:<16} {count:>11,}")
    if result.kpis:
        period = result.kpis[0].value.period
        click.echo(f"KPIs for {result.unit_name}, {period.start:%Y-%m-%d} (UTC day):")
    for line in result.kpis:
        click.echo("  " + _kpi_line(line))


def _format(value: float | None, spec: str) -> str:
    if value is None:
        return "no data"
    try:
        return format(value, spec)
    except ValueError:
        return f"{value:,.2f}"


def _kpi_line(line: KpiLine) -> str:
    kpi, value = line.definition, line.value
    target = "" if kpi.target is None else f", target {_format(kpi.target, kpi.format)}"
    return (
        f"{kpi.name:<26} {_format(value.value, kpi.format):>12} {kpi.unit:<6}"
        f" (day before {_format(value.previous_value, kpi.format)}{target})"
    )
