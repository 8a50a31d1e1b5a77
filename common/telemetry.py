"""OpenTelemetry tracing: one provider per process, spans across router → subgraph → DB/Redis.

The provider is always installed, so code may create spans unconditionally; but a
subgraph with no exporter (`OTEL_EXPORTER=none`, the default) does not instrument
its ASGI app, SQL or Redis at all: spans nobody exports would cost every request
(≈ 4 % of a home page's CPU) for nothing. Propagation is the SDK default (W3C
tracecontext + baggage, or whatever OTEL_PROPAGATORS says). Sampling is parent-based:
a sampled caller's trace is continued, and `OTEL_TRACES_SAMPLE_RATIO` (default 1.0)
is the share of new traces recorded — production lowers it to bound the cost.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Sequence

import httpx
from opentelemetry import trace
from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.instrumentation.redis import RedisInstrumentor
from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from opentelemetry.sdk.trace.sampling import ParentBased, Sampler, TraceIdRatioBased
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.types import ASGIApp

from common.settings import Settings

logger = logging.getLogger("looklook.telemetry")

_provider: TracerProvider | None = None

# Probes and scrapes are frequent and say nothing about a request's path: no spans.
# The middleware matches these regexes against scheme://host/path (no query string).
_UNTRACED_PATHS = "/healthz$,/readyz$,/metrics$"

# Every engine handed to instrument_engine, so re-instrumenting keeps the earlier ones.
_traced_engines: weakref.WeakSet[Engine] = weakref.WeakSet()


def _exporter(settings: Settings) -> SpanExporter | None:
    if settings.otel_exporter == "console":
        return ConsoleSpanExporter()
    if settings.otel_exporter == "otlp":
        # Imported here: only processes that export pay for protobuf. With no arguments it
        # reads OTEL_EXPORTER_OTLP_ENDPOINT / OTEL_EXPORTER_OTLP_TRACES_ENDPOINT and headers
        # like every OpenTelemetry SDK (default http://localhost:4318/v1/traces).
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter()
    return None


def trace_sampler(settings: Settings) -> Sampler:
    return ParentBased(TraceIdRatioBased(settings.otel_traces_sample_ratio))


def setup_tracing(
    service_name: str, settings: Settings, extra_processors: Sequence[SpanProcessor] = ()
) -> TracerProvider:
    """Install the process's tracer provider once; later calls return the same one.

    OpenTelemetry lets the global provider be set only once per process, so the
    first caller's service name and exporter win. `extra_processors` are added on
    every call: tests attach an in-memory exporter to whatever provider exists.
    """
    global _provider
    if _provider is None:
        resource = Resource.create(
            {
                "service.name": service_name,
                # The older key is what Jaeger and most dashboards still read.
                "deployment.environment": settings.env,
                "deployment.environment.name": settings.env,
            }
        )
        _provider = TracerProvider(resource=resource, sampler=trace_sampler(settings))
        exporter = _exporter(settings)
        if exporter is not None:
            _provider.add_span_processor(BatchSpanProcessor(exporter))
        trace.set_tracer_provider(_provider)
        if trace.get_tracer_provider() is not _provider:
            logger.warning("another tracer provider was installed first; spans go there")
    for processor in extra_processors:
        _provider.add_span_processor(processor)
    return _provider


def shutdown_tracing() -> None:
    """Flush spans still buffered by the batch processor before the process exits."""
    if _provider is not None:
        _provider.shutdown()


def instrument_asgi(app: ASGIApp) -> ASGIApp:
    """One server span per request or WebSocket, continuing the caller's `traceparent`.

    The per-message `send`/`receive` child spans are left out: they double the span
    count of every request and carry nothing the server span does not.
    """
    return OpenTelemetryMiddleware(
        app, excluded_urls=_UNTRACED_PATHS, exclude_spans=["receive", "send"]
    )


def instrument_engine(engine: AsyncEngine) -> None:
    """A span per SQL statement on `engine` (idempotent per engine).

    The instrumentor is a singleton whose `instrument()` is a silent no-op once it
    has run, so a second engine would go untraced: re-instrument with every engine
    seen so far instead. It needs the sync engine behind an async one, and
    `skip_dep_check` because its declared `sqlalchemy<2.1` range would otherwise
    make it instrument nothing on a newer SQLAlchemy. (Re-instrumenting drops the
    tracing of engines the instrumentor picked up by itself from `create_engine`
    calls made after it ran: pass every engine here.)
    """
    sync_engine = engine.sync_engine
    if sync_engine in _traced_engines:
        return
    _traced_engines.add(sync_engine)
    instrumentor = SQLAlchemyInstrumentor()
    if instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.uninstrument()
    instrumentor.instrument(engines=list(_traced_engines), skip_dep_check=True)


def instrument_redis() -> None:
    """A span per Redis command of every client, sync and asyncio (arguments masked as `?`)."""
    instrumentor = RedisInstrumentor()
    if not instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.instrument()


def instrument_httpx_client(client: httpx.AsyncClient | httpx.Client) -> None:
    """Client spans and an injected `traceparent` for one client's requests.

    Per client, not global: the WeChat clients put the app secret in the query
    string, and a span records the full URL.
    """
    HTTPXClientInstrumentor.instrument_client(client)


def current_trace_id() -> str | None:
    """The 32-hex trace id of the active span, for logs and error reports; None outside one."""
    context = trace.get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else None
