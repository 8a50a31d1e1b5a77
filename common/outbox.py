"""Transactional outbox: messages for the broker are rows written with the business change.

A message is committed in the same transaction as the change that causes it
(an order and its "close me if unpaid" job), so neither exists without the
other. A relay (`relay`, run by the scheduler) sends unsent rows to the broker
and marks them sent; while the broker is down rows simply wait. A message may be
sent twice (a relay crash between send and mark), so every actor is idempotent.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import dramatiq
from sqlalchemy import Index, Integer, String, Text, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from common.db import Database
from common.models import BigId, UTCDateTime, utcnow

_logger = logging.getLogger(__name__)


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


async def relay(
    db: Database, model: type[OutboxMixin], broker: dramatiq.Broker, *, batch_size: int = 100
) -> int:
    """Send unsent messages in id order; return how many went out.

    Each row is marked sent in its own small transaction right after the broker
    accepts it, so a crash re-sends at most one message. The first failure
    (broker down) counts an attempt on that row and ends the round: later rows
    would fail the same way and must not overtake it.
    """
    async with db.session() as session:
        rows = list(
            await session.scalars(
                select(model).where(model.sent_at.is_(None)).order_by(model.id).limit(batch_size)
            )
        )
    sent = 0
    for row in rows:
        try:
            await asyncio.to_thread(_enqueue, broker, row)
        except Exception as error:  # the broker's own error types differ per broker
            _logger.warning(
                "outbox relay: broker refused message %s (%s) — will retry: %s",
                row.id,
                row.actor_name,
                error,
            )
            async with db.write_session() as session:
                await session.execute(
                    update(model).where(model.id == row.id).values(attempts=model.attempts + 1)
                )
            break
        async with db.write_session() as session:
            await session.execute(
                update(model)
                .where(model.id == row.id)
                .values(sent_at=utcnow(), attempts=model.attempts + 1)
            )
        sent += 1
    return sent


def _enqueue(broker: dramatiq.Broker, row: OutboxMixin) -> None:
    """Hand one row to the broker, delayed until its `deliver_at` (blocking I/O)."""
    payload = json.loads(row.payload)
    # Rounded up: delivered a millisecond early, a job would find its deadline not yet passed.
    delay_ms = max(0, math.ceil((row.deliver_at - utcnow()).total_seconds() * 1000))
    broker.declare_queue(row.queue_name)  # local bookkeeping; RabbitMQ declares on send
    broker.enqueue(
        dramatiq.Message(
            queue_name=row.queue_name,
            actor_name=row.actor_name,
            args=tuple(payload.get("args", ())),
            kwargs=payload.get("kwargs", {}),
            options={},
        ),
        delay=delay_ms or None,
    )
