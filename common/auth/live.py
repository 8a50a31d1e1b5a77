"""Live subscriptions under continuing authentication.

A subscription outlives the moment its token was checked, so this process keeps,
per user, the subscriptions it serves:

- a cap per user (MAX_LIVE_SUBSCRIPTIONS_PER_USER) across every process
  (`common.auth.slots`, in Redis), so one account cannot hold every subscription
  slot; this process's own count holds the cap too, alone when Redis is away;
- a listener on the revocation channel (tokens.REVOCATIONS_CHANNEL): logout wakes
  the user's subscriptions at once, and each re-checks its token and ends with
  UNAUTHENTICATED;
- a periodic re-check (SUBSCRIPTION_AUTH_RECHECK_SECONDS) for what no message
  announces: token expiry, and a revocation published while the listener was
  reconnecting.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from redis.asyncio import Redis

from common.auth.slots import SharedSlots
from common.auth.tokens import REVOCATIONS_CHANNEL
from common.errors import TooManySubscriptions
from common.metrics import LIVE_SUBSCRIPTIONS
from common.redis import create_redis
from common.settings import Settings

logger = logging.getLogger("looklook.auth")
T = TypeVar("T")

# Seconds between reconnection attempts of the revocation listener.
_LISTENER_RETRY_SECONDS = 1.0


class LiveSessions:
    """This process's live subscriptions per user; a component of a subgraph that serves them."""

    def __init__(self, settings: Settings, redis: Redis | None = None) -> None:
        # One connection for the revocation listener, the rest for slots.
        self._redis = redis or create_redis(settings.redis_url, max_connections=4)
        self._per_user = settings.max_live_subscriptions_per_user
        self._slots = SharedSlots(self._redis, self._per_user)
        self.recheck_seconds = settings.subscription_auth_recheck_seconds
        self._revoked: defaultdict[int, set[asyncio.Event]] = defaultdict(set)
        self._listener: asyncio.Task[None] | None = None
        self._listening = asyncio.Event()

    def live_count(self, user_id: int) -> int:
        return len(self._revoked.get(user_id, ()))

    @asynccontextmanager
    async def hold(self, user_id: int) -> AsyncIterator[asyncio.Event]:
        """A slot for one subscription of the user; yields an event set on their logout."""
        if self.live_count(user_id) >= self._per_user:
            raise TooManySubscriptions()
        revoked = asyncio.Event()
        self._revoked[user_id].add(revoked)  # taken before any await: the cap holds
        LIVE_SUBSCRIPTIONS.inc()
        slot: str | None = None
        try:
            slot = await self._slots.take(user_id)  # TooManySubscriptions across processes
            await self._ensure_listener()
            yield revoked
        finally:
            if slot is not None:
                await self._slots.give_back(slot)
            LIVE_SUBSCRIPTIONS.dec()
            events = self._revoked.get(user_id)
            if events is not None:
                events.discard(revoked)
                if not events:
                    del self._revoked[user_id]

    async def _ensure_listener(self) -> None:
        if self._listener is None or self._listener.done():
            self._listener = asyncio.create_task(self._listen(), name="revocation-listener")
        # Subscribed before the subscription's first check: no logout slips between them.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._listening.wait(), timeout=2.0)

    async def _listen(self) -> None:
        while True:
            try:
                async with self._redis.pubsub(ignore_subscribe_messages=True) as pubsub:
                    await pubsub.subscribe(REVOCATIONS_CHANNEL)
                    self._listening.set()
                    # A revocation sent while we were away: every subscription checks again.
                    self._wake_all()
                    async for message in pubsub.listen():
                        self._wake(int(message["data"]))
            except asyncio.CancelledError:
                raise
            except Exception as error:  # Redis went away: subscriptions re-check periodically
                logger.warning("revocation listener lost Redis: %s", error)
            self._listening.clear()
            await asyncio.sleep(_LISTENER_RETRY_SECONDS)

    def _wake(self, user_id: int) -> None:
        for event in self._revoked.get(user_id, ()):
            event.set()

    def _wake_all(self) -> None:
        for events in self._revoked.values():
            for event in events:
                event.set()

    async def aclose(self) -> None:
        await self._slots.aclose()
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
        await self._redis.aclose()


async def while_authenticated(
    source: AsyncIterator[T],
    revoked: asyncio.Event,
    check: Callable[[], Awaitable[object]],
    *,
    every: float,
) -> AsyncIterator[T]:
    """The items of `source` for as long as `check` passes.

    `check` (which raises, e.g. UNAUTHENTICATED) runs when `revoked` is set and
    every `every` seconds; its exception ends the iteration.
    """
    loop = asyncio.get_running_loop()
    next_item: asyncio.Future[T] | None = None
    revocation = asyncio.ensure_future(revoked.wait())
    next_check = loop.time() + every
    try:
        while True:
            if next_item is None:
                next_item = asyncio.ensure_future(anext(source))
            waiting: set[asyncio.Future[Any]] = {next_item, revocation}
            done, _ = await asyncio.wait(
                waiting,
                timeout=max(next_check - loop.time(), 0.0),
                return_when=asyncio.FIRST_COMPLETED,
            )
            if revocation in done or loop.time() >= next_check:
                await check()
                next_check = loop.time() + every
                if revocation in done:
                    revoked.clear()
                    revocation = asyncio.ensure_future(revoked.wait())
            if next_item in done:
                item = next_item.result()  # StopAsyncIteration ends the loop below
                next_item = None
                yield item
    except StopAsyncIteration:
        return
    finally:
        for pending in (next_item, revocation):
            if pending is not None and not pending.done():
                pending.cancel()
