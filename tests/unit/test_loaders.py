"""Loader helpers: loaded values resolve synchronously; item selections seen for prefetching."""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

import pytest
import strawberry

from common.loaders import item_fields, parse_row_id, when_loaded


async def test_a_finished_load_converts_now() -> None:
    loading: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    loading.set_result(20)
    assert when_loaded(loading, lambda value: value + 1) == 21


async def test_a_pending_load_converts_once_it_arrives() -> None:
    loading: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    converted = when_loaded(loading, lambda value: value + 1)
    assert inspect.isawaitable(converted)
    loading.set_result(20)
    assert await converted == 21


async def test_a_failed_load_raises_as_an_await_would() -> None:
    loading: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    loading.set_exception(LookupError("gone"))
    with pytest.raises(LookupError, match="gone"):
        when_loaded(loading, lambda value: value)


seen: list[list[tuple[str, dict[str, Any]]]] = []


@strawberry.type
class Page:
    title: str = "t"
    count: int = 0

    @strawberry.field
    def pages(self, first: int | None = None) -> list[Page]:
        return []


@strawberry.type
class Edge:
    node: Page


@strawberry.type
class Connection:
    edges: list[Edge]


@strawberry.type
class Query:
    @strawberry.field
    def connection(self, info: strawberry.Info) -> Connection:
        seen.append([(f.name, f.arguments) for f in item_fields(info, "edges", "node")])
        return Connection(edges=[])

    @strawberry.field
    def items(self, info: strawberry.Info) -> list[Page]:
        seen.append([(f.name, f.arguments) for f in item_fields(info)])
        return []


schema = strawberry.Schema(query=Query)


async def _item_fields(query: str, variables: dict[str, Any] | None = None) -> list[Any]:
    seen.clear()
    result = await schema.execute(query, variable_values=variables)
    assert result.errors is None, result.errors
    [fields] = seen
    return fields


async def test_item_fields_of_a_list() -> None:
    assert await _item_fields("{ items { title pages(first: 2) { title } } }") == [
        ("title", {}),
        ("pages", {"first": "2"}),  # literals as written
    ]


async def test_item_fields_of_a_connection_through_fragments_and_aliases() -> None:
    query = """query($n: Int) { connection { edges { ... on Edge { node { ...P a: pages(first: $n)
        { count } } } } } } fragment P on Page { title ... { count } }"""
    assert await _item_fields(query, {"n": 3}) == [
        ("title", {}),
        ("count", {}),
        ("pages", {"first": 3}),  # variables resolved
    ]


async def test_item_fields_leave_out_skipped_fields() -> None:
    query = """query($yes: Boolean!, $no: Boolean!) { items { title @skip(if: $yes)
        count @include(if: $no) pages @include(if: true) { title }
        ... @skip(if: true) { title } } }"""
    assert await _item_fields(query, {"yes": True, "no": False}) == [("pages", {})]


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1", 1), ("42", 42), (str(2**63 - 1), 2**63 - 1), ("0", None), ("-1", None),
     ("", None), ("abc", None), ("²", None), ("１２", None), (str(2**63), None), ("9" * 30, None)],
)  # fmt: skip
def test_parse_row_id(text: str, expected: int | None) -> None:
    assert parse_row_id(text) == expected
