"""Fixed-window counters in Redis, shared by every replica of a subgraph."""

from __future__ import annotations

from dataclasses import dataclass

from redis.asyncio import Redis

from common.errors import TooManyRequests


@dataclass(frozen=True)
class Limit:
    """At most `attempts` per `window_seconds` for one key."""

    name: str
    attempts: int
    window_seconds: int

    def key(self, subject: str) -> str:
        return f"ratelimit:{self.name}:{subject}"


async def check(redis: Redis, limit: Limit, subject: str) -> None:
    """Refuse with TOO_MANY_REQUESTS when `subject` has used up its window."""
    key = limit.key(subject)
    used = await redis.get(key)
    if used is not None and int(used) >= limit.attempts:
        raise TooManyRequests(retry_after=max(await redis.ttl(key), 1))


async def count(redis: Redis, limit: Limit, subject: str) -> int:
    """Count one attempt; the window starts at the first attempt (SET NX keeps Redis 6 support)."""
    key = limit.key(subject)
    async with redis.pipeline(transaction=True) as pipe:
        pipe.set(key, 0, ex=limit.window_seconds, nx=True)
        pipe.incr(key)
        _, used = await pipe.execute()
    return int(used)


async def hit(redis: Redis, limit: Limit, subject: str) -> None:
    """Count an attempt and refuse it when it goes over the limit."""
    if await count(redis, limit, subject) > limit.attempts:
        raise TooManyRequests(retry_after=max(await redis.ttl(limit.key(subject)), 1))


async def reset(redis: Redis, limit: Limit, subject: str) -> None:
    await redis.delete(limit.key(subject))
