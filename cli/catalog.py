"""``northstar catalog``: apply a catalogue written as YAML files, or export the stored one."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import click
from sqlalchemy.orm import Session

from cli.common import CLI_ACTOR, Runtime, announce_catalog_change
from models.catalog_file import (
    CatalogFileError,
    Change,
    apply_catalog,
    export_catalog,
    plan_catalog,
    read_catalog,
    summary,
)
from models.catalog_file.targets import fiscal_year
from models.targets import TargetPlanError


@click.group()
def catalog() -> None:
    """The catalogue as code: org units, sources, metrics, KPIs and targets in YAML files."""


def print_changes(changes: Sequence[Change]) -> None:
    """One line per entry changed, grouped by section."""
    section = None
    for change in changes:
        if change.section != section:
            section = change.section
            click.echo(f"{section}:")
        click.echo(f"  {change}")


@catalog.command("apply")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--check", is_flag=True, help="Print the changes without making any.")
@click.pass_obj
def apply_command(runtime: Runtime, paths: tuple[Path, ...], check: bool) -> None:
    """Make the catalogue what the files (or folders of *.yaml files) say, in one transaction.

    Entries the files do not mention are left as they are; nothing is ever deleted.
    """
    with fiscal_year(runtime.settings.fiscal_year_start_month):
        document = read_catalog(paths)
        try:
            with Session(runtime.engine) as session:
                if check:
                    changes = plan_catalog(session, document)
                    session.rollback()
                else:
                    with session.begin():
                        changes = apply_catalog(session, document, CLI_ACTOR)
        except (CatalogFileError, TargetPlanError) as exc:
            raise click.ClickException(str(exc)) from exc
    print_changes(changes)
    if not changes:
        click.echo("no changes")
    elif check:
        click.echo(f"{summary(changes)} would be made; nothing was changed (--check)")
    else:
        click.echo(f"applied {summary(changes)}")
        announce_catalog_change(runtime)


@catalog.command("export")
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Write to this file instead of standard output.",
)
@click.pass_obj
def export_command(runtime: Runtime, output: Path | None) -> None:
    """Write the stored catalogue as a YAML file that `catalog apply` reads back unchanged."""
    with fiscal_year(runtime.settings.fiscal_year_start_month), Session(runtime.engine) as session:
        text = export_catalog(session)
    if output is None:
        click.echo(text, nl=False)
        return
    output.write_text(text, encoding="utf-8")
    click.echo(f"wrote {output}", err=True)
