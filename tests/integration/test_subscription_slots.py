"""MAX_LIVE_SUBSCRIPTIONS_PER_USER holds across processes (common.auth.slots): two
payments processes sharing one Redis give a user the cap once, not once each; a dead
process's slots come back after one lease; without Redis each process still caps."""

from __future__ import annotations

import asyncio
import secrets
from contextlib import AsyncExitStack

import pytest

from common.auth.live import LiveSessions
from common.auth.slots import SharedSlots
from common.errors import TooManySubscriptions
from common.redis import create_redis
from common.settings import Settings

CAP = 2


def _user() -> int:
    return secrets.randbelow(10**9) + 10**9  # slots of earlier runs never collide


def _sessions(settings: Settings, **update: object) -> LiveSessions:
    return LiveSessions(
        settings.model_copy(update={"max_live_subscriptions_per_user": CAP, **update})
    )


async def test_two_processes_share_one_cap(settings: Settings) -> None:
    first, second = _sessions(settings), _sessions(settings)
    user = _user()
    try:
        async with AsyncExitStack() as held:
            await held.enter_async_context(first.hold(user))
            async with second.hold(user):
                for process in (first, second):
                    with pytest.raises(TooManySubscriptions):
                        async with process.hold(user):
                            pass
                async with second.hold(_user()):  # another user is not affected
                    pass
            # The second process gave its slot back: the first may take it.
            async with first.hold(user):
                pass
    finally:
        await first.aclose()
        await second.aclose()


async def test_a_dead_process_slots_free_themselves_after_one_lease(settings: Settings) -> None:
    redis = create_redis(settings.redis_url)
    user = _user()
    dead = SharedSlots(redis, CAP, lease_seconds=1.0)
    alive = SharedSlots(redis, CAP, lease_seconds=1.0)
    other = SharedSlots(redis, CAP, lease_seconds=1.0)
    try:
        assert await alive.take(user)
        assert await dead.take(user)
        await dead.aclose()  # the process dies: it neither renews nor gives back
        with pytest.raises(TooManySubscriptions):
            await other.take(user)
        await asyncio.sleep(1.5)  # past the dead slot's lease; the live one was renewed
        slot = await other.take(user)
        assert slot
        with pytest.raises(TooManySubscriptions):
            await other.take(user)
        await other.give_back(slot)
    finally:
        for slots in (alive, other):
            await slots.aclose()
        await redis.aclose()


async def test_without_redis_each_process_still_caps(settings: Settings) -> None:
    unreachable = _sessions(settings, redis_url="redis://127.0.0.1:9/0")
    user = _user()
    try:
        async with unreachable.hold(user), unreachable.hold(user):
            with pytest.raises(TooManySubscriptions):
                async with unreachable.hold(user):
                    pass
    finally:
        await unreachable.aclose()
