"""What every table definition shares: the metadata (with its naming convention), the column
types that behave alike on SQLite and PostgreSQL, and the common columns."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UTCDateTime(sa.TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (SQLite has no time zones)."""

    impl = sa.DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> sa.types.TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(postgresql.TIMESTAMP(timezone=True))
        return dialect.type_descriptor(sa.DateTime())

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value if dialect.name == "postgresql" else value.replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


JSONType = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def max_length(column: sa.ColumnElement[Any]) -> int:
    """How many characters a String column holds (PostgreSQL refuses more; SQLite keeps
    them), for code that must bound what it writes there."""
    kind = column.type
    if not isinstance(kind, sa.String) or kind.length is None:
        raise TypeError(f"{column} has no length")
    return kind.length


def pk_id(prefix_len: int = 40) -> sa.Column[str]:
    """The `id` primary key column."""
    return sa.Column("id", sa.String(prefix_len), primary_key=True)


def tenant_ref() -> sa.Column[str]:
    """The `tenant_id` column every tenant-owned row has."""
    return sa.Column("tenant_id", sa.String(40), sa.ForeignKey("tenants.id"), nullable=False)


def created() -> sa.Column[datetime]:
    """The `created_at` column."""
    return sa.Column("created_at", UTCDateTime(), nullable=False)
