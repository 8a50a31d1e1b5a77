"""Query cost is bounded: the 1.7 KB query that ran 17.6 s is refused before any work,
while the mini-program's home page (README) passes."""

from __future__ import annotations

import time

import pytest
from graphql import get_operation_ast, parse

from common.cost import estimate_cost
from common.settings import Domain, get_settings
from subgraphs.travel.schema import schema as travel_schema
from tests.security.conftest import ProductionRouter
from tests.support.graphql import GraphQLClient
from tests.support.stack import Stack

pytestmark = pytest.mark.e2e

# searchHomestays → business.homestays → comments → user, 50 of each: ~380,000 objects.
EXPENSIVE = """query Expensive {
  searchHomestays(keyword: "a", first: 50) { edges { node { id title business {
    homestays(first: 50) { edges { node { id title comments(first: 50) { edges { node {
      content user { id nickname } } } } } } } } } } } }"""
# README / bench: the home page.
HOME = """query Home { preferredHomestays(first: 20) { edges { node { id title homestayPrice
  business { title } landlord { nickname } comments(first: 3) { edges { node { content star } } }
} } } }"""
# The same page, asked of travel alone (the landlord's nickname lives in users).
HOME_TRAVEL = HOME.replace("landlord { nickname }", "landlord { id }")


async def test_expensive_query_is_refused_by_the_router(
    production_router: ProductionRouter, router: GraphQLClient
) -> None:
    for client in (production_router.client, router):
        started = time.perf_counter()
        result = await client.execute(EXPENSIVE)
        elapsed = time.perf_counter() - started
        assert result.codes == ["COST_ESTIMATED_TOO_EXPENSIVE"], result.errors
        assert result.data is None
        print(f"refused in {elapsed * 1000:.1f} ms at {client.url}")  # measured, not asserted


async def test_home_page_is_well_under_the_limit(
    production_router: ProductionRouter, router: GraphQLClient
) -> None:
    for client in (production_router.client, router):
        assert "preferredHomestays" in (await client.execute(HOME)).ok()
    # Its estimate (the same model as the router's) is a small fraction of the maximum.
    operation = get_operation_ast(parse(HOME_TRAVEL))
    assert operation is not None
    assert (
        estimate_cost(travel_schema._schema, operation, {}, {}) * 10
        < get_settings().graphql_max_cost
    )


async def test_subgraph_refuses_expensive_queries_itself(stack: Stack) -> None:
    travel = GraphQLClient(stack.subgraph_urls[Domain.TRAVEL])
    expensive = EXPENSIVE.replace("user { id nickname }", "user { id }")
    result = await travel.execute(expensive)
    assert result.codes == ["COST_ESTIMATED_TOO_EXPENSIVE"]
    assert result.errors[0]["extensions"]["cost"]["estimated"] > 100_000
    assert "preferredHomestays" in (await travel.execute(HOME_TRAVEL)).ok()
