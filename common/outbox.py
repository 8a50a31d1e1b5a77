"""Transactional outbox: messages for the broker are rows written with the business change.

A message is committed in the same transaction as the change that causes it
(an order and its "close me if unpaid" job), so neither exists without the
other. A relay (`relay`, run by the scheduler) sends unsent rows to the broker
and marks them sent; while the broker is down rows simply wait. A message may be
sent twice (a relay crash between send and mark), so every actor is idempotent.

Staging a row also signals the relay after the commit (`kick_channel`), so it
goes out in milliseconds; the scheduler's periodic relay is the fallback. The
row keeps the W3C `traceparent` of the span that staged it, and the message
carries it, so the actor's spans join the trace of the request that caused it.
A row the broker keeps refusing while it is up (say, a payload it cannot take)
is parked after OUTBOX_MAX_ATTEMPTS instead of being retried forever; sent rows
are purged after OUTBOX_RETENTION_SECONDS (`purge_sent`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

import dramatiq
import redis.exceptions
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from sqlalchemy import CursorResult, Index, Integer, String, Text, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from common.db import Database
from common.models import BigId, UTCDateTime, utcnow
from common.signals import after_commit

_logger = logging.getLogger(__name__)

TRACEPARENT = "traceparent"  # the message option (and W3C header name) carrying the trace
_KICK_CHANNEL = "looklook:outbox:kick:{model}"
_W3C = TraceContextTextMapPropagator()
LAST_ERROR_MAX = 255
# Errors meaning "the broker is unreachable", not "this row is bad": they end the round
# (later rows would fail the same way) and never count towards parking.
BROKER_DOWN_ERRORS: tuple[type[BaseException], ...] = (
    dramatiq.errors.BrokerConnectionError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    OSError,
)


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
    # W3C trace context of the span that staged the row (None outside a sampled trace).
    traceparent: Mapped[str | None] = mapped_column(String(64))
    # Set when the relay gave up on the row (see `relay`); `redrive` clears it.
    parked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(String(LAST_ERROR_MAX))

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
    """Stage a message in the caller's transaction; it is sent only if that commits.

    Due now, it also asks the relay to run right after the commit.
    """
    carrier: dict[str, str] = {}
    _W3C.inject(carrier)
    session.add(
        model(
            actor_name=actor_name,
            queue_name=queue_name,
            payload=json.dumps({"args": args, "kwargs": kwargs or {}}),
            deliver_at=utcnow() + timedelta(seconds=delay_seconds),
            traceparent=carrier.get(TRACEPARENT),
        )
    )
    if delay_seconds <= 0:
        after_commit(session, kick_channel(model))


def kick_channel(model: Callable[..., OutboxMixin] | type[OutboxMixin]) -> str:
    """The pub/sub channel on which a committed row of `model` wakes its relay.

    Named by the model's module and class: every domain's table is `outbox_message`.
    """
    return _KICK_CHANNEL.format(model=f"{model.__module__}.{getattr(model, '__name__', '')}")


async def relay(
    db: Database,
    model: type[OutboxMixin],
    broker: dramatiq.Broker,
    *,
    batch_size: int = 100,
    max_attempts: int = 5,
    on_parked: Callable[[OutboxMixin], None] | None = None,
) -> int:
    """Send unsent messages in id order; return how many went out.

    Each row is marked sent in its own small transaction right after the broker
    accepts it, so a crash re-sends at most one message. A broker outage (a
    connection error) counts an attempt on the head row and ends the round:
    later rows would fail the same way. Any other refusal is about the row: it
    counts an attempt and the round goes on with the rows behind it; after
    `max_attempts` the row is parked (`on_parked` is told) and no longer tried.
    """
    async with db.session() as session:
        rows = list(
            await session.scalars(
                select(model)
                .where(model.sent_at.is_(None), model.parked_at.is_(None))
                .order_by(model.id)
                .limit(batch_size)
            )
        )
    sent = 0
    for row in rows:
        try:
            await asyncio.to_thread(_enqueue, broker, row)
        except Exception as error:  # the broker's own error types differ per broker
            broker_down = isinstance(error, BROKER_DOWN_ERRORS)
            park = not broker_down and row.attempts + 1 >= max_attempts
            _logger.log(
                logging.ERROR if park else logging.WARNING,
                "outbox relay: message %s (%s) refused%s: %s",
                row.id,
                row.actor_name,
                " — parked" if park else " — will retry",
                error,
            )
            async with db.write_session() as session:
                await session.execute(
                    update(model)
                    .where(model.id == row.id)
                    .values(
                        attempts=model.attempts + 1,
                        last_error=f"{type(error).__name__}: {error}"[:LAST_ERROR_MAX],
                        parked_at=utcnow() if park else None,
                    )
                )
            if park and on_parked is not None:
                on_parked(row)
            if broker_down:
                break
            continue
        async with db.write_session() as session:
            await session.execute(
                update(model)
                .where(model.id == row.id)
                .values(sent_at=utcnow(), attempts=model.attempts + 1)
            )
        sent += 1
    return sent


async def purge_sent(
    db: Database, model: type[OutboxMixin], *, older_than_seconds: int, batch_size: int = 1000
) -> int:
    """Delete rows sent more than `older_than_seconds` ago, in batches; returns how many."""
    cutoff = utcnow() - timedelta(seconds=older_than_seconds)
    purged = 0
    while True:
        async with db.write_session() as session:
            ids = list(
                await session.scalars(
                    select(model.id)
                    .where(model.sent_at.is_not(None), model.sent_at < cutoff)
                    .order_by(model.id)
                    .limit(batch_size)
                )
            )
            if not ids:
                return purged
            await session.execute(delete(model).where(model.id.in_(ids)))
        purged += len(ids)


async def parked(db: Database, model: type[OutboxMixin], *, limit: int = 100) -> list[OutboxMixin]:
    """Parked rows, oldest first (for operators)."""
    async with db.session() as session:
        return list(
            await session.scalars(
                select(model).where(model.parked_at.is_not(None)).order_by(model.id).limit(limit)
            )
        )


async def redrive(db: Database, model: type[OutboxMixin], ids: list[int] | None) -> int:
    """Give parked rows (`ids`, or all when None) a fresh set of attempts; returns how many."""
    query = update(model).where(model.parked_at.is_not(None))
    if ids is not None:
        query = query.where(model.id.in_(ids))
    async with db.write_session() as session:
        result = cast(
            CursorResult[Any], await session.execute(query.values(parked_at=None, attempts=0))
        )
        if result.rowcount:
            after_commit(session, kick_channel(model))
        return int(result.rowcount)


@dataclass(frozen=True)
class Backlog:
    """What waits in an outbox: unsent rows, the age of the oldest, parked rows."""

    unsent: int
    oldest_unsent_seconds: float
    parked: int


async def backlog(db: Database, model: type[OutboxMixin]) -> Backlog:
    """Rows not yet handed to the broker (delayed ones are handed over at once, with their
    delay), and parked rows."""
    now = utcnow()
    async with db.session() as session:
        unsent, oldest = (
            await session.execute(
                select(func.count(), func.min(model.created_at)).where(
                    model.sent_at.is_(None), model.parked_at.is_(None)
                )
            )
        ).one()
        parked_rows = await session.scalar(
            select(func.count()).select_from(model).where(model.parked_at.is_not(None))
        )
    age = (now - oldest).total_seconds() if oldest is not None else 0.0
    return Backlog(
        unsent=int(unsent), oldest_unsent_seconds=max(age, 0.0), parked=int(parked_rows or 0)
    )


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
            options={TRACEPARENT: row.traceparent} if row.traceparent else {},
        ),
        delay=delay_ms or None,
    )
