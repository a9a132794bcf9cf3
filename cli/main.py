"""The ``northstar`` command line: one group per area, errors as one clear line."""

from __future__ import annotations

import sys
from collections.abc import Sequence

import click
from sqlalchemy.exc import OperationalError

from cli.catalog import catalog
from cli.common import Runtime
from cli.cron import cron
from cli.db import db
from cli.demo import demo
from cli.quarantine import quarantine
from cli.simulate import simulate
from cli.sources import sources
from cli.tokens import tokens
from cli.users import users
from cli.worker import worker
from models.admin.rules import AdminError
from models.catalog import CatalogError
from models.formulas import FormulaError
from models.queries.executive.definitions import InvalidKpi
from models.settings import ConfigurationError
from models.storage import StorageError
from models.tokens import TokenError


def _one_line(text: str) -> str:
    return " ".join(text.split())


class _Northstar(click.Group):
    """Turns the failures a user can fix into a one-line message and a non-zero exit."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except ConfigurationError as exc:
            raise click.ClickException(f"configuration: {exc}") from exc
        except OperationalError as exc:
            first = str(exc.orig or exc).strip().splitlines()[0]
            raise click.ClickException(f"database unreachable: {_one_line(first)}") from exc
        except (
            StorageError,
            CatalogError,
            FormulaError,
            InvalidKpi,
            LookupError,
            AdminError,
            TokenError,
        ) as exc:
            raise click.ClickException(_one_line(str(exc))) from exc


@click.group(cls=_Northstar)
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Northstar: real-time executive KPIs."""
    ctx.obj = ctx.with_resource(Runtime())


cli.add_command(catalog)
cli.add_command(db)
cli.add_command(demo)
cli.add_command(sources)
cli.add_command(quarantine)
cli.add_command(worker)
cli.add_command(cron)
cli.add_command(simulate)
cli.add_command(users)
cli.add_command(tokens)


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the ``northstar`` console script."""
    cli.main(args=list(argv) if argv is not None else sys.argv[1:], prog_name="northstar")
