"""Orders actors: jobs the orders domain sends through its outbox.

Each actor is a thin wrapper over a service function whose conditional update
makes it idempotent, because the outbox delivers at least once and Dramatiq
retries on failure.
"""

from __future__ import annotations

import logging

import dramatiq
from opentelemetry import trace

from common.db import Database
from common.settings import Domain, get_settings
from subgraphs.orders.service import CLOSE_ACTOR, ORDERS_QUEUE, close_if_unpaid
from workers.broker import configure_broker

logger = logging.getLogger(__name__)
tracer = trace.get_tracer(__name__)

# One engine per worker process, made on first use: Dramatiq runs every async actor
# of a process on one event loop, which the engine's connection pool is bound to.
_db: Database | None = None


def orders_db() -> Database:
    global _db
    if _db is None:
        settings = get_settings()
        _db = Database(settings.database_url(Domain.ORDERS), pool_size=4)
    return _db


async def dispose_orders_db() -> None:
    global _db
    if _db is not None:
        await _db.dispose()
        _db = None


async def close_unpaid(sn: str) -> bool:
    """Cancel the order if it is still unpaid past its deadline; a no-op on any rerun.

    Kept apart from the actor so it can be called directly (tests, a manual fix-up).
    """
    with tracer.start_as_current_span(CLOSE_ACTOR, attributes={"order.sn": sn}):
        closed = await close_if_unpaid(orders_db(), sn)
    logger.info("close_unpaid_order %s: %s", sn, "cancelled" if closed else "nothing to do")
    return closed


@dramatiq.actor(actor_name=CLOSE_ACTOR, queue_name=ORDERS_QUEUE, broker=configure_broker())
async def close_unpaid_order(sn: str) -> None:
    """Sent by `create_order` through the outbox, due ORDER_PAY_TIMEOUT seconds later."""
    await close_unpaid(sn)
