"""Metrics per operation and trace ids in JSON logs."""

from __future__ import annotations

import io
import json
import logging

import strawberry
from opentelemetry import trace
from prometheus_client import REGISTRY

from common.logs import configure_logging
from common.schema import build_schema
from common.settings import Settings
from common.telemetry import current_trace_id, setup_tracing


@strawberry.type
class Query:
    @strawberry.field
    def ping(self) -> str:
        return "pong"


schema = build_schema("metrics-test", query=Query)


def _count(name: str, outcome: str) -> float:
    labels = {"service": "metrics-test", "operation_name": name, "operation_type": "query",
              "outcome": outcome}  # fmt: skip
    return REGISTRY.get_sample_value("graphql_operations_total", labels) or 0.0


async def test_operations_are_counted_by_name_and_outcome() -> None:
    before_ok, before_error = _count("Probe", "ok"), _count("Broken", "error")
    await schema.execute("query Probe { ping }")
    await schema.execute("query Broken { ping nope }")
    assert _count("Probe", "ok") == before_ok + 1
    assert _count("Broken", "error") == before_error + 1
    duration = REGISTRY.get_sample_value(
        "graphql_operation_duration_seconds_count",
        {"service": "metrics-test", "operation_name": "Probe", "operation_type": "query"},
    )
    assert duration and duration >= 1


def test_json_logs_carry_the_current_trace_id() -> None:
    settings = Settings(log_format="json", log_level="INFO")
    setup_tracing("log-test", settings)
    configure_logging("log-test", settings)
    handler = next(h for h in logging.getLogger().handlers if h.get_name() == "looklook")
    stream = io.StringIO()
    handler.setStream(stream)  # type: ignore[attr-defined]
    with trace.get_tracer("test").start_as_current_span("work"):
        trace_id = current_trace_id()
        logging.getLogger("looklook.test").info("booked %s", "HSO1")
    record = json.loads(stream.getvalue().strip().splitlines()[-1])
    assert trace_id and record["trace_id"] == trace_id
    assert record["message"] == "booked HSO1"
    assert record["service"] == "log-test" and record["level"] == "INFO"
