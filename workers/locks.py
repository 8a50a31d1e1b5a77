"""Redis locks that let several scheduler replicas run each job slot once.

Two kinds: a *slot* lock (`SET NX EX`) keyed by the job and its time slot and
never released, so a slot runs once however many replicas wake for it; and a
*run* lock held only while a job runs, for jobs so frequent (the 1 s outbox
relay) that "not at the same time" is all that matters.
"""

from __future__ import annotations

import time
import uuid

from redis.asyncio import Redis

PREFIX = "looklook:scheduler:lock"

# Delete the key only if it still holds our token (it may have expired and been re-taken).
_RELEASE = """
if redis.call("get", KEYS[1]) == ARGV[1] then return redis.call("del", KEYS[1]) end
return 0
"""


async def claim_slot(redis: Redis, job: str, every_seconds: int, now: float | None = None) -> bool:
    """True for exactly one caller per job per `every_seconds` slot."""
    slot = int((time.time() if now is None else now) // every_seconds)
    claimed = await redis.set(f"{PREFIX}:{job}:{slot}", "1", nx=True, ex=every_seconds * 2)
    return bool(claimed)


async def acquire_run(redis: Redis, job: str, ttl_seconds: int) -> str | None:
    """A token if no one else is running `job`; the TTL frees it if we die mid-run."""
    token = uuid.uuid4().hex
    acquired = await redis.set(f"{PREFIX}:{job}", token, nx=True, ex=ttl_seconds)
    return token if acquired else None


async def release_run(redis: Redis, job: str, token: str) -> None:
    await redis.eval(_RELEASE, 1, f"{PREFIX}:{job}", token)
