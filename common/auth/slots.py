"""Per-user subscription slots shared by every process, in Redis.

Why: MAX_LIVE_SUBSCRIPTIONS_PER_USER limits an account, not a process: with several
payments replicas, a count kept in each process would let one account hold the cap
on every replica. Each held slot is a member of the user's sorted set, scored by
when its lease ends. The process holding slots renews their leases, so the slots of
a process that died free themselves within one lease. Taking a slot is one script:
drop expired leases, count, add; two processes racing for the last slot cannot both
get it.

When Redis cannot be reached, the slot is not recorded and the process's own count
decides (`LiveSessions`): a Redis outage must not end anyone's payment status.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from typing import Final

from redis.asyncio import Redis
from redis.exceptions import RedisError

from common.errors import TooManySubscriptions

logger = logging.getLogger("looklook.auth")

LEASE_SECONDS: Final = 60.0

# KEYS[1]: the user's slots; ARGV: now, lease end, slot id, cap, key TTL (s).
_TAKE: Final = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[4]) then
  return 0
end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
redis.call('EXPIRE', KEYS[1], ARGV[5])
return 1
"""


def _key(user_id: int) -> str:
    return f"live:slots:{user_id}"


class SharedSlots:
    """The slots this process holds in Redis, and the task renewing their leases."""

    def __init__(self, redis: Redis, per_user: int, *, lease_seconds: float = LEASE_SECONDS):
        self._redis = redis
        self._per_user = per_user
        self._lease = lease_seconds
        self._take = redis.register_script(_TAKE)
        self._held: dict[str, int] = {}  # slot id → user id
        self._renewer: asyncio.Task[None] | None = None

    @property
    def _key_ttl(self) -> int:
        return int(self._lease * 2) + 1

    async def take(self, user_id: int) -> str | None:
        """A slot for one subscription of the user, across every process.

        TooManySubscriptions when the user holds the cap already; None when Redis
        cannot be reached (nothing recorded: the caller's own count decides).
        """
        slot = secrets.token_hex(8)
        now = time.time()
        try:
            taken = await self._take(
                keys=[_key(user_id)],
                args=[now, now + self._lease, slot, self._per_user, self._key_ttl],
            )
        except RedisError as error:
            logger.warning("subscription slots: Redis unavailable, counting per process: %s", error)
            return None
        if not taken:
            raise TooManySubscriptions()
        self._held[slot] = user_id
        if self._renewer is None or self._renewer.done():
            self._renewer = asyncio.create_task(self._renew(), name="subscription-slot-leases")
        return slot

    async def give_back(self, slot: str) -> None:
        user_id = self._held.pop(slot, None)
        if user_id is None:
            return
        try:
            await self._redis.zrem(_key(user_id), slot)
        except RedisError as error:  # its lease ends it
            logger.warning("subscription slots: cannot give back %s now: %s", slot, error)

    async def _renew(self) -> None:
        """Every third of a lease, push the lease end of every slot held here."""
        while self._held:
            await asyncio.sleep(self._lease / 3)
            expires = time.time() + self._lease
            try:
                async with self._redis.pipeline(transaction=False) as pipe:
                    for slot, user_id in list(self._held.items()):
                        pipe.zadd(_key(user_id), {slot: expires}, xx=True)
                        pipe.expire(_key(user_id), self._key_ttl)
                    await pipe.execute()
            except RedisError as error:
                logger.warning("subscription slots: cannot renew leases now: %s", error)

    async def aclose(self) -> None:
        if self._renewer is not None:
            self._renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._renewer
