"""``northstar quarantine``: replay quarantined records against the current contract."""

from __future__ import annotations

import click

from cli.common import Runtime
from ingest.replay import replay_source
from ingest.runtime import Services
from ingest.streams import Backpressure
from models.audit import Actor

CLI_ACTOR = Actor("system:cli")


@click.group()
def quarantine() -> None:
    """Quarantined records."""


@quarantine.command("replay")
@click.option("--source", "source_key", required=True, help="Key of the source to replay.")
@click.option(
    "--reason",
    default=None,
    help="Only records whose rule is REASON (e.g. unknown_org_unit) or whose reason contains it.",
)
@click.option("--dry-run", is_flag=True, help="Report what would happen; change nothing.")
@click.option("--note", default="", help="Note stored on the replayed records and the audit.")
@click.pass_obj
def replay(runtime: Runtime, source_key: str, reason: str | None, dry_run: bool, note: str) -> None:
    """Re-validate the open records of a source; re-ingest those that pass now."""
    services = Services(runtime.settings)
    try:
        report = replay_source(
            services, source_key, CLI_ACTOR, match=reason, dry_run=dry_run, note=note
        )
    except Backpressure as exc:
        raise click.ClickException(
            f"the ingest streams are full ({exc.reason}); nothing was replayed, "
            f"retry in {exc.retry_after} s"
        ) from exc
    finally:
        services.close()
    would = "would be " if dry_run else ""
    click.echo(
        f"{report.source_key} (contract v{report.contract_version}): {report.examined} open "
        f"record(s) examined, {report.replayed} {would}re-ingested, "
        f"{report.still_failing} still failing, {report.unreadable} unreadable"
    )
    for rule, n in sorted(report.by_rule.items()):
        click.echo(f"  still failing: {rule:<20} {n}")
