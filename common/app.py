"""The ASGI application every subgraph serves: /graphql, health, readiness and metrics."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.types import ASGIApp
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.schema import BaseSchema
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL

from common.context import Context
from common.explorer import router_graphiql_pointer
from common.limits import RequestLimits
from common.logs import configure_logging
from common.metrics import count_statements, metrics_endpoint
from common.resources import ComponentFactory, Resources, TokenVersionsFactory
from common.settings import Domain, Settings, get_settings
from common.signals import install_publisher
from common.telemetry import instrument_asgi, instrument_engine, instrument_redis, setup_tracing

logger = logging.getLogger("looklook.app")


class SubgraphGraphQL(GraphQL[Context, None]):
    """Strawberry's ASGI view with the project's context, and orjson for JSON.

    A browser's GET (outside production) gets a pointer to the router's GraphiQL
    instead of Strawberry's CDN-loaded GraphiQL (see `common.explorer`).
    """

    def __init__(self, schema: BaseSchema, *, subgraph: str, router_port: int, **options: Any):
        super().__init__(schema, **options)
        self.subgraph = subgraph
        self.router_port = router_port

    def decode_json(self, data: str | bytes) -> object:
        # orjson.JSONDecodeError is a json.JSONDecodeError: a bad body is still a 400.
        return orjson.loads(data)

    def encode_json(self, data: object) -> str:
        """Text, not bytes: the view sends bytes to a WebSocket as binary frames, which
        graphql-ws clients do not read."""
        return orjson.dumps(data).decode()

    async def render_graphql_ide(self, request: Request) -> Response:
        return router_graphiql_pointer(
            request, subgraph=self.subgraph, router_port=self.router_port
        )

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> Context:
        resources: Resources = request.app.state.resources
        return Context(request=request, response=response, resources=resources)


def _resources(request: Request) -> Resources:
    resources: Resources = request.app.state.resources
    return resources


async def healthz(_: Request) -> Response:
    """Alive: the process answers. Says nothing about its dependencies."""
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    """Ready: the database and Redis answer within a second each."""
    resources = _resources(request)
    checks: dict[str, str] = {}
    for name, probe in (("database", resources.db.ping), ("redis", resources.redis.ping)):
        try:
            await asyncio.wait_for(probe(), timeout=1.0)
            checks[name] = "ok"
        except Exception as error:
            checks[name] = f"unavailable: {type(error).__name__}"
    ready = all(state == "ok" for state in checks.values())
    return JSONResponse(
        {"status": "ok" if ready else "unavailable", "checks": checks},
        status_code=200 if ready else 503,
    )


def create_subgraph_app(
    domain: Domain,
    schema: BaseSchema,
    *,
    components: ComponentFactory | None = None,
    extra_routes: Sequence[BaseRoute] = (),
    settings: Settings | None = None,
    token_versions: TokenVersionsFactory | None = None,
) -> ASGIApp:
    """Wire a subgraph's schema into a traced, measured ASGI app with its resources."""
    settings = settings or get_settings()
    service = f"looklook-{domain.value}"

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        configure_logging(service, settings)
        setup_tracing(service, settings)
        resources = Resources.open(domain, settings, components, token_versions)
        if settings.tracing_enabled:
            instrument_engine(resources.db.engine)
            instrument_redis()
        count_statements(resources.db.engine, domain.value)
        app.state.resources = resources
        # Committed changes signal their listeners (live status, outbox relay) at once.
        install_publisher(lambda: resources.redis)
        logger.info("%s subgraph ready", domain.value)
        try:
            yield
        finally:
            install_publisher(None)
            await resources.close()

    graphql = SubgraphGraphQL(
        schema,
        subgraph=domain.value,
        router_port=settings.router_port,
        graphql_ide=None if settings.is_production else "graphiql",
        subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL),
        connection_init_wait_timeout=timedelta(seconds=10),
    )
    app = Starlette(
        routes=[
            Route("/graphql", graphql, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", graphql),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/metrics", metrics_endpoint),
            *extra_routes,
        ],
        lifespan=lifespan,
    )
    bounded = RequestLimits(
        app,
        max_body_bytes=settings.request_max_body_bytes,
        max_json_depth=settings.request_max_json_depth,
    )
    # No exporter, no spans: the middleware would create one per request for nothing.
    return instrument_asgi(bounded) if settings.tracing_enabled else bounded
