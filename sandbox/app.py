"""The WeChat sandbox: a stand-in for WeChat's servers, for development and tests only.

Each WeChat area (mini-program login, Pay v3, subscribe messages) is one
module exposing `routes`; adding an area means writing that module and
listing it in `AREAS`. Shared memory lives in `sandbox.state.SandboxState`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from common.settings import Settings, get_settings
from sandbox import messages, miniprogram, pay
from sandbox.state import SandboxState


class Area(Protocol):
    """What a sandbox area module provides: its routes (a module satisfies this)."""

    @property
    def routes(self) -> Sequence[BaseRoute]: ...


# The WeChat areas the sandbox plays, in the order their routes are matched.
AREAS: tuple[Area, ...] = (miniprogram, pay, messages)


async def healthz(_: Request) -> JSONResponse:
    """Liveness, polled by the dev runner and the test stack before they go on."""
    return JSONResponse({"status": "ok"})


def create_app(settings: Settings | None = None) -> Starlette:
    """A sandbox app with fresh state, answering for the appid and secret in `settings`.

    It refuses production settings: the sandbox hands out codes and keys to
    anyone who asks, so it must never stand where real WeChat is expected.
    """
    settings = settings or get_settings()
    if settings.is_production:
        raise RuntimeError("the WeChat sandbox is for development and tests, not production")
    routes: list[BaseRoute] = [Route("/healthz", healthz, methods=["GET"])]
    for area in AREAS:
        routes.extend(area.routes)
    app = Starlette(routes=routes)
    app.state.sandbox = SandboxState(settings)
    return app
