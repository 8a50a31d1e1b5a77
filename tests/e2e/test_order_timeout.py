"""An unpaid order closes itself after the pay timeout: router → orders → outbox →
scheduler relay → Dramatiq worker, all real processes."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import pytest

from common.clock import china_today
from common.db import Database
from common.settings import Domain
from tests.support.graphql import GraphQLClient
from tests.support.stack import Stack
from tests.support.travel import Catalog, make_catalog
from tests.support.users import Account, register

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("background_jobs")]

PAY_TIMEOUT_SECONDS = 3
# Relay tick (1 s) + the worker's delay-queue polling (up to 1 s) + slack for a busy CI box.
CLOSE_WITHIN_SECONDS = PAY_TIMEOUT_SECONDS + 12

CREATE = """mutation($input: CreateHomestayOrderInput!) {
  createHomestayOrder(input: $input) { sn tradeState payDeadline } }"""
ORDER = "query($sn: ID!) { homestayOrder(sn: $sn) { sn tradeState homestay { title } } }"


@pytest.fixture(scope="module")
def impatient_router(stack: Stack) -> GraphQLClient:
    """A router whose orders subgraph gives buyers PAY_TIMEOUT_SECONDS to pay."""
    orders = stack.start_subgraph(Domain.ORDERS, ORDER_PAY_TIMEOUT=str(PAY_TIMEOUT_SECONDS))
    return GraphQLClient(stack.start_router(SUBGRAPH_ORDERS_URL=orders))


@pytest.fixture(scope="module")
async def catalog(router: GraphQLClient, travel_db: Database) -> Catalog:
    landlord = await register(router, nickname="超时房东")
    return await make_catalog(travel_db, [int(landlord.user_id)], title_prefix="鸡足山")


def _stay(homestay_id: int) -> dict[str, object]:
    start = china_today() + timedelta(days=120)
    return {
        "input": {
            "homestayId": str(homestay_id),
            "liveStartDate": start.isoformat(),
            "liveEndDate": (start + timedelta(days=2)).isoformat(),
            "livePeopleNum": 1,
        }
    }


async def _state(router: GraphQLClient, guest: Account, sn: str) -> str:
    order = (await router.execute(ORDER, {"sn": sn}, token=guest.access_token)).ok()
    state: str = order["homestayOrder"]["tradeState"]
    return state


async def test_unpaid_order_closes_itself_and_frees_its_nights(
    impatient_router: GraphQLClient, router: GraphQLClient, catalog: Catalog
) -> None:
    guest = await register(router, nickname="犹豫的住客")
    stay = _stay(catalog.homestay_ids[0])
    created = (await impatient_router.execute(CREATE, stay, token=guest.access_token)).ok()
    sn = created["createHomestayOrder"]["sn"]
    booked_at = time.monotonic()
    assert created["createHomestayOrder"]["tradeState"] == "WAIT_PAY"
    taken = await router.execute(CREATE, stay, token=(await register(router)).access_token)
    assert taken.codes == ["HOMESTAY_UNAVAILABLE"]

    while (state := await _state(router, guest, sn)) == "WAIT_PAY":
        assert time.monotonic() - booked_at < CLOSE_WITHIN_SECONDS, "the order never closed"
        await asyncio.sleep(0.2)
    closed_after = time.monotonic() - booked_at
    assert state == "CANCELLED"
    assert closed_after >= PAY_TIMEOUT_SECONDS - 0.5, f"closed early, after {closed_after:.1f}s"
    print(f"closed {closed_after:.1f}s after booking (pay timeout {PAY_TIMEOUT_SECONDS}s)")

    # The nights are free again for the next guest.
    again = await router.execute(CREATE, stay, token=(await register(router)).access_token)
    assert again.ok()["createHomestayOrder"]["tradeState"] == "WAIT_PAY"
