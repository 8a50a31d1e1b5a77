"""A homestay's calendar and the landlord's blocks, through the router: what is shown,
who may change it, and that a block and a booking never both take a night."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from common.clock import china_today
from common.db import Database
from common.settings import Domain, Settings
from subgraphs.orders.models import HomestayNight, HomestayOrder
from tests.support.graphql import GraphQLClient, Result
from tests.support.metrics import statements
from tests.support.stack import Stack
from tests.support.travel import Catalog, make_catalog
from tests.support.users import Account, register

pytestmark = pytest.mark.e2e

CALENDAR = """query HomestayCalendar($id: ID!, $from: Date!, $to: Date!) {
  homestay(id: $id) { id calendar(from: $from, to: $to) { date available blocked } } }"""
BLOCK = """mutation($id: ID!, $from: Date!, $to: Date!) {
  blockHomestayNights(homestayId: $id, from: $from, to: $to) { date available blocked } }"""
UNBLOCK = """mutation($id: ID!, $from: Date!, $to: Date!) {
  unblockHomestayNights(homestayId: $id, from: $from, to: $to) { date available blocked } }"""
BOOK = """mutation($input: CreateHomestayOrderInput!) {
  createHomestayOrder(input: $input) { sn tradeState } }"""


def day(offset: int) -> date:
    return china_today() + timedelta(days=offset)


def nights(homestay_id: int, start_in: int, end_in: int) -> dict[str, str]:
    return {
        "id": str(homestay_id),
        "from": day(start_in).isoformat(),
        "to": day(end_in).isoformat(),
    }


def stay(homestay_id: int, start_in: int, end_in: int) -> dict[str, Any]:
    return {
        "input": {
            "homestayId": str(homestay_id),
            "liveStartDate": day(start_in).isoformat(),
            "liveEndDate": day(end_in).isoformat(),
            "livePeopleNum": 1,
        }
    }


@pytest.fixture(scope="module")
async def orders_db(settings: Settings) -> AsyncIterator[Database]:
    """The orders database, to check what the nights table holds after a race."""
    db = Database(settings.database_url(Domain.ORDERS))
    yield db
    await db.dispose()


@pytest.fixture(scope="module")
async def landlord(router: GraphQLClient) -> Account:
    return await register(router, nickname="日历房东")


@pytest.fixture(scope="module")
async def other_landlord(router: GraphQLClient) -> Account:
    return await register(router, nickname="隔壁房东")


@pytest.fixture(scope="module")
async def catalog(travel_db: Database, landlord: Account, other_landlord: Account) -> Catalog:
    """Six homestays of `landlord` (0–5), then six of `other_landlord` (6–11)."""
    return await make_catalog(
        travel_db,
        [int(landlord.user_id), int(other_landlord.user_id)],
        homestays_per_business=6,
        comments_per_homestay=0,
        title_prefix="日历",
    )


async def calendar(router: GraphQLClient, homestay_id: int, start_in: int, end_in: int) -> Result:
    return await router.execute(CALENDAR, nights(homestay_id, start_in, end_in))


async def days(router: GraphQLClient, homestay_id: int, start_in: int, end_in: int) -> list[str]:
    """The calendar as one letter a night: F free, B booked (or past), X blocked."""
    found = (await calendar(router, homestay_id, start_in, end_in)).ok()["homestay"]["calendar"]
    assert [d["date"] for d in found] == [day(n).isoformat() for n in range(start_in, end_in)]
    return ["X" if d["blocked"] else "F" if d["available"] else "B" for d in found]


async def change(
    router: GraphQLClient, document: str, who: Account | None, variables: dict[str, str]
) -> Result:
    return await router.execute(document, variables, token=who.access_token if who else None)


async def test_calendar_shows_past_booked_and_blocked_nights(
    router: GraphQLClient, catalog: Catalog, landlord: Account
) -> None:
    homestay = catalog.homestay_ids[0]
    guest = await register(router)
    assert (await router.execute(BOOK, stay(homestay, 3, 5), token=guest.access_token)).ok()
    blocked = (await change(router, BLOCK, landlord, nights(homestay, 6, 8))).ok()
    assert blocked["blockHomestayNights"] == [
        {"date": day(n).isoformat(), "available": False, "blocked": True} for n in (6, 7)
    ]

    # Yesterday is past, 3–4 booked, 6–7 blocked: anyone may read it, no login needed.
    assert await days(router, homestay, -1, 10) == list("BFFFBBFXXFF")
    refused = await router.execute(BOOK, stay(homestay, 7, 9), token=guest.access_token)
    assert refused.codes == ["HOMESTAY_UNAVAILABLE"]

    reopened = (await change(router, UNBLOCK, landlord, nights(homestay, 5, 8))).ok()
    assert [d["available"] for d in reopened["unblockHomestayNights"]] == [True] * 3
    assert (await router.execute(BOOK, stay(homestay, 7, 9), token=guest.access_token)).ok()
    assert await days(router, homestay, 2, 10) == list("FBBFFBBF")


async def test_calendar_ranges_are_bounded(router: GraphQLClient, catalog: Catalog) -> None:
    homestay = catalog.homestay_ids[1]
    assert len(await days(router, homestay, 0, 92)) == 92
    for start_in, end_in in ((0, 93), (5, 5), (5, 4)):
        refused = await calendar(router, homestay, start_in, end_in)
        assert refused.codes == ["BAD_USER_INPUT"]
        assert refused.errors[0]["extensions"]["field"] == "to"


async def test_blocking_is_all_or_nothing_and_unblocking_never_frees_a_booking(
    router: GraphQLClient, catalog: Catalog, landlord: Account
) -> None:
    homestay = catalog.homestay_ids[2]
    guest = await register(router)
    order = (await router.execute(BOOK, stay(homestay, 21, 22), token=guest.access_token)).ok()

    refused = await change(router, BLOCK, landlord, nights(homestay, 19, 24))
    assert refused.codes == ["HOMESTAY_UNAVAILABLE"]
    assert refused.errors[0]["extensions"]["bookedNights"] == [day(21).isoformat()]
    assert await days(router, homestay, 19, 24) == list("FFBFF")  # nothing was blocked

    assert (await change(router, BLOCK, landlord, nights(homestay, 19, 21))).ok()
    # Blocking blocked nights again is harmless.
    assert (await change(router, BLOCK, landlord, nights(homestay, 18, 21))).ok()
    assert await days(router, homestay, 18, 23) == list("XXXBF")

    # Unblocking across the booking frees the blocks, never the order's night.
    assert (await change(router, UNBLOCK, landlord, nights(homestay, 18, 24))).ok()
    assert await days(router, homestay, 18, 23) == list("FFFBF")
    mine = "query($sn: ID!) { homestayOrder(sn: $sn) { tradeState } }"
    sn = order["createHomestayOrder"]["sn"]
    still = await router.execute(mine, {"sn": sn}, token=guest.access_token)
    assert still.ok()["homestayOrder"]["tradeState"] == "WAIT_PAY"


async def test_only_the_landlord_changes_the_nights(
    router: GraphQLClient, catalog: Catalog, landlord: Account, other_landlord: Account
) -> None:
    homestay = catalog.homestay_ids[3]
    guest = await register(router)
    assert (await change(router, BLOCK, landlord, nights(homestay, 30, 31))).ok()
    for document in (BLOCK, UNBLOCK):
        for who in (other_landlord, guest):
            refused = await change(router, document, who, nights(homestay, 30, 32))
            assert refused.codes == ["FORBIDDEN"], (document, who.user_id)
        anonymous = await change(router, document, None, nights(homestay, 30, 32))
        assert anonymous.codes == ["UNAUTHENTICATED"]
        unknown = await change(router, document, landlord, nights(987654321, 30, 32))
        assert unknown.codes == ["NOT_FOUND"]
        malformed = await change(router, document, landlord, {**nights(1, 30, 32), "id": "x"})
        assert malformed.codes == ["BAD_USER_INPUT"]
        assert malformed.errors[0]["extensions"]["field"] == "homestayId"
        past = await change(router, document, landlord, nights(homestay, -2, 1))
        assert past.codes == ["BAD_USER_INPUT"]
        assert past.errors[0]["extensions"]["field"] == "from"
        too_long = await change(router, document, landlord, nights(homestay, 30, 123))
        assert too_long.codes == ["BAD_USER_INPUT"]
    # Nothing the others tried changed anything; the other landlord's own homestay is theirs.
    assert await days(router, homestay, 29, 33) == list("FXFF")
    assert await change(router, BLOCK, other_landlord, nights(catalog.homestay_ids[6], 30, 32))
    theirs = await change(router, BLOCK, landlord, nights(catalog.homestay_ids[6], 30, 32))
    assert theirs.codes == ["FORBIDDEN"]


async def test_a_block_racing_bookings_leaves_exactly_one_holder(
    router: GraphQLClient, orders_db: Database, catalog: Catalog, landlord: Account
) -> None:
    """Each round, the landlord blocks nights 3 guests try to book at the same moment:
    one of the four wins, and the nights table holds the winner's rows only."""
    homestay = catalog.homestay_ids[4]
    guests = [await register(router) for _ in range(3)]
    cancel = "mutation($sn: ID!) { cancelHomestayOrder(sn: $sn) { sn } }"
    outcomes = []
    for round_ in range(6):
        start = 40 + 4 * round_
        block, *bookings = await asyncio.gather(
            change(router, BLOCK, landlord, nights(homestay, start, start + 3)),
            *(
                router.execute(BOOK, stay(homestay, start + 1, start + 3), token=g.access_token)
                for g in guests
            ),
        )
        winners = [(g, b) for g, b in zip(guests, bookings, strict=True) if not b.errors]
        assert len(winners) + (not block.errors) == 1, f"round {round_}: not one winner"
        losers = [b for b in [block, *bookings] if b.errors]
        assert [c for b in losers for c in b.codes] == ["HOMESTAY_UNAVAILABLE"] * 3
        rows = await _night_rows(orders_db, homestay, day(start), day(start + 3))
        if winners:
            outcomes.append("booking")
            [(guest, won)] = winners
            sn = won.ok()["createHomestayOrder"]["sn"]
            [order_id] = await _order_ids(orders_db, [sn])
            assert rows == {day(start + 1): order_id, day(start + 2): order_id}
            assert await days(router, homestay, start, start + 3) == list("FBB")
            # Free the guest's unpaid slot for the next rounds.
            assert (await router.execute(cancel, {"sn": sn}, token=guest.access_token)).ok()
        else:
            outcomes.append("block")
            assert rows == {day(start + n): None for n in range(3)}
            assert await days(router, homestay, start, start + 3) == list("XXX")
    print("race winners:", outcomes)


async def _night_rows(
    db: Database, homestay: int, start: date, end: date
) -> dict[date, int | None]:
    """night -> order id (None for a block) of the homestay's rows in [start, end)."""
    async with db.session() as session:
        rows = await session.execute(
            select(HomestayNight.night, HomestayNight.order_id).where(
                HomestayNight.homestay_id == homestay,
                HomestayNight.night >= start,
                HomestayNight.night < end,
            )
        )
        return {night: order_id for night, order_id in rows}


async def _order_ids(db: Database, sns: list[str]) -> list[int]:
    async with db.session() as session:
        return list(
            await session.scalars(select(HomestayOrder.id).where(HomestayOrder.sn.in_(sns)))
        )


ENTITIES = """query($reps: [_Any!]!, $from: Date!, $to: Date!) { _entities(representations: $reps) {
  ... on Homestay { id calendar(from: $from, to: $to) { date available blocked } } } }"""


async def test_calendars_of_many_homestays_load_in_one_statement(
    stack: Stack, router: GraphQLClient, catalog: Catalog, landlord: Account
) -> None:
    """How the router asks orders for the calendars of a page of homestays: one batch."""
    homestays = catalog.homestay_ids[:6]
    assert (await change(router, BLOCK, landlord, nights(homestays[5], 100, 101))).ok()
    orders = GraphQLClient(stack.subgraph_urls[Domain.ORDERS])

    async def resolve(ids: list[int]) -> tuple[list[Any], float]:
        variables = {
            "reps": [{"__typename": "Homestay", "id": str(i)} for i in ids],
            "from": day(100).isoformat(),
            "to": day(102).isoformat(),
        }
        before = await statements(orders.url, "orders")
        found = (await orders.execute(ENTITIES, variables)).ok()["_entities"]
        return found, await statements(orders.url, "orders") - before

    [one], cost_of_one = await resolve(homestays[:1])
    many, cost_of_many = await resolve(homestays)
    assert cost_of_many == cost_of_one
    assert [e["id"] for e in many] == [str(i) for i in homestays]
    assert [d["blocked"] for d in many[5]["calendar"]] == [True, False]
    assert one["calendar"] == many[0]["calendar"]

    # Through the router: a business's homestays with their calendars.
    page = """query($id: ID!, $from: Date!, $to: Date!) { homestayBusiness(id: $id) {
      homestays(first: 10) { edges { node { id calendar(from: $from, to: $to) { blocked } } } }
    } }"""
    variables = {
        "id": str(catalog.business_ids[0]),
        "from": day(100).isoformat(),
        "to": day(101).isoformat(),
    }
    edges = (await router.execute(page, variables)).ok()["homestayBusiness"]["homestays"]["edges"]
    blocked = {e["node"]["id"]: e["node"]["calendar"][0]["blocked"] for e in edges}
    assert blocked == {str(i): i == homestays[5] for i in homestays}
