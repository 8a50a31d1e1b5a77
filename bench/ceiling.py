"""Scenario (c): a bare ASGI app under uvicorn answering a constant JSON body — the Python ceiling.

BENCH_BODY_BYTES sets the body size (the bench passes the size of the subgraph's
home-page response), so the comparison carries the same bytes over the wire.
"""

from __future__ import annotations

import os
from typing import Any

_SIZE = int(os.environ.get("BENCH_BODY_BYTES", "64"))
_PREFIX, _SUFFIX = b'{"data":{"pad":"', b'"}}'
BODY = _PREFIX + b"x" * max(_SIZE - len(_PREFIX) - len(_SUFFIX), 0) + _SUFFIX
_HEADERS = [(b"content-type", b"application/json"), (b"content-length", str(len(BODY)).encode())]


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while (message := await receive())["type"] != "lifespan.shutdown":
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    if scope["type"] != "http":
        return
    more = True
    while more:  # read (and drop) the request body, as a real endpoint would
        more = (await receive()).get("more_body", False)
    await send({"type": "http.response.start", "status": 200, "headers": _HEADERS})
    await send({"type": "http.response.body", "body": BODY})
