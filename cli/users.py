"""``northstar users``: create (with an invitation link or a password), list, deactivate.

What the admin console does, for the operator: the first admin of an empty installation is
made here. Every change is audited (actor ``system:cli``); refusals are one line and a
non-zero exit.
"""

from __future__ import annotations

import datetime as dt
import sys

import click
from sqlalchemy.orm import Session

from cli.common import Runtime
from models.admin import operator
from models.admin.links import INVITE_PATH, MAX_PASSWORD, link_base
from models.audit import Actor
from models.queries.user_directory import list_accounts

CLI_ACTOR = Actor("system:cli")


@click.group()
def users() -> None:
    """User accounts."""


def _read_password() -> str:
    """The password on standard input, without its line ending (at most one line is read)."""
    line = sys.stdin.readline(MAX_PASSWORD + 2)
    return line.rstrip("\r\n")


@users.command()
@click.option("--email", required=True, help="The user's e-mail address (their sign-in name).")
@click.option("--name", required=True, help="The name shown for the user.")
@click.option("--role", "roles", multiple=True, required=True, help="A role key (repeatable).")
@click.option(
    "--scope", "scopes", multiple=True, help="An org unit key whose subtree they see (repeatable)."
)
@click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the password from standard input instead of printing an invitation link.",
)
@click.pass_obj
def create(
    runtime: Runtime,
    email: str,
    name: str,
    roles: tuple[str, ...],
    scopes: tuple[str, ...],
    password_stdin: bool,
) -> None:
    """Create a user; without --password-stdin, print a one-time invitation link."""
    settings = runtime.settings
    now = dt.datetime.now(dt.UTC)
    password = _read_password() if password_stdin else None
    base = ""
    if password is None:
        # Before anything is written: a refusal must not leave an account without its link.
        base = link_base(settings, "")
        if not base:
            raise click.ClickException(
                "NORTHSTAR_PUBLIC_URL is not set, so no invitation link can be made; "
                "set it, or give the password with --password-stdin"
            )
    new = operator.OperatorAccount(email, name, roles, scopes, password)
    ttl = dt.timedelta(seconds=settings.invite_link_ttl_s)
    with Session(runtime.engine) as session, session.begin():
        _, token = operator.create_account(session, new, CLI_ACTOR, now, ttl)
    shown = email.strip()
    if token is None:
        click.echo(f"created {shown} ({', '.join(roles)}): they can sign in now")
    else:
        expires = now + ttl
        click.echo(f"created {shown} ({', '.join(roles)}); invitation link, shown once:")
        click.echo(f"{base}{INVITE_PATH}{token}")
        click.echo(f"it works once, until {expires:%Y-%m-%d %H:%M} UTC", err=True)
    if not scopes:
        click.echo("note: no --scope given, so they see no org unit until granted one", err=True)


@users.command("list")
@click.pass_obj
def list_command(runtime: Runtime) -> None:
    """List every user: e-mail, name, roles, scopes and whether active (tab-separated)."""
    with runtime.engine.connect() as connection:
        accounts = list_accounts(connection)
    if not accounts:
        click.echo("no users yet: create the first with `northstar users create --role admin`")
        return
    click.echo("email\tname\troles\tscopes\tactive")
    for account in accounts:
        fields = (
            account.email,
            account.name,
            ",".join(account.roles) or "-",
            ",".join(account.scopes) or "-",
            "yes" if account.active else "no",
        )
        click.echo("\t".join(fields))


@users.command()
@click.option("--email", required=True, help="The user's e-mail address.")
@click.pass_obj
def deactivate(runtime: Runtime, email: str) -> None:
    """Deactivate a user: their sessions, links and access tokens stop working at once."""
    with Session(runtime.engine) as session, session.begin():
        operator.deactivate(session, email, CLI_ACTOR, dt.datetime.now(dt.UTC))
    click.echo(f"deactivated {email.strip()}: their sessions have ended")
