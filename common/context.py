"""The Strawberry context every resolver receives."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.types import Info as StrawberryInfo

from common.auth.viewer import Viewer
from common.loaders import LoaderRegistry
from common.resources import Resources


@dataclass
class Context:
    request: Request | WebSocket
    response: Response | WebSocket | None
    resources: Resources
    # Filled by Strawberry from a WebSocket `connection_init` payload.
    connection_params: dict[str, Any] | None = None
    loaders: LoaderRegistry = field(init=False)

    def __post_init__(self) -> None:
        self.loaders = LoaderRegistry(self.resources)

    def _authorization(self) -> str | None:
        header = self.request.headers.get("authorization")
        if header:
            return header
        params = self.connection_params or {}
        value = params.get("authorization") or params.get("Authorization") or params.get("token")
        return str(value) if value else None

    @cached_property
    def _http_viewer(self) -> Viewer:
        return Viewer(self.resources.tokens, self._authorization())

    @property
    def viewer(self) -> Viewer:
        """Who is asking. Over HTTP one viewer per request; over a WebSocket, whose one
        context outlives its token (logout, expiry), every use checks the token again."""
        if isinstance(self.request, WebSocket):
            return Viewer(self.resources.tokens, self._authorization())
        return self._http_viewer

    @property
    def client_address(self) -> str:
        """The caller's address, as the nearest trusted proxy saw it.

        Each proxy appends the address it was called from to X-Forwarded-For, so
        with TRUSTED_PROXY_HOPS proxies in front of us the client is the entry that
        many from the right; anything further left was written by the client and
        would let it pick its own address (and its own rate-limit bucket).
        """
        return client_address(
            self.request.headers.get("x-forwarded-for"),
            self.request.client.host if self.request.client else None,
            trusted_hops=self.resources.settings.trusted_proxy_hops,
        )


def client_address(forwarded_for: str | None, peer: str | None, *, trusted_hops: int) -> str:
    """The client's address from X-Forwarded-For counted from the right, or the socket peer."""
    hops = [hop.strip() for hop in (forwarded_for or "").split(",") if hop.strip()]
    if trusted_hops > 0 and hops:
        return hops[-min(trusted_hops, len(hops))]
    return peer or "unknown"


Info = StrawberryInfo[Context, None]
