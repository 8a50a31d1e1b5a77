"""GraphQL subscriptions as a mini-program would open them: over WebSocket
(graphql-transport-ws, the token in `connection_init`) or over SSE.

Each subscription runs in a background task that queues what arrives, so a
test can act (pay) and then wait for the next event with a deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
from gql import Client, GraphQLRequest
from gql.transport.exceptions import TransportQueryError
from gql.transport.websockets import WebsocketsTransport

Event = dict[str, Any]


class SubscriptionError(Exception):
    """The server ended the subscription with GraphQL errors."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__(errors)
        self.errors = errors

    @property
    def codes(self) -> list[str]:
        return [str((e.get("extensions") or {}).get("code")) for e in self.errors]


class LiveSubscription:
    def __init__(self) -> None:
        self._queue: asyncio.Queue[Event | BaseException] = asyncio.Queue()

    def put(self, item: Event | BaseException) -> None:
        self._queue.put_nowait(item)

    async def next(self, within: float = 20.0) -> Event:
        """The next event's `data`; raises the subscription's error if it ended with one."""
        item = await asyncio.wait_for(self._queue.get(), within)
        if isinstance(item, BaseException):
            raise item
        return item

    async def until(self, accept: Callable[[Event], bool], within: float = 20.0) -> Event:
        """Skip events until one is accepted (intermediate states are allowed)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while True:
            event = await self.next(max(deadline - loop.time(), 0.01))
            if accept(event):
                return event


@asynccontextmanager
async def _running(
    produce: Callable[[LiveSubscription], Awaitable[None]],
) -> AsyncIterator[LiveSubscription]:
    live = LiveSubscription()

    async def run() -> None:
        try:
            await produce(live)
        except asyncio.CancelledError:
            raise
        except BaseException as error:  # handed to the test at its next `next()`
            live.put(error)

    task = asyncio.create_task(run())
    try:
        yield live
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def subscribe_ws(
    http_url: str, document: str, variables: dict[str, Any], *, token: str | None
) -> contextlib.AbstractAsyncContextManager[LiveSubscription]:
    """Subscribe over WebSocket; `token=None` subscribes anonymously."""
    transport = WebsocketsTransport(
        url=http_url.replace("http://", "ws://", 1),
        init_payload={"authorization": f"Bearer {token}"} if token else {},
        subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL],
    )

    async def produce(live: LiveSubscription) -> None:
        async with Client(transport=transport, fetch_schema_from_transport=False) as session:
            request = GraphQLRequest(document, variable_values=variables)
            try:
                async for data in session.subscribe(request):
                    live.put(data)
            except TransportQueryError as error:
                live.put(SubscriptionError(list(error.errors or [])))

    return _running(produce)


def subscribe_sse(
    http_url: str,
    document: str,
    variables: dict[str, Any],
    *,
    token: str | None,
    headers: dict[str, str] | None = None,
) -> contextlib.AbstractAsyncContextManager[LiveSubscription]:
    """Subscribe over SSE; `token=None` subscribes anonymously (unless `headers` carry one,
    as the explorer's Headers box does)."""
    extra = dict(headers or {})

    async def produce(live: LiveSubscription) -> None:
        headers = {**extra, "Accept": "text/event-stream"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        body = {"query": document, "variables": variables}
        async with (
            httpx.AsyncClient(timeout=httpx.Timeout(10, read=None)) as http,
            http.stream("POST", http_url, json=body, headers=headers) as response,
        ):
            response.raise_for_status()
            event, data = "", ""
            async for line in response.aiter_lines():
                if line.startswith("event:"):
                    event = line[len("event:") :].strip()
                elif line.startswith("data:"):
                    data += line[len("data:") :].strip()
                elif not line and data:
                    if event in ("", "next"):
                        payload = json.loads(data)
                        if payload.get("errors"):
                            live.put(SubscriptionError(payload["errors"]))
                        else:
                            live.put(payload["data"])
                    event, data = "", ""

    return _running(produce)
