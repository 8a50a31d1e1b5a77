"""What operators rely on: health, readiness, metrics, limits and GraphiQL."""

from __future__ import annotations

import httpx
import pytest

from common.settings import Domain
from tests.support.graphql import GraphQLClient
from tests.support.stack import Stack

pytestmark = pytest.mark.e2e


def _base(url: str) -> str:
    return url.removesuffix("/graphql")


async def test_subgraph_health_and_readiness(stack: Stack) -> None:
    base = _base(stack.subgraph_urls[Domain.USERS])
    async with httpx.AsyncClient() as http:
        assert (await http.get(f"{base}/healthz")).json() == {"status": "ok"}
        ready = await http.get(f"{base}/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": "ok", "redis": "ok"}


async def test_metrics_count_operations_by_name(stack: Stack, router: GraphQLClient) -> None:
    await router.execute("query HomeProbe { me { id } }")
    async with httpx.AsyncClient() as http:
        text = (await http.get(f"{_base(stack.subgraph_urls[Domain.USERS])}/metrics")).text
    assert "graphql_operations_total" in text
    assert "graphql_operation_duration_seconds" in text


async def test_graphiql_is_served_in_development(stack: Stack) -> None:
    async with httpx.AsyncClient() as http:
        page = await http.get(stack.router_url, headers={"Accept": "text/html"})
    assert page.status_code == 200
    assert "<html" in page.text.lower()


async def test_validation_errors_are_coded(users_subgraph: GraphQLClient) -> None:
    result = await users_subgraph.execute("{ me { noSuchField } }")
    assert result.codes == ["GRAPHQL_VALIDATION_FAILED"]


async def test_another_users_mobile_is_hidden(
    users_subgraph: GraphQLClient, router: GraphQLClient
) -> None:
    from tests.support.users import register

    owner = await register(router)
    stranger = await register(router)
    query = """query($reps: [_Any!]!) {
        _entities(representations: $reps) { ... on User { id mobile } } }"""
    reps = {"reps": [{"__typename": "User", "id": owner.user_id}]}
    seen_by_stranger = await users_subgraph.execute(query, reps, token=stranger.access_token)
    assert seen_by_stranger.ok()["_entities"] == [{"id": owner.user_id, "mobile": None}]
    seen_by_owner = await users_subgraph.execute(query, reps, token=owner.access_token)
    assert seen_by_owner.ok()["_entities"] == [{"id": owner.user_id, "mobile": owner.mobile}]
    unknown = await users_subgraph.execute(
        query, {"reps": [{"__typename": "User", "id": "999999999"}]}
    )
    assert unknown.ok()["_entities"] == [None]


async def test_simple_cross_site_requests_are_refused(stack: Stack) -> None:
    """A GET (which a browser sends cross-site without a preflight) needs a non-simple header."""
    async with httpx.AsyncClient() as http:
        bare = await http.get(stack.router_url, params={"query": "{ me { id } }"})
        marked = await http.get(
            stack.router_url, params={"query": "{ me { id } }"}, headers={"x-graphql-csrf": "1"}
        )
    assert "CSRF" in bare.text
    assert marked.json() == {"data": {"me": None}}


@pytest.fixture(scope="module")
def production_router(stack: Stack) -> GraphQLClient:
    return GraphQLClient(stack.start_router(ENV="production"))


async def test_production_router_hides_the_schema(
    production_router: GraphQLClient, stack: Stack
) -> None:
    introspection = await production_router.execute("{ __schema { queryType { name } } }")
    assert introspection.codes and set(introspection.codes) == {"GRAPHQL_VALIDATION_FAILED"}
    typo = await production_router.execute("{ me { nickame } }")
    assert "Did you mean" not in typo.errors[0]["message"]
    async with httpx.AsyncClient() as http:
        page = await http.get(production_router.url, headers={"Accept": "text/html"})
    assert "<html" not in page.text.lower()
    # The development router does answer introspection.
    dev = GraphQLClient(stack.router_url)
    schema = await dev.execute("{ __schema { queryType { name } } }")
    assert schema.ok() == {"__schema": {"queryType": {"name": "Query"}}}
    assert "Did you mean" in (await dev.execute("{ me { nickame } }")).errors[0]["message"]
