"""Production hides the schema and the router's metrics; metric labels stay bounded."""

from __future__ import annotations

import re

import httpx
import pytest

from common.settings import Domain
from tests.security.conftest import ProductionRouter
from tests.support.graphql import GraphQLClient
from tests.support.stack import Stack

pytestmark = pytest.mark.e2e

PAGE = "preferredHomestays(first: 1) { edges { cursor } }"


async def test_production_subgraphs_hide_the_schema(
    production_users: GraphQLClient, production_travel: GraphQLClient
) -> None:
    for subgraph in (production_users, production_travel):
        introspection = await subgraph.execute("{ __schema { types { name } } }")
        assert set(introspection.codes) == {"GRAPHQL_VALIDATION_FAILED"}
        by_name = await subgraph.execute('{ __type(name: "User") { fields { name } } }')
        assert set(by_name.codes) == {"GRAPHQL_VALIDATION_FAILED"}
    typo = await production_users.execute("{ me { wxMiniOpenI } }")
    assert typo.codes == ["GRAPHQL_VALIDATION_FAILED"]
    assert "wxMiniOpenId" not in typo.errors[0]["message"]
    assert "Did you mean" not in typo.errors[0]["message"]


async def test_development_subgraphs_still_introspect(stack: Stack) -> None:
    users = GraphQLClient(stack.subgraph_urls[Domain.USERS])
    assert (await users.execute("{ __schema { queryType { name } } }")).ok()
    typo = await users.execute("{ me { wxMiniOpenI } }")
    assert "Did you mean" in typo.errors[0]["message"]


async def test_production_router_serves_metrics_on_the_admin_port_only(
    production_router: ProductionRouter,
) -> None:
    api = production_router.url.removesuffix("/graphql")
    async with httpx.AsyncClient(timeout=10) as http:
        assert (await http.get(f"{api}/metrics")).status_code == 404
        metrics = await http.get(f"{production_router.admin_url}/metrics")
        assert metrics.status_code == 200
        assert "graphql_envelop_request" in metrics.text
        assert (await http.get(f"{production_router.admin_url}/healthcheck")).status_code == 200
        assert (await http.get(f"{production_router.admin_url}/readiness")).status_code == 200


def _operation_names(metrics: str) -> set[str]:
    return set(re.findall(r'operation_?[nN]ame="([^"]*)"', metrics))


async def test_made_up_operation_names_are_not_labels(stack: Stack, router: GraphQLClient) -> None:
    """200 made-up names through the router: router and subgraph label them `other`."""
    for number in range(200):
        await router.execute(f"query Made{number} {{ {PAGE} }}")
    await router.execute(f"query Home {{ {PAGE} }}")
    travel = stack.subgraph_urls[Domain.TRAVEL].removesuffix("/graphql")
    async with httpx.AsyncClient(timeout=10) as http:
        routed = (await http.get(router.url.removesuffix("/graphql") + "/metrics")).text
        served = (await http.get(f"{travel}/metrics")).text
    for metrics in (routed, served):
        names = _operation_names(metrics)
        assert "other" in names and "Home" in names, (names, metrics[:2000])
        assert not any(name.startswith("Made") for name in names), names
    # The client's request URL (query string included) is not a label either; only the
    # subgraph fetches carry one (the subgraph's own URL).
    labelled_by_url = {line.split("{")[0] for line in routed.splitlines() if 'url="' in line}
    assert all(name.startswith("graphql_gateway_fetch_duration") for name in labelled_by_url)
