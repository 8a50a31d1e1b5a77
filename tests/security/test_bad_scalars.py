"""A malformed scalar is the client's mistake: BAD_USER_INPUT naming it, no error logged."""

from __future__ import annotations

from typing import Any

import pytest

from tests.security.conftest import LoggedSubgraph, ProductionRouter
from tests.support.graphql import GraphQLClient
from tests.support.users import register

pytestmark = pytest.mark.e2e

CREATE = """mutation($input: CreateHomestayOrderInput!) {
  createHomestayOrder(input: $input) { sn } }"""
CREATE_LITERAL = """mutation { createHomestayOrder(input: {homestayId: "1",
  liveStartDate: "2031-02-30", liveEndDate: "2031-03-02", livePeopleNum: 1}) { sn } }"""
ORDER = "query($sn: ID!) { homestayOrder(sn: $sn) { sn } }"


def _stay(start: Any) -> dict[str, Any]:
    return {"input": {"homestayId": "1", "liveStartDate": start, "liveEndDate": "2031-03-02",
                      "livePeopleNum": 1, "needFood": False}}  # fmt: skip


@pytest.mark.parametrize("start", ["2031-02-30", 5, {}, ["2031-03-01"], "tomorrow"])
async def test_malformed_dates_are_bad_user_input(
    production_router: ProductionRouter,
    production_orders: LoggedSubgraph,
    router: GraphQLClient,
    start: Any,
) -> None:
    guest = await register(router)  # argon2 may outlast the production router's short timeout
    result = await production_router.client.execute(CREATE, _stay(start), token=guest.access_token)
    assert result.codes == ["BAD_USER_INPUT"], result.errors
    assert result.errors[0]["extensions"]["field"] == "liveStartDate"
    assert production_orders.errors_logged() == []


async def test_malformed_date_literal_is_bad_user_input(
    production_router: ProductionRouter, production_orders: LoggedSubgraph, router: GraphQLClient
) -> None:
    guest = await register(router)
    result = await production_router.client.execute(CREATE_LITERAL, token=guest.access_token)
    assert result.codes == ["BAD_USER_INPUT"], result.errors
    assert production_orders.errors_logged() == []


@pytest.mark.parametrize("sn", [{}, 1.5, [1], True])
async def test_malformed_ids_are_bad_user_input(
    production_router: ProductionRouter,
    production_orders: LoggedSubgraph,
    router: GraphQLClient,
    sn: Any,
) -> None:
    guest = await register(router)
    result = await production_router.client.execute(ORDER, {"sn": sn}, token=guest.access_token)
    assert result.codes == ["BAD_USER_INPUT"], result.errors
    assert production_orders.errors_logged() == []
