"""The outbox under faults, on the real database and Redis broker: a row the broker keeps
refusing is parked and the rows behind it still go out; an outage parks nothing; sent rows
are purged after their retention; operators list and redrive parked rows; a committed row
kicks the relay; rows keep the trace that staged them."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta

import dramatiq
import pytest
from opentelemetry import trace
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags
from redis.asyncio import Redis
from sqlalchemy import select, update

from common.cli import main
from common.db import Database
from common.devrunner import free_port
from common.events import CLOSE_UNPAID_ORDER, send
from common.models import utcnow
from common.outbox import backlog, kick_channel, purge_sent, relay
from common.settings import Domain, Settings
from common.signals import flush, install_publisher
from subgraphs.orders.models import OutboxMessage
from workers.broker import create_broker

MAX_ATTEMPTS = 3


@pytest.fixture
async def orders_db(settings: Settings) -> AsyncIterator[Database]:
    db = Database(settings.database_url(Domain.ORDERS))
    yield db
    await db.dispose()


@pytest.fixture
def broker(settings: Settings) -> Iterator[dramatiq.Broker]:
    live = create_broker(settings.redis_url)
    yield live
    live.close()


async def _stage(db: Database, sn: str, *, delay_seconds: float = 600) -> int:
    """A close message for order `sn` (delayed, so no worker would act on it)."""
    async with db.write_session() as session:
        send(session, OutboxMessage, CLOSE_UNPAID_ORDER, sn, delay_seconds=delay_seconds)
        await session.flush()
        row = await session.scalar(select(OutboxMessage).where(OutboxMessage.payload.contains(sn)))
        assert row is not None
        return row.id


async def _row(db: Database, row_id: int) -> OutboxMessage:
    async with db.session() as session:
        row = await session.get(OutboxMessage, row_id)
    assert row is not None
    return row


async def _poison(db: Database, row_id: int) -> None:
    """A payload no broker can take (not JSON): every attempt fails the same way."""
    async with db.write_session() as session:
        await session.execute(
            update(OutboxMessage).where(OutboxMessage.id == row_id).values(payload="{oops")
        )


async def test_a_poisoned_row_is_parked_and_the_rows_behind_it_go_out(
    orders_db: Database, broker: dramatiq.Broker
) -> None:
    before_id, poisoned_id, after_id = [
        await _stage(orders_db, f"HSO-poison-{name}") for name in ("before", "bad", "after")
    ]
    await _poison(orders_db, poisoned_id)

    await relay(orders_db, OutboxMessage, broker, max_attempts=MAX_ATTEMPTS)
    # The bad row does not hold back the one behind it …
    assert (await _row(orders_db, before_id)).sent_at is not None
    assert (await _row(orders_db, after_id)).sent_at is not None
    bad = await _row(orders_db, poisoned_id)
    assert bad.sent_at is None and bad.parked_at is None and bad.attempts == 1
    assert bad.last_error is not None and "JSONDecodeError" in bad.last_error

    # … and after MAX_ATTEMPTS it is parked: counted, no longer tried.
    for _ in range(MAX_ATTEMPTS):
        await relay(orders_db, OutboxMessage, broker, max_attempts=MAX_ATTEMPTS)
    bad = await _row(orders_db, poisoned_id)
    assert bad.parked_at is not None and bad.attempts == MAX_ATTEMPTS
    assert (await backlog(orders_db, OutboxMessage)).parked >= 1


async def test_parked_rows_are_listed_and_redriven_from_the_cli(
    orders_db: Database,
    broker: dramatiq.Broker,
    capsys: pytest.CaptureFixture[str],
) -> None:
    row_id = await _stage(orders_db, "HSO-poison-redrive")
    await _poison(orders_db, row_id)
    for _ in range(MAX_ATTEMPTS):
        await relay(orders_db, OutboxMessage, broker, max_attempts=MAX_ATTEMPTS)
    assert (await _row(orders_db, row_id)).parked_at is not None

    assert await asyncio.to_thread(main, ["outbox", "list", "orders"]) == 0
    listed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    mine = next(line for line in listed if line["id"] == row_id)
    assert mine["actor"] == CLOSE_UNPAID_ORDER.actor_name and mine["attempts"] == MAX_ATTEMPTS
    assert "JSONDecodeError" in mine["last_error"]

    # The operator fixes the payload, then redrives the row: it goes out on the next relay.
    async with orders_db.write_session() as session:
        await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == row_id)
            .values(payload=json.dumps({"args": ["HSO-poison-redrive"], "kwargs": {}}))
        )
    assert await asyncio.to_thread(main, ["outbox", "redrive", "orders", str(row_id)]) == 0
    assert json.loads(capsys.readouterr().out) == {"domain": "orders", "redriven": 1}
    assert (await _row(orders_db, row_id)).parked_at is None
    await relay(orders_db, OutboxMessage, broker, max_attempts=MAX_ATTEMPTS)
    assert (await _row(orders_db, row_id)).sent_at is not None
    assert await asyncio.to_thread(main, ["outbox", "redrive", "orders", str(row_id)]) == 1


async def test_a_broker_outage_parks_nothing(orders_db: Database) -> None:
    row_id = await _stage(orders_db, "HSO-outage")
    dead = create_broker(f"redis://127.0.0.1:{free_port()}/0")
    try:
        for _ in range(MAX_ATTEMPTS + 1):
            assert await relay(orders_db, OutboxMessage, dead, max_attempts=MAX_ATTEMPTS) == 0
    finally:
        dead.close()
    async with orders_db.session() as session:
        parked = await session.scalar(
            select(OutboxMessage.id).where(
                OutboxMessage.parked_at.is_not(None),
                OutboxMessage.last_error.contains("ConnectionError"),
            )
        )
    assert parked is None  # the rows wait for the broker, however long it is down
    assert (await _row(orders_db, row_id)).parked_at is None


async def test_sent_rows_older_than_the_retention_are_purged(orders_db: Database) -> None:
    old, recent, unsent = [await _stage(orders_db, f"HSO-purge-{n}") for n in range(3)]
    now = utcnow()
    async with orders_db.write_session() as session:
        for row_id, sent_at in ((old, now - timedelta(days=8)), (recent, now - timedelta(days=6))):
            await session.execute(
                update(OutboxMessage).where(OutboxMessage.id == row_id).values(sent_at=sent_at)
            )

    purged = await purge_sent(orders_db, OutboxMessage, older_than_seconds=7 * 24 * 3600)

    assert purged >= 1
    async with orders_db.session() as session:
        assert await session.get(OutboxMessage, old) is None
        assert await session.get(OutboxMessage, recent) is not None
        assert await session.get(OutboxMessage, unsent) is not None


async def test_a_committed_row_kicks_the_relay_and_a_rolled_back_one_does_not(
    orders_db: Database, redis: Redis
) -> None:
    pubsub = redis.pubsub(ignore_subscribe_messages=True)
    await pubsub.subscribe(kick_channel(OutboxMessage))
    install_publisher(lambda: redis)
    try:
        with pytest.raises(RuntimeError):
            async with orders_db.write_session() as session:
                send(session, OutboxMessage, CLOSE_UNPAID_ORDER, "HSO-kick-rolled-back")
                raise RuntimeError("the business change failed")
        await flush()
        assert await pubsub.get_message(timeout=0.2) is None

        await _stage(orders_db, "HSO-kick", delay_seconds=0)
        await flush()
        kick = await pubsub.get_message(timeout=5)
        assert kick is not None and kick["channel"] == kick_channel(OutboxMessage)
    finally:
        install_publisher(None)
        await pubsub.aclose()  # type: ignore[no-untyped-call]


async def test_a_row_keeps_the_trace_that_staged_it(orders_db: Database) -> None:
    request = SpanContext(
        trace_id=0x4BF92F3577B34DA6A3CE929D0E0E4736,
        span_id=0x00F067AA0BA902B7,
        is_remote=False,
        trace_flags=TraceFlags(TraceFlags.SAMPLED),
    )
    with trace.use_span(NonRecordingSpan(request)):
        row_id = await _stage(orders_db, "HSO-traced")
    traceparent = (await _row(orders_db, row_id)).traceparent
    assert traceparent == "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    untraced = await _stage(orders_db, "HSO-untraced")
    assert (await _row(orders_db, untraced)).traceparent is None
