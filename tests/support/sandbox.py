"""Real HTTP peers for the WeChat client tests: the sandbox, and a notification receiver.

The clients under test speak HTTP with real signatures, so they are tested
against real servers: each app runs under uvicorn on a free port in a thread
of the test process (no subprocess to wait for, and the test can look at the
sandbox's state directly, as `WeChatSandbox.state`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Literal

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import ASGIApp

from common.devrunner import free_port
from common.settings import Settings
from sandbox.app import create_app
from sandbox.state import SandboxState

START_SECONDS = 10.0


@contextmanager
def serve(app: ASGIApp, *, lifespan: Literal["on", "off"] = "off") -> Iterator[str]:
    """Serve `app` on 127.0.0.1 until the block ends; yields its base URL.

    `lifespan="on"` runs the app's startup (a subgraph opening its resources).
    """
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", lifespan=lifespan
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"uvicorn:{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + START_SECONDS
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"the test server on port {port} did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(START_SECONDS)


@dataclass(frozen=True)
class WeChatSandbox:
    url: str
    state: SandboxState


@contextmanager
def wechat_sandbox(settings: Settings) -> Iterator[WeChatSandbox]:
    """The WeChat sandbox app (fresh state, keys in settings.pay_keys_dir), served."""
    app = create_app(settings)
    with serve(app) as url:
        yield WeChatSandbox(url=url, state=app.state.sandbox)


@dataclass(frozen=True)
class Received:
    """One notification as the merchant's endpoint received it."""

    headers: dict[str, str]
    body: bytes
    status: int  # what the receiver answered


@dataclass
class NotificationReceiver:
    """A merchant notify endpoint (`{url}/notify`) that records every POST and answers
    500 to the next `failures` of them, to make WeChat retry."""

    url: str = ""
    received: list[Received] = field(default_factory=list)
    failures: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def notify_url(self) -> str:
        return f"{self.url}/notify"

    async def notify(self, request: Request) -> JSONResponse:
        body = await request.body()
        with self._lock:
            status = 500 if self.failures > 0 else 200
            self.failures = max(self.failures - 1, 0)
            self.received.append(Received(dict(request.headers), body, status))
        code = "SUCCESS" if status == 200 else "FAIL"
        return JSONResponse({"code": code, "message": code}, status_code=status)

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/notify", self.notify, methods=["POST"])])


@contextmanager
def notification_receiver() -> Iterator[NotificationReceiver]:
    receiver = NotificationReceiver()
    with serve(receiver.app()) as url:
        receiver.url = url
        yield receiver
