"""Guests search through the router: keyword ranking (Chinese too), filters, and dates fed by
orders' held nights (router → orders → outbox → worker → travel's read model)."""

from __future__ import annotations

import asyncio
import random
import statistics
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest

from common.cache import CacheHub
from common.clock import china_today
from common.db import Database
from common.redis import create_redis
from common.settings import Domain, Settings
from subgraphs.travel.models import Homestay, HomestayBusiness, RowState
from tests.support.graphql import GraphQLClient
from tests.support.metrics import statements
from tests.support.stack import Stack
from tests.support.users import Account, register

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("background_jobs")]

# Booking → gone from a date search, through the router. Measured here ≈ 0.1–1.2 s (the
# outbox relay is kicked at commit; the worker's idle poll is ≤ 1 s); the bound leaves
# room for a loaded CI box.
STALENESS_BOUND_SECONDS = 10.0
PAY_TIMEOUT_SECONDS = 3

SEARCH = """query($k: String, $in: Date, $out: Date, $guests: Int, $min: Int, $max: Int,
  $first: Int, $after: String) { searchHomestays(keyword: $k, checkIn: $in, checkOut: $out,
  guests: $guests, minPrice: $min, maxPrice: $max, first: $first, after: $after) {
  edges { cursor node { id title onSale } } pageInfo { hasNextPage endCursor } } }"""
CREATE = """mutation($input: CreateHomestayOrderInput!) {
  createHomestayOrder(input: $input) { sn tradeState } }"""
CANCEL = "mutation($sn: ID!) { cancelHomestayOrder(sn: $sn) { sn tradeState } }"
BLOCK = """mutation($id: ID!, $from: Date!, $to: Date!) {
  blockHomestayNights(homestayId: $id, from: $from, to: $to) { date blocked } }"""
UNBLOCK = """mutation($id: ID!, $from: Date!, $to: Date!) {
  unblockHomestayNights(homestayId: $id, from: $from, to: $to) { date blocked } }"""


def _tag() -> str:
    """Two Chinese characters no other test's catalog uses (a 2-character keyword)."""
    return "".join(chr(random.randint(0x5000, 0x9000)) for _ in range(2))


def _price() -> int:
    """A price (fen) no other homestay has: a filter that isolates one test's rows."""
    return random.randint(10_000_000, 90_000_000)


@pytest.fixture(scope="module")
async def landlord(router: GraphQLClient) -> Account:
    return await register(router, nickname="搜索房东")


@pytest.fixture(scope="module")
async def business_id(travel_db: Database, landlord: Account) -> int:
    async with travel_db.write_session() as session:
        business = HomestayBusiness(title="搜索测试", user_id=int(landlord.user_id))
        session.add(business)
        await session.flush()
        return business.id


@pytest.fixture(scope="module")
def add_homestay(
    travel_db: Database, business_id: int, landlord: Account
) -> Callable[..., Awaitable[int]]:
    async def add(
        title: str,
        *,
        info: str = "",
        price: int = 30_000,
        people: int = 2,
        on_sale: bool = True,
    ) -> int:
        async with travel_db.write_session() as session:
            homestay = Homestay(
                title=title,
                info=info,
                people_num=people,
                homestay_business_id=business_id,
                user_id=int(landlord.user_id),
                row_state=RowState.ON_SALE if on_sale else RowState.OFF_SALE,
                homestay_price=price,
                market_homestay_price=price,
            )
            session.add(homestay)
            await session.flush()
            return homestay.id

    return add


async def _ids(router: GraphQLClient, **variables: Any) -> list[int]:
    page = (await router.execute(SEARCH, {"first": 50, **variables})).ok()["searchHomestays"]
    return [int(edge["node"]["id"]) for edge in page["edges"]]


async def _until(condition: Callable[[], Awaitable[bool]], what: str) -> float:
    """Seconds until `condition` holds (polled), failing past the staleness bound."""
    started = time.monotonic()
    while not await condition():
        elapsed = time.monotonic() - started
        assert elapsed < STALENESS_BOUND_SECONDS, f"{what}: not within {STALENESS_BOUND_SECONDS}s"
        await asyncio.sleep(0.05)
    return time.monotonic() - started


def _dates(start_in: int, nights: int) -> tuple[str, str]:
    start = china_today() + timedelta(days=start_in)
    return start.isoformat(), (start + timedelta(days=nights)).isoformat()


def _stay(homestay_id: int, start_in: int, nights: int) -> dict[str, Any]:
    check_in, check_out = _dates(start_in, nights)
    return {
        "input": {
            "homestayId": str(homestay_id),
            "liveStartDate": check_in,
            "liveEndDate": check_out,
            "livePeopleNum": 1,
        }
    }


async def test_chinese_two_character_keyword(
    router: GraphQLClient, add_homestay: Callable[..., Awaitable[int]]
) -> None:
    tag, price = _tag(), _price()
    lake = await add_homestay(f"{tag}边的洱海小院", price=price)
    other = await add_homestay(f"{tag}山居", price=price)
    assert await _ids(router, k="洱海", min=price, max=price) == [lake]
    assert set(await _ids(router, k=tag)) == {lake, other}
    assert await _ids(router, k=f"{tag}边") == [lake]  # three characters: both bigrams
    assert await _ids(router, k="海洱", min=price, max=price) == []  # not the reverse
    assert await _ids(router, k="!!!") == []  # nothing to match


async def test_title_match_ranks_before_info_match_with_stable_pages(
    router: GraphQLClient, add_homestay: Callable[..., Awaitable[int]]
) -> None:
    tag = _tag()
    older_title = await add_homestay(f"{tag}观景房")
    info_only = await add_homestay("普通房间", info=f"步行可到{tag}")
    newer_title = await add_homestay(f"湖边{tag}")
    await add_homestay(f"下架的{tag}", on_sale=False)
    expected = [newer_title, older_title, info_only]
    assert await _ids(router, k=tag) == expected
    paged: list[int] = []
    after = None
    while True:
        variables = {"k": tag, "first": 1, "after": after}
        page = (await router.execute(SEARCH, variables)).ok()["searchHomestays"]
        paged += [int(edge["node"]["id"]) for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert paged == expected


async def test_guests_and_price_filters_and_newest_first_without_keyword(
    router: GraphQLClient, add_homestay: Callable[..., Awaitable[int]]
) -> None:
    low = _price()
    small = await add_homestay("两人间", price=low, people=2)
    family = await add_homestay("家庭房", price=low + 100, people=4)
    villa = await add_homestay("别墅", price=low + 200, people=6)
    assert await _ids(router, min=low, max=low + 200) == [villa, family, small]
    assert await _ids(router, min=low, max=low + 200, guests=4) == [villa, family]
    assert await _ids(router, min=low + 50, max=low + 150) == [family]
    assert await _ids(router, min=low + 100, max=low + 100, guests=5) == []


async def test_booked_homestay_leaves_a_date_search_and_returns_after_cancel(
    router: GraphQLClient, add_homestay: Callable[..., Awaitable[int]]
) -> None:
    tag = _tag()
    homestay = await add_homestay(f"{tag}可订")
    neighbour = await add_homestay(f"{tag}隔壁")
    guest = await register(router, nickname="搜索住客")
    overlapping = dict(zip(("in", "out"), _dates(41, 3), strict=True))  # nights 41-43
    before = dict(zip(("in", "out"), _dates(38, 2), strict=True))  # nights 38-39: still free
    assert set(await _ids(router, k=tag, **overlapping)) == {homestay, neighbour}

    order = (await router.execute(CREATE, _stay(homestay, 40, 2), token=guest.access_token)).ok()
    sn = order["createHomestayOrder"]["sn"]

    async def gone() -> bool:
        return await _ids(router, k=tag, **overlapping) == [neighbour]

    waited = await _until(gone, "booked homestay still listed")
    print(f"booked → gone from the date search in {waited:.2f}s")
    assert set(await _ids(router, k=tag, **before)) == {homestay, neighbour}
    assert set(await _ids(router, k=tag)) == {homestay, neighbour}  # no dates: listed
    # Booking stays the authority, read model or not.
    again = await router.execute(CREATE, _stay(homestay, 41, 1), token=guest.access_token)
    assert again.codes == ["HOMESTAY_UNAVAILABLE"]

    cancelled = await router.execute(CANCEL, {"sn": sn}, token=guest.access_token)
    assert cancelled.ok()["cancelHomestayOrder"]["tradeState"] == "CANCELLED"

    async def back() -> bool:
        return set(await _ids(router, k=tag, **overlapping)) == {homestay, neighbour}

    await _until(back, "cancelled homestay not listed again")


async def test_blocked_nights_leave_a_date_search_and_return_after_unblock(
    router: GraphQLClient, add_homestay: Callable[..., Awaitable[int]], landlord: Account
) -> None:
    tag = _tag()
    homestay = await add_homestay(f"{tag}房东自用")
    neighbour = await add_homestay(f"{tag}可订邻居")
    stay = dict(zip(("in", "out"), _dates(60, 2), strict=True))  # nights 60-61
    assert set(await _ids(router, k=tag, **stay)) == {homestay, neighbour}

    weekend = dict(zip(("from", "to"), _dates(61, 2), strict=True), id=str(homestay))
    (await router.execute(BLOCK, weekend, token=landlord.access_token)).ok()

    async def gone() -> bool:
        return await _ids(router, k=tag, **stay) == [neighbour]

    await _until(gone, "homestay with blocked nights still listed for them")
    (await router.execute(UNBLOCK, weekend, token=landlord.access_token)).ok()

    async def back() -> bool:
        return set(await _ids(router, k=tag, **stay)) == {homestay, neighbour}

    await _until(back, "unblocked homestay not listed again")


@pytest.fixture(scope="module")
def impatient_router(stack: Stack) -> GraphQLClient:
    """A router whose orders subgraph gives buyers PAY_TIMEOUT_SECONDS to pay."""
    orders = stack.start_subgraph(Domain.ORDERS, ORDER_PAY_TIMEOUT=str(PAY_TIMEOUT_SECONDS))
    return GraphQLClient(stack.start_router(SUBGRAPH_ORDERS_URL=orders))


async def test_closed_unpaid_order_frees_its_nights_in_search(
    router: GraphQLClient,
    impatient_router: GraphQLClient,
    add_homestay: Callable[..., Awaitable[int]],
) -> None:
    tag = _tag()
    homestay = await add_homestay(f"{tag}超时")
    guest = await register(router, nickname="不付款的住客")
    dates = dict(zip(("in", "out"), _dates(60, 2), strict=True))
    created = await impatient_router.execute(
        CREATE, _stay(homestay, 60, 2), token=guest.access_token
    )
    created.ok()

    async def gone() -> bool:
        return await _ids(router, k=tag, **dates) == []

    await _until(gone, "booked homestay still listed")

    async def back() -> bool:
        return await _ids(router, k=tag, **dates) == [homestay]

    started = time.monotonic()
    while not await back():  # the close job runs PAY_TIMEOUT_SECONDS after booking
        assert time.monotonic() - started < PAY_TIMEOUT_SECONDS + STALENESS_BOUND_SECONDS
        await asyncio.sleep(0.1)


async def test_staleness_of_date_search_is_bounded(
    router: GraphQLClient, add_homestay: Callable[..., Awaitable[int]]
) -> None:
    """Seconds from a booking's reply to its homestay leaving a date search, five times."""
    tag = _tag()
    lags = []
    for n in range(5):
        guest = await register(router, nickname=f"测延迟的住客{n}")  # one unpaid order each
        homestay = await add_homestay(f"{tag}测{n}")
        dates = dict(zip(("in", "out"), _dates(70 + 3 * n, 1), strict=True))
        booked = await router.execute(
            CREATE, _stay(homestay, 70 + 3 * n, 1), token=guest.access_token
        )
        booked.ok()

        async def gone(homestay: int = homestay, dates: dict[str, str] = dates) -> bool:
            return homestay not in await _ids(router, k=tag, **dates)

        lags.append(await _until(gone, "booked homestay still listed"))
    print(f"staleness: median {statistics.median(lags):.2f}s, max {max(lags):.2f}s")
    assert max(lags) < STALENESS_BOUND_SECONDS


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"in": 5, "out": 5}, "checkOut"),
        ({"in": 5, "out": 3}, "checkOut"),
        ({"in": -1, "out": 2}, "checkIn"),
        ({"in": 5, "out": 36}, "checkOut"),
        ({"in": 400, "out": 401}, "checkIn"),
        ({"in": 5}, "checkOut"),
        ({"out": 5}, "checkIn"),
        ({"guests": 0}, "guests"),
        ({"guests": 51}, "guests"),
        ({"min": -1}, "minPrice"),
        ({"max": -1}, "maxPrice"),
        ({"min": 500, "max": 100}, "maxPrice"),
        ({"k": "   "}, "keyword"),
        ({"k": "长" * 51}, "keyword"),
    ],
)
async def test_bad_input_is_refused_with_its_field(
    router: GraphQLClient, arguments: dict[str, Any], field: str
) -> None:
    today = china_today()
    variables = {
        key: (today + timedelta(days=value)).isoformat() if key in ("in", "out") else value
        for key, value in arguments.items()
    }
    result = await router.execute(SEARCH, variables)
    assert result.codes == ["BAD_USER_INPUT"]
    assert result.errors[0]["extensions"]["field"] == field


async def test_statements_per_search_are_constant_in_page_size(
    router: GraphQLClient,
    stack: Stack,
    settings: Settings,
    add_homestay: Callable[..., Awaitable[int]],
) -> None:
    tag, price = _tag(), _price()
    for n in range(8):
        await add_homestay(f"{tag}房{n}", info="安静", price=price, people=3)
    query = """query($k: String, $in: Date, $out: Date, $first: Int, $p: Int) {
      searchHomestays(keyword: $k, checkIn: $in, checkOut: $out, guests: 2, minPrice: $p,
      maxPrice: $p, first: $first) { edges { node { id title business { title } } } } }"""
    check_in, check_out = _dates(90, 2)
    travel_url = stack.subgraph_urls[Domain.TRAVEL]
    costs = {}
    for size in (2, 8):
        redis = create_redis(settings.redis_url)
        await CacheHub(redis, local_ttl_seconds=0).flush()  # cold: the business batch counts
        await redis.aclose()
        before = await statements(travel_url, "travel")
        variables = {"k": tag, "in": check_in, "out": check_out, "first": size, "p": price}
        result = (await router.execute(query, variables)).ok()["searchHomestays"]
        assert len(result["edges"]) == size
        costs[size] = await statements(travel_url, "travel") - before
    # The search itself, then one batch for the businesses.
    assert costs[2] == costs[8] == 2, costs
