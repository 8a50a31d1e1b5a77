"""No single request takes the API down: bounded bodies, JSON depth and documents.

Each attack goes to the production-mode router (and, where the subgraphs were found
unsafe, straight to a subgraph), which must answer it with a coded refusal and then
go on answering others.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import httpx
import pytest
from gql import Client, GraphQLRequest
from gql.transport.exceptions import TransportQueryError
from gql.transport.websockets import WebsocketsTransport

from common.settings import Domain
from tests.security.conftest import UPSTREAM_TIMEOUT_MS, ProductionRouter
from tests.support.graphql import GraphQLClient
from tests.support.stack import Stack

pytestmark = pytest.mark.e2e

CREATE = """mutation($input: CreateHomestayOrderInput!) {
  createHomestayOrder(input: $input) { sn } }"""


def _deep_variable_body(depth: int) -> str:
    """The attack's body: `liveStartDate` a date inside `depth` arrays (built as text:
    Python's own json module would hit its recursion limit)."""
    stay = {"homestayId": "1", "liveStartDate": "DEEP", "liveEndDate": "2031-01-03",
            "livePeopleNum": 1, "needFood": False}  # fmt: skip
    body = json.dumps({"query": CREATE, "variables": {"input": stay}})
    return body.replace('"DEEP"', "[" * depth + '"2031-01-01"' + "]" * depth)


def _code(response: httpx.Response) -> str:
    return str(response.json()["errors"][0]["extensions"]["code"])


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=30) as client:
        yield client


async def _alive(client: GraphQLClient) -> None:
    assert (await client.execute("{ __typename }")).ok() == {"__typename": "Query"}


async def test_deep_date_variable_is_refused_and_the_router_lives_on(
    production_router: ProductionRouter, http: httpx.AsyncClient
) -> None:
    """The 10 KB request that used to kill the router: a `Date` nested 5,000 levels."""
    body = _deep_variable_body(5000)
    assert len(body) < 11_000
    response = await http.post(
        production_router.url, content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert _code(response) == "BAD_REQUEST"
    # The crash came when the upstream timeout fired after the broken request; wait past
    # it (the router's is short here) before asking again.
    await asyncio.sleep(UPSTREAM_TIMEOUT_MS / 1000 * 2)
    assert production_router.process.poll() is None
    await _alive(production_router.client)


async def test_deep_variable_over_websocket_is_refused(
    production_router: ProductionRouter,
) -> None:
    """The same variable on a WebSocket (no HTTP body to scan) is refused before execution."""
    transport = WebsocketsTransport(
        url=production_router.url.replace("http://", "ws://", 1),
        subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL],
    )
    variables = json.loads(_deep_variable_body(200))["variables"]
    async with Client(transport=transport, fetch_schema_from_transport=False) as session:
        with pytest.raises(TransportQueryError) as refused:
            await session.execute(GraphQLRequest(CREATE, variable_values=variables))
    assert [e["extensions"]["code"] for e in refused.value.errors or []] == ["BAD_REQUEST"]
    await _alive(production_router.client)


async def test_huge_bodies_are_refused_with_413(
    production_router: ProductionRouter, stack: Stack, http: httpx.AsyncClient
) -> None:
    variables = {"input": {"remark": "x" * 2_000_000}}
    body = json.dumps({"query": CREATE, "variables": variables}).encode()
    travel = stack.subgraph_urls[Domain.TRAVEL]
    for url in (production_router.url, travel):
        response = await http.post(url, content=body, headers={"content-type": "application/json"})
        assert response.status_code == 413, url
        assert _code(response) == "PAYLOAD_TOO_LARGE"

        async def chunked() -> AsyncIterator[bytes]:  # no Content-Length: read and cut off
            for start in range(0, len(body), 64 * 1024):
                yield body[start : start + 64 * 1024]

        response = await http.post(
            url, content=chunked(), headers={"content-type": "application/json"}
        )
        assert response.status_code == 413, url
        assert _code(response) == "PAYLOAD_TOO_LARGE"
    await _alive(production_router.client)
    await _alive(GraphQLClient(travel))


async def test_huge_documents_are_refused(
    production_router: ProductionRouter, stack: Stack, http: httpx.AsyncClient
) -> None:
    document = "{ __typename " + "# padding\n" * 5000 + "}"  # 50 KB, under the body limit
    response = await http.post(production_router.url, json={"query": document})
    assert response.status_code == 413
    assert _code(response) == "PAYLOAD_TOO_LARGE"
    travel = stack.subgraph_urls[Domain.TRAVEL]
    # Sent as is (a GraphQL client would reprint the document without its comments).
    assert _code(await http.post(travel, json={"query": document})) == "GRAPHQL_PARSE_FAILED"
    await _alive(GraphQLClient(travel))


async def test_subgraph_refuses_50000_deep_json(stack: Stack, http: httpx.AsyncClient) -> None:
    travel = stack.subgraph_urls[Domain.TRAVEL]
    body = '{"query": "{ __typename }", "variables": {"a": ' + "[" * 50_000 + "]" * 50_000 + "}}"
    response = await http.post(travel, content=body, headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert _code(response) == "BAD_REQUEST"
    await _alive(GraphQLClient(travel))


async def test_subgraph_refuses_a_300_fragment_chain(stack: Stack) -> None:
    travel = GraphQLClient(stack.subgraph_urls[Domain.TRAVEL])
    fragments = "\n".join(f"fragment F{i} on Query {{ ...F{i + 1} }}" for i in range(300))
    document = "query { ...F0 }\n" + fragments + "\nfragment F300 on Query { __typename }"
    assert (await travel.execute(document)).codes == ["GRAPHQL_VALIDATION_FAILED"]
    await _alive(travel)


async def test_subgraph_refuses_deeply_nested_documents(
    stack: Stack, http: httpx.AsyncClient
) -> None:
    """Selection sets and list literals nested past Python's recursion limit."""
    travel = stack.subgraph_urls[Domain.TRAVEL]
    for document in (
        "{ a " * 3000 + "}" * 3000,
        "{ homestay(id: " + "[" * 3000 + "1" + "]" * 3000 + ") { id } }",
    ):
        response = await http.post(travel, json={"query": document})
        assert _code(response) == "GRAPHQL_PARSE_FAILED"
    await _alive(GraphQLClient(travel))
