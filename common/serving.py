"""`looklook serve <domain>`: one subgraph under uvicorn, with or without mutual TLS.

TLS off: one plain HTTP listener on the subgraph's port (as `make dev` has always run).

TLS on: two listeners in one process, over one app and one set of resources:
- the subgraph's port, HTTPS, requiring a client certificate from the project's CA
  (everything, GraphQL included: the router and peer subgraphs call it here);
- the plain port, HTTP, answering only PLAIN_PATHS: the liveness and readiness
  probes and Prometheus' /metrics (kubelet and Prometheus hold no certificate of
  ours, and they learn nothing a caller could misuse), and on payments WeChat Pay's
  callback, which WeChat calls with no certificate of ours and which proves itself
  by its own signature (checked in subgraphs/payments/notify.py). /graphql is never
  served there: a request for any other path is answered 404.
"""

from __future__ import annotations

import asyncio

import uvicorn
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.importer import import_from_string

from common.settings import Domain, Settings
from common.subgraphs import app_path
from common.tls import uvicorn_ssl_options

PROBE_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
# Callers from outside the project that prove themselves otherwise (signed notifications).
EXTERNAL_CALLBACK_PATHS: dict[Domain, frozenset[str]] = {
    Domain.PAYMENTS: frozenset({"/wechatpay/notify"}),
}


def plain_paths(domain: Domain) -> frozenset[str]:
    return PROBE_PATHS | EXTERNAL_CALLBACK_PATHS.get(domain, frozenset())


class OnlyPaths:
    """Pass HTTP requests for `paths` to `app`; 404 for any other path or a WebSocket."""

    def __init__(self, app: ASGIApp, paths: frozenset[str]) -> None:
        self._app = app
        self._paths = paths
        self._not_found = PlainTextResponse("Not Found", status_code=404)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] in self._paths:
            await self._app(scope, receive, send)
        elif scope["type"] == "http":
            await self._not_found(scope, receive, send)
        elif scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
        # lifespan: the TLS listener runs the app's startup and shutdown, once.


def serve(domain: Domain, settings: Settings, *, workers: int = 1) -> int:
    if not settings.tls_enabled:
        uvicorn.run(
            app_path(domain),
            host=settings.host,
            port=settings.port(domain),
            workers=workers,
            access_log=False,
            log_config=None,
            timeout_keep_alive=settings.keep_alive_seconds,
        )
        return 0
    if workers != 1:
        # Two listeners per process do not fit uvicorn's worker supervisor; replicas
        # (docker-compose scale, Kubernetes Deployments) give the same parallelism.
        raise SystemExit("with TLS_ENABLED, serve one worker per process: scale with replicas")
    asyncio.run(_serve_tls(domain, settings))
    return 0


def tls_servers(domain: Domain, settings: Settings) -> tuple[uvicorn.Server, uvicorn.Server]:
    """The mutual-TLS listener (it runs the app's lifespan) and the plain one, on one app."""
    app = import_from_string(app_path(domain))
    ssl_options = uvicorn_ssl_options(settings.tls_files(domain.value))
    secure = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port(domain),
        access_log=False,
        log_config=None,
        timeout_keep_alive=settings.keep_alive_seconds,
        **ssl_options,
    )
    plain = uvicorn.Config(
        OnlyPaths(app, plain_paths(domain)),
        host=settings.host,
        port=settings.plain_port(domain),
        lifespan="off",
        access_log=False,
        log_config=None,
        timeout_keep_alive=settings.keep_alive_seconds,
    )
    return uvicorn.Server(secure), uvicorn.Server(plain)


async def _serve_tls(domain: Domain, settings: Settings) -> None:
    secure, plain = tls_servers(domain, settings)
    await serve_together(secure, plain)


async def serve_together(first: uvicorn.Server, second: uvicorn.Server) -> None:
    """Start `second` once `first` is up (its lifespan has opened the app's resources,
    so the plain listener's /readyz tells the truth from its first answer); run until
    either stops, then stop the other.

    Each server installs its signal handlers over the previous one's and, when it
    stops, restores them and re-raises the signal: a SIGTERM stops both in turn.
    """
    first_task = asyncio.create_task(first.serve())
    while not first.started and not first_task.done():  # noqa: ASYNC110 - uvicorn has only the flag
        await asyncio.sleep(0.05)
    tasks = [first_task]
    if not first_task.done():
        tasks.append(asyncio.create_task(second.serve()))
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    first.should_exit = second.should_exit = True
    await asyncio.gather(*tasks)
