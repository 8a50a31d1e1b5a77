"""Request bounds, document nesting, query cost and scalar errors, without servers."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import date, datetime

import httpx
import pytest
import strawberry
from graphql import get_operation_ast, parse
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from common.cost import estimate_cost
from common.documents import effective_nesting
from common.limits import RequestLimits, json_depth_exceeds, nesting_depth
from common.schema import build_schema


def test_json_depth_is_measured_without_parsing() -> None:
    assert not json_depth_exceeds(b'{"a": [[1]]}', 3)
    assert json_depth_exceeds(b'{"a": [[[1]]]}', 3)
    # Brackets inside strings (escaped quotes included) do not nest.
    assert not json_depth_exceeds(json.dumps({"s": '\\"[[[[[[' * 10}).encode(), 3)
    assert json_depth_exceeds(b"[" * 50_000 + b"]" * 50_000, 32)


def test_document_nesting_ignores_strings_and_comments() -> None:
    assert nesting_depth('{ a(x: "{{{{") { b # {{{{\n } }') == 2
    assert nesting_depth('{ a(x: """ {{{ " """) }') == 2
    assert nesting_depth("{" * 100 + "}" * 100) == 100


def test_fragment_spreads_count_as_nesting() -> None:
    chain = "query { ...F0 }\n" + "\n".join(
        f"fragment F{i} on Query {{ ...F{i + 1} }}" for i in range(300)
    )
    assert effective_nesting(parse(chain + "\nfragment F300 on Query { a }")) > 300
    cycle = "query { ...A } fragment A on Query { b { ...B } } fragment B on Query { ...A }"
    assert effective_nesting(parse(cycle)) == 4


async def _echo(request: Request) -> Response:
    return JSONResponse({"size": len(await request.body())})


def _bounded_app() -> httpx.AsyncClient:
    app = RequestLimits(
        Starlette(routes=[Route("/", _echo, methods=["POST"])]),
        max_body_bytes=1000,
        max_json_depth=8,
    )
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://subgraph")


async def test_middleware_refuses_large_and_deep_bodies() -> None:
    async with _bounded_app() as client:
        assert (await client.post("/", content=b"x" * 1000)).json() == {"size": 1000}
        declared = await client.post("/", content=b"x" * 1001)
        assert declared.status_code == 413
        assert declared.json()["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"

        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(20):
                yield b"x" * 100

        streamed = await client.post("/", content=chunks())
        assert streamed.status_code == 413
        deep = await client.post("/", content=b"[" * 9 + b"]" * 9)
        assert deep.status_code == 400
        assert deep.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


@strawberry.type
class Item:
    id: strawberry.ID

    @strawberry.field
    def children(self, first: int | None = 10) -> list[Item]:
        return []


@strawberry.type
class Query:
    @strawberry.field
    def items(self, first: int | None = 10) -> list[Item]:
        return []

    @strawberry.field
    def on(self, day: date) -> str:
        return day.isoformat()

    @strawberry.field
    def at(self, moment: datetime) -> str:
        return moment.isoformat()

    @strawberry.field
    def by_id(self, id: strawberry.ID) -> str:
        return str(id)


schema = build_schema("limits-test", query=Query)


def test_cost_multiplies_page_sizes() -> None:
    document = parse("query($n: Int) { items(first: $n) { id children(first: 50) { id } } }")
    operation = get_operation_ast(document)
    assert operation is not None
    assert estimate_cost(schema._schema, operation, {}, {"n": 20}) == 20 + 20 * 50
    # Page sizes are capped as the lists serve them; an omitted `first` is the default.
    assert estimate_cost(schema._schema, operation, {}, {"n": 1000}) == 50 + 50 * 50
    assert estimate_cost(schema._schema, operation, {}, {}) == 10 + 10 * 50


async def test_expensive_operation_is_refused_with_a_code() -> None:
    deep = "{ items(first: 50) { children(first: 50) { children(first: 50) { id } } } }"
    result = await schema.execute(deep)
    assert result.errors is not None
    assert result.errors[0].extensions == {
        "code": "COST_ESTIMATED_TOO_EXPENSIVE",
        "cost": {"estimated": 50 + 2500 + 125_000, "max": 5000},
    }


@pytest.mark.parametrize(
    ("query", "value", "field"),
    [
        ("query($v: Date!) { on(day: $v) }", "2031-02-30", "v"),
        ("query($v: Date!) { on(day: $v) }", 5, "v"),
        ("query($v: Date!) { on(day: $v) }", {}, "v"),
        ("query($v: DateTime!) { at(moment: $v) }", "2031-13-01T00:00:00Z", "v"),
        ("query($v: DateTime!) { at(moment: $v) }", [1], "v"),
        ("query($v: ID!) { byId(id: $v) }", 1.5, "v"),
    ],
)
async def test_malformed_scalars_are_bad_user_input(
    query: str, value: object, field: str, caplog: pytest.LogCaptureFixture
) -> None:
    result = await schema.execute(query, {"v": value})
    assert result.errors is not None
    assert [e.extensions for e in result.errors] == [
        {"code": "BAD_USER_INPUT", "variable": "v", "field": field}
    ]
    assert not [r for r in caplog.records if r.levelname == "ERROR"]


async def test_malformed_scalar_literal_is_bad_user_input() -> None:
    result = await schema.execute('{ on(day: "2031-02-30") }')
    assert result.errors is not None
    assert result.errors[0].extensions == {"code": "BAD_USER_INPUT"}
