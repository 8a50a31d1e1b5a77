"""Transactional outbox: messages for the broker are rows written with the business change.

A message is committed in the same transaction as the change that causes it
(an order and its "close me if unpaid" job), so neither exists without the
other. A relay (`relay`, run by the scheduler) sends unsent rows to the broker
and marks them sent; while the broker is down rows simply wait. A message may be
sent twice (a relay crash between send and mark), so every actor is idempotent.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Index, Integer, String, Text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from common.models import BigId, UTCDateTime, utcnow


class OutboxMixin:
    """Columns of a domain's `outbox_message` table."""

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    queue_name: Mapped[str] = mapped_column(String(64))
    actor_name: Mapped[str] = mapped_column(String(64))
    payload: Mapped[str] = mapped_column(Text)  # JSON: {"args": [...], "kwargs": {...}}
    deliver_at: Mapped[datetime] = mapped_column(UTCDateTime)  # not before this time
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)

    @declared_attr.directive
    def __table_args__(cls) -> tuple[Index, ...]:  # noqa: N805 - SQLAlchemy's declared_attr
        return (Index(None, "sent_at", "id"),)


def add_message(
    session: AsyncSession,
    model: Callable[..., OutboxMixin],
    *,
    actor_name: str,
    queue_name: str,
    args: list[Any],
    kwargs: dict[str, Any] | None = None,
    delay_seconds: float = 0,
) -> None:
    """Stage a message in the caller's transaction; it is sent only if that commits."""
    session.add(
        model(
            actor_name=actor_name,
            queue_name=queue_name,
            payload=json.dumps({"args": args, "kwargs": kwargs or {}}),
            deliver_at=utcnow() + timedelta(seconds=delay_seconds),
        )
    )
