"""Live payment status: a Redis pub/sub channel per order that wakes its subscribers.

Messages only say "look again"; subscribers re-read the payment from the
database. A lost or duplicated wake-up therefore never shows a wrong status,
and the channel needs no ordering guarantees.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from redis.asyncio import Redis

from common.redis import create_redis
from common.settings import Settings

_CHANNEL = "looklook:payments:status:{order_sn}"
# How long one wait for a message blocks; short enough to notice a closed subscription.
POLL_SECONDS = 1.0


def channel(order_sn: str) -> str:
    return _CHANNEL.format(order_sn=order_sn)


async def wake(redis: Redis, order_sn: str) -> int:
    """Wake the order's subscribers; returns how many were listening."""
    listeners: int = await redis.publish(channel(order_sn), "changed")
    return listeners


class StatusChannels:
    """The payments subgraph's pub/sub connections, one per live subscription.

    A subscriber holds its connection for as long as it listens, so these come
    from a pool of their own: open payment pages never take the connections
    that token checks and caches need.
    """

    def __init__(self, settings: Settings) -> None:
        self._redis = create_redis(
            settings.redis_url, max_connections=settings.max_live_subscriptions
        )

    def wake_ups(self, order_sn: str) -> AbstractAsyncContextManager[AsyncIterator[None]]:
        return wake_ups(self._redis, order_sn)

    async def aclose(self) -> None:
        await self._redis.aclose()


@asynccontextmanager
async def wake_ups(redis: Redis, order_sn: str) -> AsyncIterator[AsyncIterator[None]]:
    """Subscribe first, then read: a change between the two is not missed.

    Yields an endless iterator that produces one item per wake-up.
    """
    pubsub = redis.pubsub(ignore_subscribe_messages=True)
    await pubsub.subscribe(channel(order_sn))

    async def ticks() -> AsyncIterator[None]:
        while True:
            if await pubsub.get_message(timeout=POLL_SECONDS) is not None:
                yield None

    try:
        yield ticks()
    finally:
        await pubsub.aclose()  # type: ignore[no-untyped-call]
