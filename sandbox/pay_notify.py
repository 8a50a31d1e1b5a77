"""Delivering WeChat Pay notifications the way WeChat does: in the background, again and
again until the merchant answers 2xx.

WeChat retries over hours (15 s, 15 s, 30 s, 3 min, …); the sandbox keeps the
shape (backoff, a bounded number of tries) on a short clock so tests and `make
dev` see a lost or refused notification retried within seconds. Every attempt
is recorded, for tests and for a developer wondering where a callback went.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Coroutine
from dataclasses import asdict, dataclass, field
from typing import Any

import httpx

logger = logging.getLogger(__name__)

FIRST_RETRY_SECONDS = 0.5
ATTEMPTS = 8
ATTEMPT_TIMEOUT_SECONDS = 5.0


@dataclass(frozen=True)
class Delivery:
    """One attempt to deliver a notification."""

    event_type: str
    out_trade_no: str | None
    url: str
    attempt: int
    status: int | None  # None: the URL could not be reached
    at: float

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Notifier:
    """Background deliveries with retries; `deliveries` records every attempt in order."""

    first_retry_seconds: float = FIRST_RETRY_SECONDS
    attempts: int = ATTEMPTS
    deliveries: list[Delivery] = field(default_factory=list)
    _tasks: set[asyncio.Task[Any]] = field(default_factory=set)
    # One client for every delivery, as WeChat keeps its connections: building an httpx
    # client (its TLS context) costs tens of milliseconds, more than the delivery itself.
    _http: httpx.AsyncClient | None = None

    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=ATTEMPT_TIMEOUT_SECONDS)
        return self._http

    def spawn(self, work: Coroutine[Any, Any, Any]) -> None:
        """Run `work` in the background, holding a reference so it is not collected."""
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def send(
        self, url: str, headers: dict[str, str], body: bytes, *, out_trade_no: str | None
    ) -> None:
        """Deliver in the background (the caller's answer does not wait for the merchant)."""
        self.spawn(self.deliver(url, headers, body, out_trade_no=out_trade_no))

    async def deliver(
        self, url: str, headers: dict[str, str], body: bytes, *, out_trade_no: str | None
    ) -> bool:
        """POST until a 2xx, backing off (doubling) between tries; False if all failed."""
        event_type = str(json.loads(body).get("event_type", ""))
        wait = self.first_retry_seconds
        http = self._client()
        for attempt in range(1, self.attempts + 1):
            if attempt > 1:
                await asyncio.sleep(wait)
                wait *= 2
            status: int | None
            try:
                status = (await http.post(url, headers=headers, content=body)).status_code
            except httpx.HTTPError:
                status = None
            self.deliveries.append(
                Delivery(event_type, out_trade_no, url, attempt, status, time.time())
            )
            if status is not None and 200 <= status < 300:
                return True
        logger.warning("gave up delivering %s to %s after %d tries", event_type, url, self.attempts)
        return False
