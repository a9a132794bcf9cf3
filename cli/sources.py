"""``northstar sources``: create, list and revoke the API keys producers post events with."""

from __future__ import annotations

import datetime as dt

import click
from sqlalchemy import select
from sqlalchemy.orm import Session

from cli.common import CLI_ACTOR, Runtime, announce_catalog_change
from models.api_keys import create_key, list_keys, revoke_key
from models.sources import Source, SourceApiKey


@click.group()
def sources() -> None:
    """Sources and their API keys."""


def _source(session: Session, key: str) -> Source:
    source = session.scalar(select(Source).where(Source.key == key))
    if source is None:
        raise LookupError(f"no source with key {key!r}")
    return source


@sources.command("create-key")
@click.argument("source_key")
@click.option("--label", default="", help="What the key is for, shown in list-keys.")
@click.option(
    "--expires-days", type=click.IntRange(min=1), default=None, help="Days until it expires."
)
@click.pass_obj
def create_key_command(
    runtime: Runtime, source_key: str, label: str, expires_days: int | None
) -> None:
    """Create an API key for SOURCE_KEY and print it (it is shown only this once)."""
    expires_at = None
    if expires_days is not None:
        expires_at = dt.datetime.now(dt.UTC) + dt.timedelta(days=expires_days)
    with Session(runtime.engine) as session, session.begin():
        plaintext = create_key(session, _source(session, source_key), CLI_ACTOR, label, expires_at)
    announce_catalog_change(runtime)
    click.echo(plaintext)
    click.echo(
        "Store this key now: Northstar keeps only its hash and cannot show it again.", err=True
    )


@sources.command("revoke-key")
@click.argument("prefix")
@click.pass_obj
def revoke_key_command(runtime: Runtime, prefix: str) -> None:
    """Revoke the key with this PREFIX (or id); it stops working on the next request."""
    with Session(runtime.engine) as session, session.begin():
        key = revoke_key(session, prefix, CLI_ACTOR)
        shown, revoked_at = key.prefix, key.revoked_at
    announce_catalog_change(runtime)
    click.echo(f"revoked ns_{shown}_… (at {revoked_at:%Y-%m-%d %H:%M:%S} UTC)")


@sources.command("list-keys")
@click.argument("source_key")
@click.pass_obj
def list_keys_command(runtime: Runtime, source_key: str) -> None:
    """List the keys of SOURCE_KEY: prefix, label, state and dates (never the key)."""
    with Session(runtime.engine) as session:
        keys = list_keys(session, _source(session, source_key))
    if not keys:
        click.echo(f"source {source_key!r} has no API keys")
        return
    now = dt.datetime.now(dt.UTC)
    for key in keys:
        click.echo(
            f"ns_{key.prefix}_…  {_state(key, now):<8} created {_day(key.created_at)}"
            f"  expires {_day(key.expires_at)}  {key.label}".rstrip()
        )


def _state(key: SourceApiKey, now: dt.datetime) -> str:
    if key.revoked_at is not None:
        return "revoked"
    if key.expires_at is not None and key.expires_at <= now:
        return "expired"
    return "active"


def _day(at: dt.datetime | None) -> str:
    return "never" if at is None else f"{at.astimezone(dt.UTC):%Y-%m-%d}"
