"""Outages and peers' refusals keep their meaning: SERVICE_UNAVAILABLE, UNAUTHENTICATED …

Not INTERNAL_SERVER_ERROR, which tells a client (and an operator) there is a bug.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from common.devrunner import free_port
from common.errors import ErrorCode, PeerError
from common.internal import InternalGraphQLClient
from common.settings import Domain
from tests.support.graphql import GraphQLClient
from tests.support.stack import Stack
from tests.support.users import LOGIN, ME, register

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def without_redis(stack: Stack) -> Iterator[GraphQLClient]:
    """A router whose users and orders subgraphs point at a Redis that is not there."""
    dead = {"REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"}
    users = stack.start_subgraph(Domain.USERS, **dead)
    orders = stack.start_subgraph(Domain.ORDERS, **dead)
    yield GraphQLClient(stack.start_router(SUBGRAPH_USERS_URL=users, SUBGRAPH_ORDERS_URL=orders))


async def test_redis_down_is_service_unavailable(
    router: GraphQLClient, without_redis: GraphQLClient
) -> None:
    account = await register(router)
    me = await without_redis.execute(ME, token=account.access_token)
    assert me.codes == ["SERVICE_UNAVAILABLE"], me
    assert "127.0.0.1" not in str(me.errors)  # what is down, not where
    login = await without_redis.execute(
        LOGIN, {"input": {"mobile": account.mobile, "password": "whatever-it-is"}}
    )
    assert login.codes == ["SERVICE_UNAVAILABLE"]
    order = await without_redis.execute(
        'query { homestayOrder(sn: "HSO20260101000000nosuch") { sn } }',
        token=account.access_token,
    )
    assert order.codes == ["SERVICE_UNAVAILABLE"]


async def test_a_peer_refusal_keeps_its_code_on_internal_calls(stack: Stack) -> None:
    users = InternalGraphQLClient(stack.subgraph_urls[Domain.USERS], timeout_seconds=5, retries=0)
    try:
        with pytest.raises(PeerError) as refused:
            await users.query("{ me { id } }", {}, headers={"Authorization": "Bearer not-a-jwt"})
    finally:
        await users.aclose()
    assert refused.value.code is ErrorCode.UNAUTHENTICATED
    assert refused.value.extensions["code"] == "UNAUTHENTICATED"
