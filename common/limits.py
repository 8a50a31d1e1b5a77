"""Request bounds every subgraph enforces before doing any work.

Two layers, both cheap and free of recursion, so a hostile request is refused before
it can exhaust memory or Python's recursion limit:

- `RequestLimits`, an ASGI middleware: a body larger than REQUEST_MAX_BODY_BYTES is
  refused with 413 (by its Content-Length, or once a chunked body grows past it); a
  JSON body nested deeper than REQUEST_MAX_JSON_DEPTH is refused with 400 before
  `json.loads` sees it. WebSocket messages get the same bounds (close code 1009).
- `nesting_depth`, used by `common.documents` on GraphQL documents before parsing.

Refusals are GraphQL-shaped (`{"errors": [{"message", "extensions": {"code"}}]}`) so
clients and the router read them like any other error.
"""

from __future__ import annotations

import json
import re
from itertools import accumulate
from typing import Final

from starlette.types import ASGIApp, Message, Receive, Scope, Send

PAYLOAD_TOO_LARGE: Final = "PAYLOAD_TOO_LARGE"
BAD_REQUEST: Final = "BAD_REQUEST"

# JSON strings (escapes included) and GraphQL strings/comments: brackets inside them do
# not nest. Linear: the alternatives of the repeated group never overlap.
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_GRAPHQL_NOISE = re.compile(r'"""(?:[^"\\]|\\.|"(?!""))*"""|"(?:[^"\\\n]|\\.)*"|#[^\n]*')
_JSON_STEPS: Final = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}
_GRAPHQL_STEPS: Final = {**_JSON_STEPS, ord("("): 1, ord(")"): -1}
_NOT_JSON_BRACKETS: Final = bytes(b for b in range(256) if b not in _JSON_STEPS)
_NOT_GRAPHQL_BRACKETS: Final = bytes(b for b in range(256) if b not in _GRAPHQL_STEPS)


def _max_running_depth(brackets: bytes, steps: dict[int, int]) -> int:
    """The deepest point of a run of brackets (C-level loops: bounded by the body size)."""
    return max(accumulate(map(steps.__getitem__, brackets)), default=0)


def json_depth_exceeds(body: bytes, limit: int) -> bool:
    """True if a JSON text nests arrays/objects deeper than `limit` (no recursion, no parse).

    The common case costs two `bytes.count` calls: a body with at most `limit` opening
    brackets cannot nest deeper than that.
    """
    if body.count(b"[") + body.count(b"{") <= limit:
        return False
    brackets = _JSON_STRING.sub(b"", body).translate(None, _NOT_JSON_BRACKETS)
    return _max_running_depth(brackets, _JSON_STEPS) > limit


def nesting_depth(document: str) -> int:
    """How deeply a GraphQL document nests `{`, `[` and `(`, strings and comments aside."""
    stripped = _GRAPHQL_NOISE.sub("", document).encode()
    return _max_running_depth(stripped.translate(None, _NOT_GRAPHQL_BRACKETS), _GRAPHQL_STEPS)


def error_body(message: str, code: str) -> bytes:
    return json.dumps({"errors": [{"message": message, "extensions": {"code": code}}]}).encode()


class RequestLimits:
    """Bound HTTP bodies and WebSocket messages (size, JSON depth) in front of an ASGI app."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int, max_json_depth: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_json_depth = max_json_depth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self._http(scope, receive, send)
        elif scope["type"] == "websocket":
            await self.app(scope, self._bounded_messages(receive, send), send)
        else:
            await self.app(scope, receive, send)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        too_large = (
            f"The request body is larger than {self.max_body_bytes} bytes.",
            413,
            PAYLOAD_TOO_LARGE,
        )
        declared = _content_length(scope)
        if declared is not None and declared > self.max_body_bytes:
            if declared <= self.max_body_bytes * _DRAIN_FACTOR:
                await _drain(receive)
            await _refuse(send, *too_large)
            return
        # Read the whole body first (at most the limit), so nothing downstream ever holds
        # more than that, then replay it to the app.
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk: bytes = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                if message.get("more_body"):
                    await _drain(receive, budget=self.max_body_bytes * _DRAIN_FACTOR - size)
                await _refuse(send, *too_large)
                return
            chunks.append(chunk)
            more = bool(message.get("more_body"))
        body = b"".join(chunks)
        if json_depth_exceeds(body, self.max_json_depth):
            too_deep = f"The request nests deeper than {self.max_json_depth} levels."
            await _refuse(send, too_deep, 400, BAD_REQUEST)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    def _bounded_messages(self, receive: Receive, send: Send) -> Receive:
        async def bounded() -> Message:
            message = await receive()
            if message["type"] != "websocket.receive":
                return message
            data = message.get("bytes") or (message.get("text") or "").encode()
            if len(data) > self.max_body_bytes or json_depth_exceeds(data, self.max_json_depth):
                await send({"type": "websocket.close", "code": 1009})
                return {"type": "websocket.disconnect", "code": 1009}
            return message

        return bounded


# A refused body up to this many times the limit is read (and dropped) before the 413,
# so an ordinary client, still sending, reads the answer instead of a reset connection.
# Nothing is kept; anything larger gets the 413 at once and the connection is closed.
_DRAIN_FACTOR: Final = 8


async def _drain(receive: Receive, budget: int | None = None) -> None:
    while budget is None or budget > 0:
        message = await receive()
        if message["type"] != "http.request":
            return
        if budget is not None:
            budget -= len(message.get("body", b""))
        if not message.get("more_body"):
            return


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _refuse(send: Send, message: str, status: int, code: str) -> None:
    body = error_body(message, code)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
