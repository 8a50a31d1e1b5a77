"""Column types and the columns every table shares: id, times, soft delete, version."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, Integer, SmallInteger
from sqlalchemy.dialects import mysql
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

# Constraint names that are the same on every backend, so migrations can name them.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# BIGINT on MySQL, INTEGER on SQLite (only INTEGER PRIMARY KEY auto-increments there).
BigId = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[datetime]):
    """Timestamps stored as naive UTC with microseconds, read back as aware UTC.

    Both backends drop the offset of aware datetimes, and MariaDB's plain
    DATETIME has second precision; this type removes both surprises.
    """

    impl = DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> Any:
        if dialect.name in ("mysql", "mariadb"):
            return dialect.type_descriptor(mysql.DATETIME(fsp=6))
        return dialect.type_descriptor(DateTime())

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are ambiguous; pass an aware UTC datetime")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return value.replace(tzinfo=UTC) if value is not None else None


def utcnow() -> datetime:
    return datetime.now(UTC)


class AuditColumns:
    """id, create/update/delete time, soft-delete flag and optimistic-lock version."""

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True, sort_order=-100)
    create_time: Mapped[datetime] = mapped_column(
        UTCDateTime, default=utcnow, nullable=False, sort_order=100
    )
    update_time: Mapped[datetime] = mapped_column(
        UTCDateTime, default=utcnow, onupdate=utcnow, nullable=False, sort_order=101
    )
    delete_time: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True, sort_order=102)
    del_state: Mapped[int] = mapped_column(
        SmallInteger, default=0, server_default="0", sort_order=103
    )
    version: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0", sort_order=104)


__all__ = ["NAMING_CONVENTION", "AuditColumns", "BigId", "UTCDateTime", "utcnow"]
