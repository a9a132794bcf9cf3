"""Alembic environment: URL from ``models.settings``, metadata from ``models.schema``."""

from __future__ import annotations

import re
from typing import Any

from alembic import context
from sqlalchemy import create_engine, pool
from sqlalchemy.dialects.postgresql.base import ischema_names

from models.base import LTree
from models.schema import metadata
from models.settings import get_settings

# Teach reflection the contrib type, so autogenerate compares ``org_units.path`` as LTREE
# (instead of warning about an unknown type and skipping the column).
ischema_names.setdefault("ltree", LTree)

# Day partitions are created and dropped at run time by the storage maintenance call; the
# TimescaleDB backend's internal objects (and its ``metric_values`` feed of the continuous
# aggregates, installed by migration 0002) are its own. None belongs to the models.
_RUNTIME_TABLE = re.compile(
    r"^(events|rollup_1m)_p\d{8}$|^_timescaledb_|^_hyper_|^_materialized_|^metric_values$"
)


def include_object(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    if type_ == "table" and name is not None and _RUNTIME_TABLE.match(name):
        return False
    return not (type_ == "index" and reflected and name is not None and _RUNTIME_TABLE.match(name))


def run_migrations_offline() -> None:
    context.configure(
        url=get_settings().sqlalchemy_url,
        target_metadata=metadata,
        literal_binds=True,
        include_object=include_object,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connectable = context.config.attributes.get("connection")
    if connectable is not None:
        _run(connectable)
        return
    engine = create_engine(get_settings().sqlalchemy_url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        _run(connection)


def _run(connection: Any) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        include_object=include_object,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
