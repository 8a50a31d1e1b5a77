"""Prometheus metrics per GraphQL operation, and the `/metrics` endpoint that serves them."""

from __future__ import annotations

import time
from collections.abc import Iterator

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import Request
from starlette.responses import Response
from strawberry.extensions import SchemaExtension

OPERATIONS = Counter(
    "graphql_operations_total",
    "GraphQL operations handled, by operation name and outcome.",
    ["service", "operation_name", "operation_type", "outcome"],
)
DURATION = Histogram(
    "graphql_operation_duration_seconds",
    "Time to execute a GraphQL operation.",
    ["service", "operation_name", "operation_type"],
    buckets=(0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
DB_STATEMENTS = Counter("db_statements_total", "SQL statements sent to the database.", ["service"])

# Operation names come from clients: cap them so a client cannot blow up label storage.
_MAX_NAME = 64


def graphql_metrics_extension(service: str) -> type[SchemaExtension]:
    """An extension class bound to a service name (the schema takes classes, not instances)."""

    class GraphQLMetrics(SchemaExtension):
        def on_operation(self) -> Iterator[None]:
            started = time.perf_counter()
            yield
            context = self.execution_context
            name = (context.operation_name or "anonymous")[:_MAX_NAME]
            try:
                kind = str(context.operation_type.value)
            except Exception:
                kind = "unknown"
            result = context.result
            outcome = "error" if result is None or getattr(result, "errors", None) else "ok"
            DURATION.labels(service, name, kind).observe(time.perf_counter() - started)
            OPERATIONS.labels(service, name, kind, outcome).inc()

    return GraphQLMetrics


def count_statements(engine: AsyncEngine, service: str) -> None:
    """Count every SQL statement: batching regressions show up as a rising rate."""
    counter = DB_STATEMENTS.labels(service)

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def _count(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        if not statement.startswith("BEGIN"):  # SQLite's explicit BEGIN is not a query
            counter.inc()


async def metrics_endpoint(_: Request) -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
