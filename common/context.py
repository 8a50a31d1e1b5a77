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
    def viewer(self) -> Viewer:
        return Viewer(self.resources.tokens, self._authorization())

    @property
    def client_address(self) -> str:
        """The caller's address: first hop of X-Forwarded-For (set by the router) or the peer."""
        forwarded = self.request.headers.get("x-forwarded-for")
        if forwarded and self.resources.settings.trust_forwarded_for:
            return forwarded.split(",")[0].strip()
        client = self.request.client
        return client.host if client else "unknown"


Info = StrawberryInfo[Context, None]
