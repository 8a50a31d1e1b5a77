"""A burst of logins queues for the password hasher instead of running every hash at once."""

from __future__ import annotations

import asyncio
import threading

import pytest
from argon2 import PasswordHasher

from common.settings import get_settings
from subgraphs.users import passwords


class CountingHasher:
    """The real argon2 hasher, counting how many verifications run at the same moment."""

    def __init__(self, hasher: PasswordHasher) -> None:
        self._hasher = hasher
        self._lock = threading.Lock()
        self.running = 0
        self.most = 0

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, password_hash: str, password: str) -> bool:
        with self._lock:
            self.running += 1
            self.most = max(self.most, self.running)
        try:
            return self._hasher.verify(password_hash, password)
        finally:
            with self._lock:
                self.running -= 1


async def test_concurrent_hashes_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    counting = CountingHasher(passwords._hasher)
    monkeypatch.setattr(passwords, "_hasher", counting)
    stored = await passwords.hash_password("correct-horse-battery")
    results = await asyncio.gather(
        *(passwords.verify_password(stored, f"guess-{n}") for n in range(12))
    )
    assert not any(results)
    assert counting.most == get_settings().password_hash_concurrency
