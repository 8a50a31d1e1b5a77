"""The landlord's side of paid bookings, through the router: the host's order list (never
the check-in code), and check-in by the guest's code. Orders are paid for real in the
WeChat sandbox, so the worker and scheduler run for this module."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest

from common.clock import china_today
from common.db import Database
from common.settings import Settings
from tests.support.graphql import GraphQLClient, Result
from tests.support.payments import book, pay_and_settle
from tests.support.stack import Stack
from tests.support.travel import Catalog, make_catalog
from tests.support.users import Account, register, wechat_account

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("background_jobs")]

HOST_ORDERS = """query HostHomestayOrders($state: OrderTradeState, $first: Int, $after: String) {
  hostHomestayOrders(tradeState: $state, first: $first, after: $after) {
    edges { node { sn tradeState tradeCode liveStartDate user { id nickname mobile } } }
    pageInfo { hasNextPage endCursor } } }"""
GUEST_ORDER = "query($sn: ID!) { homestayOrder(sn: $sn) { sn tradeState tradeCode } }"
REDEEM = """mutation RedeemCheckInCode($code: String!) {
  redeemCheckInCode(code: $code) { sn tradeState tradeCode user { nickname } } }"""


async def host_and_catalog(router: GraphQLClient, travel_db: Database) -> tuple[Account, Catalog]:
    landlord = await register(router, nickname="核销房东")
    catalog = await make_catalog(
        travel_db, [int(landlord.user_id)], homestays_per_business=2, comments_per_homestay=0
    )
    return landlord, catalog


@pytest.fixture(scope="module")
async def guest(router: GraphQLClient, stack: Stack) -> Account:
    return await wechat_account(router, stack.sandbox_url, "入住的客人")


async def paid_order(
    router: GraphQLClient, stack: Stack, guest: Account, homestay_id: int, *, start_in: int
) -> dict[str, Any]:
    """A WAIT_USE order of the guest, as the guest sees it (with its check-in code)."""
    order = await book(router, guest, homestay_id, start_in=start_in)
    settled = await pay_and_settle(router, stack.sandbox_url, guest, order["sn"])
    assert isinstance(settled["tradeCode"], str) and len(settled["tradeCode"]) == 8
    return settled


async def host_orders(router: GraphQLClient, who: Account | None, **variables: Any) -> Result:
    return await router.execute(HOST_ORDERS, variables, token=who.access_token if who else None)


def sns(result: Result) -> list[str]:
    return [e["node"]["sn"] for e in result.ok()["hostHomestayOrders"]["edges"]]


async def test_a_host_lists_the_bookings_of_their_homestays_without_check_in_codes(
    router: GraphQLClient, stack: Stack, travel_db: Database, guest: Account
) -> None:
    landlord, catalog = await host_and_catalog(router, travel_db)
    other_landlord, other_catalog = await host_and_catalog(router, travel_db)
    paid = await paid_order(router, stack, guest, catalog.homestay_ids[0], start_in=3)
    second_guest = await register(router, nickname="第二位客人")
    unpaid = await book(router, second_guest, catalog.homestay_ids[1], start_in=4)
    elsewhere = await paid_order(router, stack, guest, other_catalog.homestay_ids[0], start_in=3)

    listed = await host_orders(router, landlord)
    assert sns(listed) == [unpaid["sn"], paid["sn"]]  # newest first, only this host's
    nodes = [e["node"] for e in listed.ok()["hostHomestayOrders"]["edges"]]
    # Selected or not, the host never gets a check-in code, nor a guest's mobile.
    assert [n["tradeCode"] for n in nodes] == [None, None]
    assert [n["tradeState"] for n in nodes] == ["WAIT_PAY", "WAIT_USE"]
    assert [n["user"] for n in nodes] == [
        {"id": second_guest.user_id, "nickname": "第二位客人", "mobile": None},
        {"id": guest.user_id, "nickname": "入住的客人", "mobile": None},
    ]
    assert sns(await host_orders(router, landlord, state="WAIT_USE")) == [paid["sn"]]
    first_page = await host_orders(router, landlord, first=1)
    assert sns(first_page) == [unpaid["sn"]]
    cursor = first_page.ok()["hostHomestayOrders"]["pageInfo"]["endCursor"]
    assert sns(await host_orders(router, landlord, first=1, after=cursor)) == [paid["sn"]]

    # Another landlord sees their own guests only; a guest hosting nothing sees nothing.
    assert sns(await host_orders(router, other_landlord)) == [elsewhere["sn"]]
    assert sns(await host_orders(router, second_guest)) == []
    assert (await host_orders(router, None)).codes == ["UNAUTHENTICATED"]

    # The guest still sees their code, in the order and in their list.
    mine = await router.execute(GUEST_ORDER, {"sn": paid["sn"]}, token=guest.access_token)
    assert mine.ok()["homestayOrder"]["tradeCode"] == paid["tradeCode"]
    own_list = await router.execute(
        "{ myHomestayOrders(tradeState: WAIT_USE) { edges { node { sn tradeCode } } } }",
        token=guest.access_token,
    )
    codes = {
        e["node"]["sn"]: e["node"]["tradeCode"] for e in own_list.ok()["myHomestayOrders"]["edges"]
    }
    assert codes[paid["sn"]] == paid["tradeCode"]


async def redeem(router: GraphQLClient, who: Account | None, code: str) -> Result:
    return await router.execute(REDEEM, {"code": code}, token=who.access_token if who else None)


async def state_of(router: GraphQLClient, guest: Account, sn: str) -> str:
    result = await router.execute(GUEST_ORDER, {"sn": sn}, token=guest.access_token)
    state: str = result.ok()["homestayOrder"]["tradeState"]
    return state


async def test_the_landlord_redeems_the_guests_code_once_from_check_in_day(
    router: GraphQLClient, stack: Stack, travel_db: Database, guest: Account
) -> None:
    landlord, catalog = await host_and_catalog(router, travel_db)
    other_landlord, other_catalog = await host_and_catalog(router, travel_db)
    today = await paid_order(router, stack, guest, catalog.homestay_ids[0], start_in=0)
    later = await paid_order(router, stack, guest, catalog.homestay_ids[1], start_in=5)
    theirs = await paid_order(router, stack, guest, other_catalog.homestay_ids[0], start_in=0)

    assert (await redeem(router, None, today["tradeCode"])).codes == ["UNAUTHENTICATED"]
    # Wrong, malformed, another landlord's, or entered by anyone but the landlord: unknown.
    for who, code in [
        (landlord, "ZZZZ0000"),
        (landlord, "!!"),
        (landlord, "A" * 5000),
        (landlord, theirs["tradeCode"]),
        (other_landlord, today["tradeCode"]),
        (guest, today["tradeCode"]),
    ]:
        assert (await redeem(router, who, code)).codes == ["NOT_FOUND"], (who.user_id, code)
    # Before check-in day: refused with its own code, and nothing changes.
    early = await redeem(router, landlord, later["tradeCode"])
    assert early.codes == ["CHECK_IN_NOT_OPEN"]
    check_in_day = china_today() + timedelta(days=5)
    assert early.errors[0]["extensions"]["checkInDate"] == check_in_day.isoformat()
    for sn in (today["sn"], later["sn"], theirs["sn"]):
        assert await state_of(router, guest, sn) == "WAIT_USE"

    # Two redeems at once (the code typed in lower case, with stray spaces): one wins.
    typed = f" {today['tradeCode'].lower()} "
    results = await asyncio.gather(*(redeem(router, landlord, typed) for _ in range(2)))
    [won] = [r for r in results if not r.errors]
    assert [c for r in results for c in r.codes] == ["CONFLICT"]
    assert won.ok()["redeemCheckInCode"] == {
        "sn": today["sn"],
        "tradeState": "USED",
        "tradeCode": None,  # the landlord typed it, but is not shown it
        "user": {"nickname": "入住的客人"},
    }
    assert (await redeem(router, landlord, today["tradeCode"])).codes == ["CONFLICT"]
    assert await state_of(router, guest, today["sn"]) == "USED"
    mine = await router.execute(GUEST_ORDER, {"sn": today["sn"]}, token=guest.access_token)
    assert mine.ok()["homestayOrder"]["tradeCode"] == today["tradeCode"]

    # The other landlord's own guest checks in with them.
    assert (await redeem(router, other_landlord, theirs["tradeCode"])).ok()
    assert await state_of(router, guest, theirs["sn"]) == "USED"


async def test_redeem_attempts_are_throttled_per_landlord(
    router: GraphQLClient, settings: Settings
) -> None:
    """Guessing codes is stopped: after the window's attempts, even a right code waits."""
    guesser = await register(router, nickname="猜码的人")
    attempts = settings.check_in_attempts_per_landlord
    results = await router.execute_concurrently(
        REDEEM,
        {"code": "GUESS123"},
        times=attempts + 1,
        headers={"Authorization": f"Bearer {guesser.access_token}"},
    )
    codes = sorted(c for r in results for c in r.codes)
    assert codes == ["NOT_FOUND"] * attempts + ["TOO_MANY_REQUESTS"]
    [throttled] = [r for r in results if r.codes == ["TOO_MANY_REQUESTS"]]
    assert throttled.errors[0]["extensions"]["retryAfter"] >= 1
    # Another landlord is not held back by this one.
    someone_else = await register(router)
    assert (await redeem(router, someone_else, "GUESS123")).codes == ["NOT_FOUND"]
