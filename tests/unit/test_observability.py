"""Observability: metrics per operation, trace ids in logs, and spans from every instrumentation.

Each instrumentation is checked by the spans it actually produces (an in-memory
exporter on the process's provider): several of them do nothing, silently, when
misconfigured.
"""

from __future__ import annotations

import io
import json
import logging
import os
import re
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import httpx
import pytest
import strawberry
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from prometheus_client import REGISTRY
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from strawberry.schema.exceptions import CannotGetOperationTypeError

from common.logs import configure_logging, render_human
from common.metrics import (
    OTHER_OPERATION,
    graphql_metrics_extension,
    known_operation_names,
    metrics_endpoint,
)
from common.settings import Domain, Settings
from common.telemetry import (
    current_trace_id,
    instrument_asgi,
    instrument_engine,
    instrument_httpx_client,
    instrument_redis,
    setup_tracing,
)
from tests.support.backends import RedisServer
from workers import resources as worker_resources

SERVICE = "observability-test"
UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")
SETTINGS = Settings(log_format="json", log_level="INFO", otel_exporter="none")


# --- metrics -----------------------------------------------------------------------------


@strawberry.type
class Query:
    @strawberry.field
    def ping(self) -> str:
        return "pong"

    @strawberry.field
    def boom(self) -> str:
        raise ValueError("resolver failed")


schema = strawberry.Schema(query=Query, extensions=[graphql_metrics_extension(SERVICE)])


def _count(name: str, kind: str, outcome: str) -> float:
    labels = {"service": SERVICE, "operation_name": name, "operation_type": kind,
              "outcome": outcome}  # fmt: skip
    return REGISTRY.get_sample_value("graphql_operations_total", labels) or 0.0


def _observations(name: str, kind: str) -> float:
    labels = {"service": SERVICE, "operation_name": name, "operation_type": kind}
    return REGISTRY.get_sample_value("graphql_operation_duration_seconds_count", labels) or 0.0


@pytest.mark.parametrize(
    ("document", "name", "kind", "outcome"),
    [
        ("query Home { ping }", "Home", "query", "ok"),
        ("query Probe { ping }", OTHER_OPERATION, "query", "ok"),
        ("{ ping }", "anonymous", "query", "ok"),
        ("query Me { ping nope }", "Me", "query", "error"),
        ("query Exploding { boom }", OTHER_OPERATION, "query", "error"),
        ("query Broken { ping", "anonymous", "unknown", "error"),
    ],
)
async def test_operations_are_counted_and_timed(
    document: str, name: str, kind: str, outcome: str
) -> None:
    counted, timed = _count(name, kind, outcome), _observations(name, kind)
    result = await schema.execute(document)
    assert bool(result.errors) == (outcome == "error")
    assert _count(name, kind, outcome) == counted + 1
    assert _observations(name, kind) == timed + 1


async def test_operations_that_raise_are_counted() -> None:
    before = _count("Home", "unknown", "error")
    with pytest.raises(CannotGetOperationTypeError):  # the HTTP view turns it into a 400
        await schema.execute("query Probe { ping }", operation_name="Home")
    assert _count("Home", "unknown", "error") == before + 1


def _series(name: str) -> int:
    return sum(len(metric.samples) for metric in REGISTRY.collect() if metric.name == name)


async def test_client_chosen_operation_names_do_not_create_series() -> None:
    """2,000 made-up names add no series: they all count as `other`."""
    await schema.execute("query Made0 { ping }")  # the `other` series exists from here on
    series, before = _series("graphql_operations"), _count(OTHER_OPERATION, "query", "ok")
    for number in range(2000):
        await schema.execute(f"query Made{number} {{ ping }}")
    assert _series("graphql_operations") == series
    assert _count(OTHER_OPERATION, "query", "ok") == before + 2000
    assert "Home" in known_operation_names() and "Made1" not in known_operation_names()


async def test_metrics_endpoint_serves_the_default_registry() -> None:
    await schema.execute("query Me { ping }")
    app = Starlette(routes=[Route("/metrics", metrics_endpoint)])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://subgraph") as client:
        response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    assert 'operation_name="Me"' in response.text
    assert "graphql_operation_duration_seconds_bucket" in response.text
    assert "process_cpu_seconds_total" in response.text or "python_info" in response.text


# --- logs --------------------------------------------------------------------------------


@pytest.fixture
def logs() -> Iterator[Callable[[Settings], io.StringIO]]:
    """Configure logging, capture the handler's output, and restore the loggers after."""
    root = logging.getLogger()
    saved_level, saved_handlers = root.level, list(root.handlers)
    uvicorn = {name: logging.getLogger(name) for name in UVICORN_LOGGERS}
    saved_uvicorn = {n: (lg.handlers[:], lg.level, lg.propagate) for n, lg in uvicorn.items()}
    # What uvicorn's own LOGGING_CONFIG leaves behind: a handler, no propagation.
    uvicorn["uvicorn.access"].addHandler(logging.StreamHandler(io.StringIO()))
    uvicorn["uvicorn.access"].propagate = False
    setup_tracing(SERVICE, SETTINGS)  # spans have valid ids even when run alone

    def configure(settings: Settings) -> io.StringIO:
        configure_logging(SERVICE, settings)
        configure_logging(SERVICE, settings)  # idempotent: still one handler
        ours = [h for h in root.handlers if h.get_name() == "looklook"]
        assert len(ours) == 1 and isinstance(ours[0], logging.StreamHandler)
        stream = io.StringIO()
        ours[0].setStream(stream)
        return stream

    yield configure
    for handler in root.handlers[:]:
        if handler not in saved_handlers:
            root.removeHandler(handler)
    root.setLevel(saved_level)
    for name, (handlers, level, propagate) in saved_uvicorn.items():
        uvicorn[name].handlers[:] = handlers
        uvicorn[name].setLevel(level)
        uvicorn[name].propagate = propagate


@pytest.fixture
def log_stream(logs: Callable[[Settings], io.StringIO]) -> io.StringIO:
    return logs(SETTINGS)


def _lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_json_logs_carry_the_current_span(log_stream: io.StringIO) -> None:
    with trace.get_tracer("test").start_as_current_span("work") as span:
        logging.getLogger("looklook.test").info("booked %s", "民宿 HSO1")
    [record] = _lines(log_stream)
    context = span.get_span_context()
    assert record["trace_id"] == format(context.trace_id, "032x")
    assert record["span_id"] == format(context.span_id, "016x")
    assert record["message"] == "booked 民宿 HSO1"
    assert record["service"] == SERVICE and record["level"] == "INFO"
    assert record["logger"] == "looklook.test"
    assert isinstance(record["time"], str) and record["time"].endswith("+00:00")


def test_logs_outside_a_span_have_no_trace_id(log_stream: io.StringIO) -> None:
    logging.getLogger("looklook.test").warning("idle")
    [record] = _lines(log_stream)
    assert record["trace_id"] is None and record["span_id"] is None


def test_errors_carry_the_traceback(log_stream: io.StringIO) -> None:
    try:
        raise RuntimeError("payment gateway down")
    except RuntimeError:
        logging.getLogger("looklook.test").exception("notify failed")
    [record] = _lines(log_stream)
    assert record["level"] == "ERROR"
    assert "RuntimeError: payment gateway down" in str(record["exc_info"])


def test_uvicorn_logs_go_through_the_same_handler_once(log_stream: io.StringIO) -> None:
    access = logging.getLogger("uvicorn.access")
    assert access.handlers == [] and access.propagate
    access.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "POST", "/graphql", "1.1", 200)
    [record] = _lines(log_stream)
    assert record["logger"] == "uvicorn.access" and record["service"] == SERVICE


def test_uvicorn_access_log_switched_off_stays_off(
    logs: Callable[[Settings], io.StringIO],
) -> None:
    access = logging.getLogger("uvicorn.access")
    access.handlers.clear()
    access.propagate = False  # what uvicorn's access_log=False leaves behind
    logs(SETTINGS)
    assert not access.hasHandlers()  # uvicorn checks exactly this per connection


def test_text_format_is_readable(logs: Callable[[Settings], io.StringIO]) -> None:
    stream = logs(Settings(log_format="text", log_level="INFO"))
    logger = logging.getLogger("looklook.test")
    logger.info("idle")
    with trace.get_tracer("test").start_as_current_span("work"):
        logger.info("busy")
        trace_id = current_trace_id()
    idle, busy = stream.getvalue().splitlines()
    assert idle.endswith(f"INFO    {SERVICE} looklook.test [-] idle")
    assert busy.endswith(f"[{trace_id}] busy")
    assert idle[10] == "T" and idle[23] == "Z"  # 2026-11-02T08:15:30.123Z


# --- traces ------------------------------------------------------------------------------

INCOMING_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
INCOMING_PARENT = "00f067aa0ba902b7"
TRACEPARENT = f"00-{INCOMING_TRACE}-{INCOMING_PARENT}-01"


@pytest.fixture(scope="module")
def module_spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    setup_tracing(SERVICE, SETTINGS, extra_processors=[SimpleSpanProcessor(exporter)])
    yield exporter
    exporter.shutdown()  # the processor stays on the provider; it now drops spans


@pytest.fixture
def spans(module_spans: InMemorySpanExporter) -> InMemorySpanExporter:
    module_spans.clear()
    return module_spans


def _hex(span: ReadableSpan) -> tuple[str, str]:
    assert span.context is not None
    return format(span.context.trace_id, "032x"), format(span.context.span_id, "016x")


async def _echo_trace(_: Request) -> Response:
    return PlainTextResponse(current_trace_id() or "")


traced_app = instrument_asgi(
    Starlette(
        routes=[Route("/graphql", _echo_trace, methods=["POST"]), Route("/healthz", _echo_trace)]
    )
)


async def test_asgi_continues_the_incoming_trace(spans: InMemorySpanExporter) -> None:
    transport = httpx.ASGITransport(app=traced_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://subgraph") as client:
        response = await client.post("/graphql", headers={"traceparent": TRACEPARENT})
        await client.get("/healthz")
    assert response.text == INCOMING_TRACE  # the handler runs inside the continued trace
    [server] = spans.get_finished_spans()  # none for /healthz, no send/receive spans
    assert server.kind is SpanKind.SERVER and server.name == "POST /graphql"
    assert _hex(server)[0] == INCOMING_TRACE
    assert server.parent is not None and format(server.parent.span_id, "016x") == INCOMING_PARENT
    # The process's resource (the first setup_tracing of the test session names it).
    provider = setup_tracing(SERVICE, SETTINGS)
    assert (
        server.resource.attributes["service.name"] == provider.resource.attributes["service.name"]
    )


async def _echo_traceparent(request: Request) -> Response:
    return PlainTextResponse(request.headers.get("traceparent", ""))


async def test_httpx_client_sends_traceparent(spans: InMemorySpanExporter) -> None:
    # The other subgraph is not traced here: in one process it would see the caller's
    # span as current and start an internal span instead of reading the header.
    travel = Starlette(routes=[Route("/graphql", _echo_traceparent, methods=["POST"])])
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=travel))
    instrument_httpx_client(client)
    async with client:
        with trace.get_tracer("test").start_as_current_span("create-order"):
            response = await client.post("http://travel/graphql")
    outgoing = next(s for s in spans.get_finished_spans() if s.kind is SpanKind.CLIENT)
    trace_id, span_id = _hex(outgoing)
    # Flags: 01 sampled, plus 02 "random trace id" (W3C level 2) from this SDK.
    assert response.text.startswith(f"00-{trace_id}-{span_id}-")


async def test_sqlalchemy_statements_become_spans(spans: InMemorySpanExporter) -> None:
    first = create_async_engine("sqlite+aiosqlite://")
    second = create_async_engine("sqlite+aiosqlite://")
    try:
        instrument_engine(first)
        instrument_engine(second)  # the instrumentor itself would ignore a second engine
        instrument_engine(first)  # idempotent: still one span per statement
        for engine in (first, second):
            async with engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
    finally:
        await first.dispose()
        await second.dispose()
    selects = [span for span in spans.get_finished_spans() if span.name == "SELECT"]
    assert len(selects) == 2
    assert all(
        span.attributes and span.attributes["db.statement"] == "SELECT 1" for span in selects
    )


async def test_worker_statements_become_spans(
    spans: InMemorySpanExporter, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker's database, made on first use, is traced like a subgraph's."""
    settings = Settings(orders_database_url="sqlite+aiosqlite://", otel_exporter="none")
    monkeypatch.setattr(worker_resources, "get_settings", lambda: settings)
    monkeypatch.setattr(worker_resources, "_databases", {})
    db = worker_resources.database(Domain.ORDERS)
    try:
        async with db.read() as connection:
            await connection.execute(text("SELECT 2"))
    finally:
        await db.dispose()
    statements = [
        span.attributes.get("db.statement")
        for span in spans.get_finished_spans()
        if span.attributes and span.name == "SELECT"
    ]
    assert statements == ["SELECT 2"]


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """CI's Redis as it is (RedisServer would flush it mid-suite), else a bundled server."""
    if url := os.environ.get("TEST_REDIS_URL"):
        yield url
        return
    server = RedisServer(Path(tmp_path_factory.mktemp("redis")))
    yield server.url
    server.stop()


@pytest.fixture
async def redis_client(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()


async def test_redis_commands_become_spans(
    spans: InMemorySpanExporter, redis_client: Redis
) -> None:
    instrument_redis()
    instrument_redis()  # idempotent
    await redis_client.set("observability-test:token-version:42", "3", ex=60)
    [span] = spans.get_finished_spans()
    await redis_client.delete("observability-test:token-version:42")
    assert span.name == "SET" and span.kind is SpanKind.CLIENT
    assert span.attributes and span.attributes["db.statement"] == "SET ? ? ? ?"  # values masked


# --- `make dev` rendering -------------------------------------------------------------


def test_dev_rendering_of_our_records_and_the_gateways() -> None:
    """One human line per record, whichever process wrote it; other lines pass untouched."""
    ours = json.dumps(
        {
            "level": "WARNING",
            "logger": "workers.scheduler",
            "message": "sweeper closed 1 overdue orders",
            "service": "scheduler",
            "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
            "span_id": "00f067aa0ba902b7",
            "time": "2026-12-03T09:17:34.741884+00:00",
            "exc_info": "Traceback (most recent call last):\n  boom",
        }
    )
    [line, *traceback] = render_human(ours, colour=False)
    assert re.fullmatch(
        r"\d\d:\d\d:\d\d\.741 WARN  sweeper closed 1 overdue orders"
        r" trace=4bf92f3577b34da6a3ce929d0e0e4736",
        line,
    )
    assert traceback == ["Traceback (most recent call last):", "  boom"]
    gateway = (
        '{"path":"/schema/supergraph.graphql","level":"info",'
        '"msg":"Loading local supergraph","timestamp":"2026-12-03T09:18:24.911Z"}'
    )
    [line] = render_human(gateway, colour=False)
    assert line.endswith(" INFO  Loading local supergraph path=/schema/supergraph.graphql")
    assert render_human("12483:M # Redis banner\n", colour=False) == ["12483:M # Redis banner"]
    assert render_human("\n", colour=False) == []
