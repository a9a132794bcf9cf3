"""Declarative base, naming convention and the column types the models share."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from sqlalchemy import BigInteger, DateTime, Integer, MetaData, String, Text, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, mapped_column
from sqlalchemy.types import UserDefinedType

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)


class LTree(UserDefinedType[str]):
    """PostgreSQL ``ltree`` (contrib): a materialised path such as ``1.4.17``."""

    cache_ok = True

    def get_col_spec(self, **kw: Any) -> str:
        return "LTREE"


class Base(DeclarativeBase):
    metadata = metadata
    type_annotation_map = {
        dict[str, Any]: JSONB,
        list[dict[str, Any]]: JSONB,
        dt.datetime: DateTime(timezone=True),
        str: Text,
    }


IntPK = Annotated[int, mapped_column(Integer, primary_key=True)]
BigPK = Annotated[int, mapped_column(BigInteger, primary_key=True)]
Key = Annotated[str, mapped_column(String(64), unique=True)]
CreatedAt = Annotated[dt.datetime, mapped_column(server_default=func.now())]
JsonObject = Annotated[dict[str, Any], mapped_column(JSONB, server_default="{}")]
