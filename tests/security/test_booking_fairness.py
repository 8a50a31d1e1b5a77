"""No hoarding: a user holds at most MAX_UNPAID_ORDERS_PER_USER unpaid orders, books at
most BOOKING_HORIZON_DAYS ahead, and creates orders at a bounded rate."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest

from common.clock import china_today
from common.db import Database
from common.settings import Settings
from tests.support.graphql import GraphQLClient, Result
from tests.support.travel import Catalog, make_catalog
from tests.support.users import Account, register

pytestmark = pytest.mark.e2e

CREATE = """mutation($input: CreateHomestayOrderInput!) {
  createHomestayOrder(input: $input) { sn tradeState } }"""
CANCEL = "mutation($sn: ID!) { cancelHomestayOrder(sn: $sn) { sn tradeState } }"


@pytest.fixture(scope="module")
async def catalog(router: GraphQLClient, travel_db: Database) -> Catalog:
    landlord = await register(router, nickname="公平房东")
    return await make_catalog(
        travel_db, [int(landlord.user_id)], homestays_per_business=4, title_prefix="公平"
    )


def _stay(homestay_id: int, start_in: int, nights: int = 1) -> dict[str, Any]:
    start = china_today() + timedelta(days=start_in)
    return {
        "input": {
            "homestayId": str(homestay_id),
            "liveStartDate": start.isoformat(),
            "liveEndDate": (start + timedelta(days=nights)).isoformat(),
            "livePeopleNum": 1,
        }
    }


async def _book(router: GraphQLClient, who: Account, variables: dict[str, Any]) -> Result:
    return await router.execute(CREATE, variables, token=who.access_token)


async def test_a_concurrent_burst_gets_exactly_the_unpaid_limit(
    router: GraphQLClient, catalog: Catalog, settings: Settings
) -> None:
    limit = settings.max_unpaid_orders_per_user
    hoarder = await register(router)
    homestay = catalog.homestay_ids[0]
    # Different nights each, so only the unpaid-order limit can refuse them.
    bookings = [_book(router, hoarder, _stay(homestay, 100 + n)) for n in range(20)]
    burst = await asyncio.gather(*bookings)
    codes = Counter(code for result in burst for code in result.codes or ["OK"])
    assert codes == {"OK": limit, "TOO_MANY_UNPAID_ORDERS": 20 - limit}
    refused = next(r for r in burst if r.errors)
    assert refused.errors[0]["extensions"]["limit"] == limit

    # One more, later, is refused too; paying or cancelling one frees a place.
    assert (await _book(router, hoarder, _stay(homestay, 130))).codes == ["TOO_MANY_UNPAID_ORDERS"]
    held = [r.ok()["createHomestayOrder"]["sn"] for r in burst if not r.errors]
    assert (await router.execute(CANCEL, {"sn": held[0]}, token=hoarder.access_token)).ok()
    assert (await _book(router, hoarder, _stay(homestay, 131))).ok()
    assert (await _book(router, hoarder, _stay(homestay, 132))).codes == ["TOO_MANY_UNPAID_ORDERS"]
    # Someone else books as usual.
    guest = await register(router)
    assert (await _book(router, guest, _stay(homestay, 133))).ok()


@pytest.mark.parametrize("start", ["horizon+1", "year-9999"])
async def test_stays_beyond_the_horizon_are_refused(
    router: GraphQLClient, catalog: Catalog, settings: Settings, start: str
) -> None:
    guest = await register(router)
    horizon = settings.booking_horizon_days
    homestay = catalog.homestay_ids[1 if start == "horizon+1" else 3]
    stay = _stay(homestay, horizon + 1)
    if start == "year-9999":
        stay["input"]["liveStartDate"] = "9999-12-01"
        stay["input"]["liveEndDate"] = "9999-12-02"
    refused = await _book(router, guest, stay)
    assert refused.codes == ["BAD_USER_INPUT"]
    assert refused.errors[0]["extensions"]["field"] == "liveStartDate"
    # The last day of the horizon is still bookable.
    assert (await _book(router, guest, _stay(homestay, horizon))).ok()


async def test_order_creation_is_rate_limited_per_user(
    router: GraphQLClient, catalog: Catalog, settings: Settings
) -> None:
    guest = await register(router)
    attempts = settings.order_attempts_per_user
    past = _stay(catalog.homestay_ids[2], -1)  # refused, but counted: probing costs too
    for _ in range(attempts):
        assert (await _book(router, guest, past)).codes == ["BAD_USER_INPUT"]
    limited = await _book(router, guest, _stay(catalog.homestay_ids[2], 5))
    assert limited.codes == ["TOO_MANY_REQUESTS"]
    assert limited.errors[0]["extensions"]["retryAfter"] > 0
