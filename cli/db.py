"""``northstar db``: apply migrations and run storage maintenance."""

from __future__ import annotations

import datetime as dt

import click

from cli.common import Runtime
from models import migrate
from models.storage.maintenance import run_maintenance


@click.group()
def db() -> None:
    """Database schema and storage maintenance."""


@db.command()
@click.pass_obj
def upgrade(runtime: Runtime) -> None:
    """Apply every pending migration (run by the release phase)."""
    url = runtime.settings.sqlalchemy_url  # fails fast, naming the variable, on bad settings
    migrate.upgrade()
    click.echo(f"database at {_where(url)} is at migration {', '.join(migrate.heads())}")


@db.command()
@click.pass_obj
def maintain(runtime: Runtime) -> None:
    """Create partitions ahead and apply per-source retention."""
    report = run_maintenance(runtime.engine, runtime.settings, dt.datetime.now(dt.UTC))
    click.echo(f"storage backend: {report.backend.value}")
    click.echo(f"partitions created: {', '.join(report.created) or 'none'}")
    click.echo(f"partitions dropped: {', '.join(report.dropped) or 'none'}")
    if report.deferred:
        click.echo(f"deferred (lock busy, retried next run): {', '.join(report.deferred)}")
    click.echo(f"expired events deleted: {report.deleted_total}")


def _where(url: str) -> str:
    """Host and database of a URL, without credentials."""
    return url.rsplit("@", 1)[-1]
