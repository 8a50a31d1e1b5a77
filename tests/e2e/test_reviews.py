"""Guests review their stays: only the guest of a USED order, once per order, and the
review is counted in the homestay's rating and the business's star as soon as the
mutation returns (no stale cache in between)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest

from common.clock import china_today
from common.db import Database
from common.settings import Domain, Settings
from subgraphs.orders.service import PaymentOutcome, finish_stays, take_payment
from tests.support.graphql import GraphQLClient
from tests.support.payments import book
from tests.support.travel import Catalog, make_catalog
from tests.support.users import Account, register

pytestmark = pytest.mark.e2e

REVIEW = """mutation($sn: ID!, $input: ReviewInput!) {
  reviewHomestayOrder(sn: $sn, input: $input) { id star content user { id } } }"""
HOMESTAY = """query($id: ID!) { homestay(id: $id) {
  rating commentCount business { star }
  comments(first: 2) { edges { node { id star content user { id } } } } } }"""
LIST = """{ guessHomestays(first: 50) { id rating commentCount } }"""


@pytest.fixture(scope="module")
async def orders_db(settings: Settings) -> AsyncIterator[Database]:
    db = Database(settings.database_url(Domain.ORDERS))
    yield db
    await db.dispose()


@pytest.fixture(scope="module")
async def catalog(router: GraphQLClient, travel_db: Database) -> Catalog:
    """Each on-sale homestay starts with 4 comments of 4 and 5 stars (rating 4.5)."""
    landlord = await register(router, nickname="点评房东")
    return await make_catalog(
        travel_db, [int(landlord.user_id)], homestays_per_business=3, title_prefix="沙溪"
    )


async def _paid_stay(
    router: GraphQLClient, orders_db: Database, guest: Account, homestay_id: int
) -> str:
    """An order of today's night, paid (WAIT_USE), as the payment broadcast would make it."""
    order = await book(router, guest, homestay_id, start_in=0)
    sn: str = order["sn"]
    assert await take_payment(orders_db, sn, f"PMT{sn[3:]}") is PaymentOutcome.PAID
    return sn


async def _used_stay(
    router: GraphQLClient, orders_db: Database, guest: Account, homestay_id: int
) -> str:
    """A paid stay that is over: the check-out day came and the stay job marked it USED."""
    sn = await _paid_stay(router, orders_db, guest, homestay_id)
    assert await finish_stays(orders_db, today=china_today() + timedelta(days=1)) >= 1
    return sn


async def _review(
    router: GraphQLClient, guest: Account, sn: str, star: int = 5, content: str = "很好"
) -> Any:
    return await router.execute(
        REVIEW, {"sn": sn, "input": {"star": star, "content": content}}, token=guest.access_token
    )


async def _homestay(router: GraphQLClient, homestay_id: int) -> dict[str, Any]:
    found: dict[str, Any] = (await router.execute(HOMESTAY, {"id": str(homestay_id)})).ok()[
        "homestay"
    ]
    return found


async def test_a_review_counts_at_once(
    router: GraphQLClient, orders_db: Database, catalog: Catalog
) -> None:
    homestay_id = catalog.homestay_ids[0]
    before = await _homestay(router, homestay_id)  # read first: the caches hold it now
    assert (before["rating"], before["commentCount"]) == (4.5, 4)
    assert before["business"]["star"] == 4.5  # 3 homestays × (4 + 5 + 4 + 5)
    assert homestay_id in {
        int(h["id"]) for h in (await router.execute(LIST)).ok()["guessHomestays"]
    }
    guest = await register(router, nickname="点评住客")
    sn = await _used_stay(router, orders_db, guest, homestay_id)

    review = (await _review(router, guest, sn, star=1, content="  隔音很差  ")).ok()
    comment = review["reviewHomestayOrder"]
    assert (comment["star"], comment["content"], comment["user"]["id"]) == (
        1.0,
        "隔音很差",
        guest.user_id,
    )

    after = await _homestay(router, homestay_id)
    assert after["comments"]["edges"][0]["node"]["id"] == comment["id"]  # the newest
    assert (after["rating"], after["commentCount"]) == (3.8, 5)  # (18 + 1) / 5
    assert after["business"]["star"] == 4.2  # (54 + 1) / 13, one decimal
    listed = {h["id"]: h for h in (await router.execute(LIST)).ok()["guessHomestays"]}
    assert (listed[str(homestay_id)]["rating"], listed[str(homestay_id)]["commentCount"]) == (
        3.8,
        5,
    )


async def test_only_the_guest_of_a_used_order_reviews_it_once(
    router: GraphQLClient, orders_db: Database, catalog: Catalog
) -> None:
    homestay_id = catalog.homestay_ids[1]
    guest = await register(router, nickname="入住客人")
    stranger = await register(router, nickname="路人")
    waiting = await _paid_stay(router, orders_db, guest, catalog.homestay_ids[2])
    assert (await _review(router, guest, waiting)).codes == ["FORBIDDEN"]  # not over yet
    sn = await _used_stay(router, orders_db, guest, homestay_id)
    before = await _homestay(router, homestay_id)

    assert (await _review(router, stranger, sn)).codes == ["FORBIDDEN"]
    assert (await _review(router, stranger, "HSO20260101000000nosuch00")).codes == ["FORBIDDEN"]
    assert (
        await router.execute(REVIEW, {"sn": sn, "input": {"star": 5, "content": "x"}})
    ).codes == ["UNAUTHENTICATED"]
    for star, content, field in [(0, "好", "star"), (6, "好", "star"), (5, "   ", "content"),
                                 (5, "好" * 501, "content")]:  # fmt: skip
        refused = await _review(router, guest, sn, star=star, content=content)
        assert refused.codes == ["BAD_USER_INPUT"]
        assert refused.errors[0]["extensions"]["field"] == field
    assert await _homestay(router, homestay_id) == before  # nothing was written

    # Twice at once, then again: exactly one review.
    both = await router.execute_concurrently(
        REVIEW,
        {"sn": sn, "input": {"star": 4, "content": "不错" * 250}},
        times=2,
        headers={"Authorization": f"Bearer {guest.access_token}"},
    )
    assert sorted(r.codes[0] if r.errors else "OK" for r in both) == ["CONFLICT", "OK"]
    assert (await _review(router, guest, sn)).codes == ["CONFLICT"]
    after = await _homestay(router, homestay_id)
    assert after["commentCount"] == before["commentCount"] + 1
