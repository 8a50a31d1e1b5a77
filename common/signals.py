"""Signals sent once a transaction has committed: "look again" pings over Redis pub/sub.

A process that commits a change others are waiting for (a payment's new status,
an outbox row to relay) says so right after the commit, so they act in
milliseconds instead of at their next poll. A signal is only a hint: it is sent
best effort (never before the commit, dropped if Redis is unreachable or the
process installed no publisher), and every listener keeps its periodic fallback.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from redis.asyncio import Redis
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

logger = logging.getLogger(__name__)

# session.info keys: the (channel, message) pairs of the open transaction; listeners added.
_PENDING = "looklook.signals"
_LISTENING = "looklook.signals.listening"
_publisher: Callable[[], Redis] | None = None
_in_flight: set[asyncio.Task[None]] = set()


def install_publisher(redis: Callable[[], Redis] | None) -> None:
    """Send this process's signals through the client `redis()` returns (None: drop them)."""
    global _publisher
    _publisher = redis


def after_commit(session: AsyncSession, channel: str, message: str = "changed") -> None:
    """Publish `message` on `channel` once the session's transaction commits (not on rollback)."""
    sync_session = session.sync_session
    if not sync_session.info.get(_LISTENING):
        sync_session.info[_LISTENING] = True
        event.listen(sync_session, "after_commit", _on_commit)
        event.listen(sync_session, "after_rollback", _on_rollback)
    pending: list[tuple[str, str]] = sync_session.info.setdefault(_PENDING, [])
    if (channel, message) not in pending:
        pending.append((channel, message))


def _on_commit(sync_session: Session) -> None:
    signals: list[tuple[str, str]] = sync_session.info.pop(_PENDING, [])
    if not signals or _publisher is None:
        return
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:  # committed outside an event loop: nobody to publish for us
        return
    task = loop.create_task(_publish(_publisher(), signals))
    _in_flight.add(task)
    task.add_done_callback(_in_flight.discard)


def _on_rollback(sync_session: Session) -> None:
    sync_session.info.pop(_PENDING, None)


async def _publish(redis: Redis, signals: list[tuple[str, str]]) -> None:
    try:
        for channel, message in signals:
            await redis.publish(channel, message)
    except Exception as error:  # a hint only: never let it fail anything
        logger.warning("could not signal %s (the periodic path covers it): %s", signals, error)


async def flush() -> None:
    """Wait for signals still being published (tests, and processes about to exit)."""
    if _in_flight:
        await asyncio.gather(*list(_in_flight), return_exceptions=True)
