"""OpenTelemetry tracing: one provider per process, spans across router → subgraph → DB/Redis.

The provider is always installed, even with no exporter, so trace ids exist for
logs and an incoming `traceparent` continues the router's trace.
"""

from __future__ import annotations

from collections.abc import Sequence

from opentelemetry import trace
from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
from opentelemetry.instrumentation.redis import RedisInstrumentor
from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.types import ASGIApp

from common.settings import Settings

_provider: TracerProvider | None = None
_UNTRACED_PATHS = "/healthz,/readyz,/metrics"


def _exporter(settings: Settings) -> SpanExporter | None:
    if settings.otel_exporter == "console":
        return ConsoleSpanExporter()
    if settings.otel_exporter == "otlp":
        # Reads OTEL_EXPORTER_OTLP_ENDPOINT like every OpenTelemetry SDK.
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
            OTLPSpanExporter,
        )

        return OTLPSpanExporter()
    return None


def setup_tracing(
    service_name: str, settings: Settings, extra_processors: Sequence[SpanProcessor] = ()
) -> TracerProvider:
    """Install the process's tracer provider once; later calls return the same one."""
    global _provider
    if _provider is None:
        resource = Resource.create(
            {"service.name": service_name, "deployment.environment": settings.env}
        )
        _provider = TracerProvider(resource=resource)
        exporter = _exporter(settings)
        if exporter is not None:
            _provider.add_span_processor(BatchSpanProcessor(exporter))
        trace.set_tracer_provider(_provider)
    for processor in extra_processors:
        _provider.add_span_processor(processor)
    return _provider


def shutdown_tracing() -> None:
    """Flush spans still buffered; called on process exit."""
    if _provider is not None:
        _provider.shutdown()


def instrument_asgi(app: ASGIApp) -> ASGIApp:
    """Server spans for every request, continuing the caller's `traceparent`."""
    return OpenTelemetryMiddleware(app, excluded_urls=_UNTRACED_PATHS)


def instrument_engine(engine: AsyncEngine) -> None:
    """A span per SQL statement (the instrumentor needs the sync engine of an async one)."""
    SQLAlchemyInstrumentor().instrument(engine=engine.sync_engine, skip_dep_check=True)


def instrument_redis() -> None:
    instrumentor = RedisInstrumentor()
    if not instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.instrument(skip_dep_check=True)


def current_trace_id() -> str | None:
    context = trace.get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else None
