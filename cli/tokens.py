"""``northstar tokens``: personal access tokens for the read API, made for a user."""

from __future__ import annotations

import datetime as dt

import click
from sqlalchemy.orm import Session

from cli.common import Runtime
from cli.users import CLI_ACTOR
from models.accounts import find_user
from models.admin.rules import AdminError
from models.tokens import MAX_EXPIRES_DAYS, create_token, expiry


@click.group()
def tokens() -> None:
    """Personal access tokens of the read API."""


@tokens.command()
@click.option("--email", required=True, help="The user the token acts as.")
@click.option("--name", default="command line", show_default=True, help="What it is for.")
@click.option(
    "--expires-days",
    type=click.IntRange(1, MAX_EXPIRES_DAYS),
    default=None,
    help="Days until it expires (default: never).",
)
@click.pass_obj
def create(runtime: Runtime, email: str, name: str, expires_days: int | None) -> None:
    """Create a token for the user and print it (it is shown only this once)."""
    now = dt.datetime.now(dt.UTC)
    with Session(runtime.engine) as session, session.begin():
        user = find_user(session, email.strip())
        if user is None:
            raise AdminError(f"no user with e-mail address {email.strip()}")
        if not user.is_active:
            raise AdminError(f"{user.email} is deactivated; reactivate them first")
        plaintext, _ = create_token(session, user.id, name, CLI_ACTOR, expiry(now, expires_days))
    click.echo(plaintext)
    click.echo(
        "Store this token now: Northstar keeps only its hash and cannot show it again. It "
        f"acts with {email.strip()}'s permissions and scope.",
        err=True,
    )
