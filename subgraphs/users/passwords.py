"""Password hashing with argon2id, off the event loop (a hash takes tens of milliseconds).

Each hash holds 64 MiB and a core for its duration, so a process computes at most
PASSWORD_HASH_CONCURRENCY at once; a burst queues on a semaphore (and is cut short
by the login throttles, which count attempts before any hashing) instead of
running hundreds of hashes side by side and freezing the process.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable
from typing import TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from common.settings import get_settings

T = TypeVar("T")

_hasher = PasswordHasher()
# Verified against when the account does not exist, so timing does not reveal which mobiles exist.
_DUMMY_HASH = _hasher.hash("looklook-no-such-account")
# One semaphore per event loop (a semaphore cannot be shared between loops).
_gates: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
    weakref.WeakKeyDictionary()
)


def _gate() -> asyncio.Semaphore:
    loop = asyncio.get_running_loop()
    gate = _gates.get(loop)
    if gate is None:
        gate = _gates[loop] = asyncio.Semaphore(get_settings().password_hash_concurrency)
    return gate


async def _bounded(work: Callable[[], T]) -> T:
    async with _gate():
        return await asyncio.to_thread(work)


async def hash_password(password: str) -> str:
    return await _bounded(lambda: _hasher.hash(password))


def _verify(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


async def verify_password(password_hash: str | None, password: str) -> bool:
    """True only for a real hash that matches; a missing hash costs the same time."""
    return await _bounded(lambda: _verify(password_hash, password))
