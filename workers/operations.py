"""Operators' commands over what the background jobs gave up on (`looklook dead-letters …`,
`looklook outbox …`): list it as JSON lines, send it again."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Sequence
from typing import TextIO

from common.db import Database
from common.outbox import parked, redrive
from common.settings import Domain, Settings
from common.signals import flush, install_publisher
from workers import deadletters
from workers.outboxes import OUTBOXES


def _broker(settings: Settings):  # type: ignore[no-untyped-def]
    from workers.broker import configure_broker

    return configure_broker(settings)


def list_dead_letters(
    settings: Settings, queues: Sequence[str] = (), *, limit: int = 100, out: TextIO | None = None
) -> int:
    """One JSON line per dead letter of `queues` (default: every queue of ours)."""
    broker = _broker(settings)
    for queue_name in queues or deadletters.QUEUES:
        for letter in deadletters.dead_letters(broker, queue_name, limit=limit):
            print(
                json.dumps(letter.as_json(), default=str, ensure_ascii=False),
                file=out or sys.stdout,
            )
    return 0


def redrive_dead_letters(
    settings: Settings, queue_name: str, ids: Sequence[str] | None, *, out: TextIO | None = None
) -> int:
    """Send a queue's dead letters (`ids`, or all when None) again; 1 if an id was unknown."""
    redriven = deadletters.redrive(_broker(settings), queue_name, ids)
    print(json.dumps({"queue": queue_name, "redriven": redriven}), file=out or sys.stdout)
    return 1 if ids is not None and len(redriven) < len(ids) else 0


async def _with_outbox(
    settings: Settings,
    domain: Domain,
    ids: list[int] | None,
    *,
    list_only: bool,
    out: TextIO | None,
) -> int:
    out = out or sys.stdout
    db = Database(settings.database_url(domain), pool_size=1)
    model = OUTBOXES[domain]
    try:
        if list_only:
            for row in await parked(db, model):
                line = {
                    "domain": domain.value,
                    "id": row.id,
                    "actor": row.actor_name,
                    "queue": row.queue_name,
                    "payload": row.payload,
                    "attempts": row.attempts,
                    "created_at": row.created_at.isoformat(),
                    "parked_at": row.parked_at.isoformat() if row.parked_at else None,
                    "last_error": row.last_error,
                }
                print(json.dumps(line, ensure_ascii=False), file=out)
            return 0
        count = await redrive(db, model, ids)
        await flush()
        print(json.dumps({"domain": domain.value, "redriven": count}), file=out)
        return 1 if ids is not None and count < len(ids) else 0
    finally:
        await db.dispose()


def list_parked(
    settings: Settings, domains: Sequence[Domain] = (), *, out: TextIO | None = None
) -> int:
    """One JSON line per parked outbox row of `domains` (default: every outbox)."""
    for domain in domains or OUTBOXES:
        asyncio.run(_with_outbox(settings, domain, None, list_only=True, out=out))
    return 0


def redrive_parked(
    settings: Settings, domain: Domain, ids: list[int] | None, *, out: TextIO | None = None
) -> int:
    """Give parked rows of a domain's outbox (`ids`, or all) to the relay again."""
    from common.redis import process_redis

    async def run() -> int:
        redis = process_redis(settings)
        install_publisher(lambda: redis)
        try:
            return await _with_outbox(settings, domain, ids, list_only=False, out=out)
        finally:
            install_publisher(None)
            await redis.aclose()

    return asyncio.run(run())


def republish_night_holds(settings: Settings, *, out: TextIO | None = None) -> int:
    """Send travel's availability read model every order's current nights again."""
    from common.redis import process_redis
    from subgraphs.orders.availability import republish_all_order_nights

    async def run() -> int:
        redis = process_redis(settings)
        install_publisher(lambda: redis)
        db = Database(settings.database_url(Domain.ORDERS), pool_size=1)
        try:
            staged = await republish_all_order_nights(db)
            await flush()
        finally:
            await db.dispose()
            install_publisher(None)
            await redis.aclose()
        print(json.dumps({"orders": staged}), file=out or sys.stdout)
        return 0

    return asyncio.run(run())
