"""Tracing costs nothing without an exporter, and is sampled by a setting with one."""

from __future__ import annotations

import strawberry
from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
from opentelemetry.sdk.trace.sampling import ParentBased

from common.app import create_subgraph_app
from common.settings import Domain, Settings
from common.telemetry import trace_sampler


@strawberry.type
class Query:
    ok: bool = True


SCHEMA = strawberry.Schema(query=Query)


def test_without_an_exporter_requests_are_not_traced() -> None:
    app = create_subgraph_app(Domain.TRAVEL, SCHEMA, settings=Settings(otel_exporter="none"))
    assert not isinstance(app, OpenTelemetryMiddleware)


def test_with_an_exporter_every_request_is_traced() -> None:
    app = create_subgraph_app(Domain.TRAVEL, SCHEMA, settings=Settings(otel_exporter="console"))
    assert isinstance(app, OpenTelemetryMiddleware)


def test_the_sample_ratio_is_a_setting() -> None:
    sampler = trace_sampler(Settings(otel_traces_sample_ratio=0.05))
    assert isinstance(sampler, ParentBased)
    assert "0.05" in sampler.get_description()  # type: ignore[no-untyped-call]
