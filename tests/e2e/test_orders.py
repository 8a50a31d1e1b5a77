"""Booking through the router: create, read, cancel, refusals, and no double booking."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from typing import Any

import pytest

from common.clock import china_today
from common.db import Database
from common.settings import Domain
from tests.support.graphql import GraphQLClient, Result
from tests.support.metrics import statements
from tests.support.stack import Stack
from tests.support.travel import Catalog, make_catalog
from tests.support.users import Account, register

pytestmark = pytest.mark.e2e

CREATE = """mutation($input: CreateHomestayOrderInput!) { createHomestayOrder(input: $input) {
  sn title tradeState liveStartDate liveEndDate livePeopleNum needFood homestayTotalPrice
  foodTotalPrice orderTotalPrice tradeCode payDeadline createdAt
  homestay { id title business { title } } user { id nickname } } }"""
CANCEL = "mutation($sn: ID!) { cancelHomestayOrder(sn: $sn) { sn tradeState } }"
ORDER = "query($sn: ID!) { homestayOrder(sn: $sn) { sn tradeState homestay { title } } }"


@pytest.fixture(scope="module")
async def landlord(router: GraphQLClient) -> Account:
    return await register(router, nickname="订单房东")


@pytest.fixture(scope="module")
async def catalog(travel_db: Database, landlord: Account) -> Catalog:
    return await make_catalog(
        travel_db, [int(landlord.user_id)], homestays_per_business=4, title_prefix="洱海"
    )


@pytest.fixture
async def guest(router: GraphQLClient) -> Account:
    return await register(router, nickname="住客")


def _stay(homestay_id: int, start_in: int, nights: int, **extra: Any) -> dict[str, Any]:
    start = china_today() + timedelta(days=start_in)
    return {
        "input": {
            "homestayId": str(homestay_id),
            "liveStartDate": start.isoformat(),
            "liveEndDate": (start + timedelta(days=nights)).isoformat(),
            "livePeopleNum": 2,
            **extra,
        }
    }


async def _book(router: GraphQLClient, who: Account, variables: dict[str, Any]) -> Result:
    return await router.execute(CREATE, variables, token=who.access_token)


async def test_book_read_and_cancel(
    router: GraphQLClient, catalog: Catalog, guest: Account
) -> None:
    homestay_id = catalog.homestay_ids[0]  # per room, 29900 per night, food 3000
    order = (await _book(router, guest, _stay(homestay_id, 10, 3, needFood=True))).ok()[
        "createHomestayOrder"
    ]
    assert order["tradeState"] == "WAIT_PAY" and order["tradeCode"] is None
    assert len(order["sn"]) == 25 and order["sn"].startswith("HSO")
    assert order["homestayTotalPrice"] == 29900 * 3
    assert order["foodTotalPrice"] == 3000 * 2 * 3
    assert order["orderTotalPrice"] == 29900 * 3 + 3000 * 6
    assert order["homestay"]["title"].startswith("洱海")
    assert order["homestay"]["business"]["title"].startswith("洱海·")
    assert order["user"] == {"id": guest.user_id, "nickname": "住客"}

    mine = await router.execute(
        "{ me { homestayOrders(tradeState: WAIT_PAY) { edges { node { sn } } } } }",
        token=guest.access_token,
    )
    assert [e["node"]["sn"] for e in mine.ok()["me"]["homestayOrders"]["edges"]] == [order["sn"]]
    read = await router.execute(ORDER, {"sn": order["sn"]}, token=guest.access_token)
    assert read.ok()["homestayOrder"]["tradeState"] == "WAIT_PAY"

    cancelled = await router.execute(CANCEL, {"sn": order["sn"]}, token=guest.access_token)
    assert cancelled.ok()["cancelHomestayOrder"]["tradeState"] == "CANCELLED"
    again = await router.execute(CANCEL, {"sn": order["sn"]}, token=guest.access_token)
    assert again.codes == ["CONFLICT"]
    # Cancelling freed the nights.
    assert (await _book(router, guest, _stay(homestay_id, 10, 3))).ok()


async def test_per_person_price(router: GraphQLClient, catalog: Catalog, guest: Account) -> None:
    homestay_id = catalog.homestay_ids[1]  # per person, 30900 per night
    order = (await _book(router, guest, _stay(homestay_id, 40, 2))).ok()["createHomestayOrder"]
    assert order["homestayTotalPrice"] == 30900 * 2 * 2
    assert order["foodTotalPrice"] == 0


async def test_another_user_can_neither_read_nor_cancel(
    router: GraphQLClient, catalog: Catalog, guest: Account
) -> None:
    order = (await _book(router, guest, _stay(catalog.homestay_ids[2], 50, 1))).ok()
    sn = order["createHomestayOrder"]["sn"]
    stranger = await register(router)
    assert (await router.execute(ORDER, {"sn": sn}, token=stranger.access_token)).ok() == {
        "homestayOrder": None
    }
    assert (await router.execute(CANCEL, {"sn": sn}, token=stranger.access_token)).codes == [
        "NOT_FOUND"
    ]
    anonymous = await router.execute(ORDER, {"sn": sn})
    assert anonymous.codes == ["UNAUTHENTICATED"]


ENTITIES = """query($reps: [_Any!]!) { _entities(representations: $reps) {
  ... on HomestayOrder { sn tradeState } } }"""


async def test_order_references_load_in_one_statement_and_only_for_the_owner(
    stack: Stack, router: GraphQLClient, catalog: Catalog, guest: Account
) -> None:
    """How the router reaches orders from another subgraph: one batch, owner only."""
    own = [
        (await _book(router, guest, _stay(catalog.homestay_ids[1], 70 + 2 * n, 1))).ok()[
            "createHomestayOrder"
        ]["sn"]
        for n in range(3)
    ]
    stranger = await register(router)
    theirs = (await _book(router, stranger, _stay(catalog.homestay_ids[1], 80, 1))).ok()[
        "createHomestayOrder"
    ]["sn"]
    orders = GraphQLClient(stack.subgraph_urls[Domain.ORDERS])

    async def resolve(sns: list[str]) -> tuple[list[str | None], float]:
        reps = [{"__typename": "HomestayOrder", "sn": sn} for sn in sns]
        before = await statements(orders.url, "orders")
        found = (await orders.execute(ENTITIES, {"reps": reps}, token=guest.access_token)).ok()
        cost = await statements(orders.url, "orders") - before
        return [e and e["sn"] for e in found["_entities"]], cost

    one, cost_of_one = await resolve(own[:1])
    many, cost_of_many = await resolve([*own, theirs, "HSO-none"])
    assert one == own[:1]
    assert many == [*own, None, None]
    assert cost_of_many == cost_of_one


@pytest.mark.parametrize(
    ("start_in", "nights", "extra", "code", "field"),
    [
        (-1, 2, {}, "BAD_USER_INPUT", "liveStartDate"),
        (5, 0, {}, "BAD_USER_INPUT", "liveEndDate"),
        (5, 31, {}, "BAD_USER_INPUT", "liveEndDate"),
        (5, 1, {"livePeopleNum": 0}, "BAD_USER_INPUT", "livePeopleNum"),
        (5, 1, {"livePeopleNum": 9}, "BAD_USER_INPUT", "livePeopleNum"),
    ],
)
async def test_bad_bookings_are_refused(
    router: GraphQLClient, catalog: Catalog, guest: Account,
    start_in: int, nights: int, extra: dict[str, Any], code: str, field: str,
) -> None:  # fmt: skip
    result = await _book(router, guest, _stay(catalog.homestay_ids[3], start_in, nights, **extra))
    assert result.codes == [code]
    assert result.errors[0]["extensions"]["field"] == field


async def test_unknown_and_off_sale_homestays(
    router: GraphQLClient, catalog: Catalog, guest: Account
) -> None:
    unknown = await _book(router, guest, _stay(987654321, 5, 1))
    assert unknown.codes == ["NOT_FOUND"]
    off_sale = await _book(router, guest, _stay(catalog.off_sale_ids[0], 5, 1))
    assert off_sale.codes == ["HOMESTAY_UNAVAILABLE"]
    anonymous = await router.execute(CREATE, _stay(catalog.homestay_ids[0], 5, 1))
    assert anonymous.codes == ["UNAUTHENTICATED"]
    for malformed in ("²", "9" * 30, "abc"):
        stay = _stay(0, 5, 1)
        stay["input"]["homestayId"] = malformed
        refused = await _book(router, guest, stay)
        assert refused.codes == ["BAD_USER_INPUT"], malformed
        assert refused.errors[0]["extensions"]["field"] == "homestayId"


async def test_twenty_concurrent_bookings_have_one_winner(
    router: GraphQLClient, catalog: Catalog
) -> None:
    guests = [await register(router) for _ in range(20)]
    stay = _stay(catalog.homestay_ids[3], 60, 3)
    results = await asyncio.gather(*(_book(router, g, stay) for g in guests))
    winners = [r for r in results if not r.errors]
    assert len(winners) == 1
    assert sorted(c for r in results for c in r.codes) == ["HOMESTAY_UNAVAILABLE"] * 19


async def test_check_out_day_can_be_the_next_check_in(
    router: GraphQLClient, catalog: Catalog, guest: Account
) -> None:
    homestay_id = catalog.homestay_ids[3]
    assert (await _book(router, guest, _stay(homestay_id, 80, 2))).ok()
    assert (await _book(router, guest, _stay(homestay_id, 82, 2))).ok()
    overlapping = await _book(router, guest, _stay(homestay_id, 83, 2))
    assert overlapping.codes == ["HOMESTAY_UNAVAILABLE"]
    assert (await _book(router, guest, _stay(homestay_id, 78, 2))).ok()


def test_today_is_china_time() -> None:
    assert abs((china_today() - date.today()).days) <= 1
