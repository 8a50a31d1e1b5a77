"""Prometheus metrics per GraphQL operation, and the `/metrics` endpoint that serves them.

Everything lives in prometheus_client's default registry, next to its process and
platform collectors (CPU, memory, file descriptors, GC), so one scrape of
`/metrics` shows a subgraph's traffic and its health.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from time import perf_counter
from typing import ClassVar

from prometheus_client import REGISTRY, Counter, Gauge, Histogram, disable_created_metrics
from prometheus_client.exposition import choose_encoder
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import Request
from starlette.responses import Response
from strawberry.extensions import SchemaExtension
from strawberry.types import ExecutionContext

# `*_created` series would double the series count per operation name for a value
# PromQL rarely needs (rate() copes with restarts without it).
disable_created_metrics()  # type: ignore[no-untyped-call]  # untyped in prometheus_client

OPERATIONS = Counter(
    "graphql_operations_total",
    "GraphQL operations handled, by operation and outcome (error: any error in the result).",
    ["service", "operation_name", "operation_type", "outcome"],
)
DURATION = Histogram(
    "graphql_operation_duration_seconds",
    "Time from receiving a GraphQL operation to its result: parse, validate, execute.",
    ["service", "operation_name", "operation_type"],
    buckets=(0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
DB_STATEMENTS = Counter("db_statements_total", "SQL statements sent to the database.", ["service"])

# Operation names come from clients: only known ones become labels (the list is shared
# with the router), so one client cannot create a series per name it makes up.
OPERATION_NAMES_FILE = Path(__file__).with_name("operation_names.txt")
OTHER_OPERATION = "other"


@lru_cache(maxsize=1)
def known_operation_names() -> frozenset[str]:
    lines = OPERATION_NAMES_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip() for line in lines if line.strip() and not line.startswith("#"))


def operation_label(name: str | None) -> str:
    """The label of an operation name: itself if known, else `other` (`anonymous` if none)."""
    if not name:
        return "anonymous"
    return name if name in known_operation_names() else OTHER_OPERATION


LIVE_SUBSCRIPTIONS = Gauge(
    "looklook_live_subscriptions",
    "Subscriptions this process is serving now (payments: paymentStatus).",
)

# Money consistency (payments; the scheduler's consistency job and refund answers).
REFUND_FAILURES = Counter(
    "looklook_refund_failures_total",
    "Refund answers from WeChat saying the money is stuck, by status (CLOSED, ABNORMAL).",
    ["status"],
)
PAYMENT_REPAIRS = Counter(
    "looklook_payment_repairs_total",
    "What the consistency job repaired, by action (order_paid, refund, rival_closed, "
    "refund_started, order_refunded).",
    ["action"],
)
PAYMENTS_UNCONVERGED = Gauge(
    "looklook_payments_unconverged",
    "Successful payments the last consistency run could not match with their order.",
)
REFUNDS_STUCK = Gauge(
    "looklook_refunds_stuck",
    "Refunds WeChat reported CLOSED or ABNORMAL, still waiting for an operator.",
)


def _operation_labels(context: ExecutionContext) -> tuple[str, str]:
    """(operation_name, operation_type) of the operation, for labels."""
    name = operation_label(context.operation_name)
    try:
        kind: str = context.operation_type.value
    except RuntimeError:  # unparseable, or operationName names no operation in the document
        kind = "unknown"
    return name, kind


def _has_errors(context: ExecutionContext) -> bool:
    # result is set for every outcome Strawberry answers itself (parse, validation and
    # execution errors); when only pre-execution errors exist it may still be None.
    if context.result is not None:
        return bool(context.result.errors)
    return bool(context.pre_execution_errors)


class GraphQLMetrics(SchemaExtension):
    """Count and time every operation, labelled by service, operation name and type.

    Strawberry instantiates the extension per operation, so the service label is a
    class attribute: take a subclass from `graphql_metrics_extension(service)`.
    On the hot path: one perf_counter pair and two metric updates.
    """

    service: ClassVar[str] = "unknown"

    def on_operation(self) -> Iterator[None]:
        started = perf_counter()
        failed = False
        try:
            yield
        except Exception:
            failed = True
            raise
        finally:
            # Recorded even when the operation raised (e.g. operationName matching no
            # operation); a subscription is measured from subscribe to its end.
            elapsed = perf_counter() - started
            context = self.execution_context
            name, kind = _operation_labels(context)
            outcome = "error" if failed or _has_errors(context) else "ok"
            DURATION.labels(self.service, name, kind).observe(elapsed)
            OPERATIONS.labels(self.service, name, kind, outcome).inc()


def graphql_metrics_extension(service: str) -> type[GraphQLMetrics]:
    """The metrics extension bound to `service` (schemas take classes, not instances)."""

    class BoundGraphQLMetrics(GraphQLMetrics):
        pass

    BoundGraphQLMetrics.service = service
    return BoundGraphQLMetrics


_counted_engines: weakref.WeakSet[Engine] = weakref.WeakSet()


def count_statements(engine: AsyncEngine, service: str) -> None:
    """Count every SQL statement (idempotent per engine): N+1 regressions show as a rising rate."""
    if engine.sync_engine in _counted_engines:
        return
    _counted_engines.add(engine.sync_engine)
    counter = DB_STATEMENTS.labels(service)

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def _count(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        if not statement.startswith("BEGIN"):  # SQLite's explicit BEGIN is not a query
            counter.inc()


async def metrics_endpoint(request: Request) -> Response:
    """The default registry in the format the scraper asks for (Prometheus text or OpenMetrics)."""
    encoder, content_type = choose_encoder(request.headers.get("accept", ""))
    return Response(encoder(REGISTRY), media_type=content_type)
