"""Guests' refunds: the amount follows the policy the guest booked under, the order goes
REFUNDING at once (its nights free again) and REFUNDED when WeChat Pay confirms — by its
notification, or by the reconciler when that notification is lost — and never twice."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from common.db import Database
from common.settings import Domain, Settings, get_settings
from subgraphs.payments.ledger import Source, entries
from subgraphs.travel.models import Homestay, HomestayBusiness
from tests.support.graphql import GraphQLClient, Result
from tests.support.payments import (
    PAYMENT_STATUS,
    book,
    pay_init,
    prepay_id,
    sandbox_messages,
    sandbox_pay,
)
from tests.support.stack import Stack
from tests.support.subscriptions import subscribe_ws
from tests.support.travel import Catalog, make_catalog
from tests.support.users import Account, register, wechat_account

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("background_jobs")]

SETTLE_SECONDS = 25.0
POLICIES = ("FLEXIBLE", "MODERATE", "STRICT")
# Percent refunded at 10, 3 and 0 days before check-in (API.md, "Refunds").
EXPECTED_PERCENT = {
    "FLEXIBLE": {10: 100, 3: 100, 0: 0},
    "MODERATE": {10: 100, 3: 50, 0: 0},
    "STRICT": {10: 50, 3: 0, 0: 0},
}
ORDER = """query($sn: ID!) { homestayOrder(sn: $sn) {
  sn tradeState orderTotalPrice refundableAmount refundAmount refundReason
  payment { sn payStatus payTotal refundTotal } } }"""
REFUND = """mutation($sn: ID!, $reason: String) {
  requestHomestayOrderRefund(sn: $sn, reason: $reason) {
    sn tradeState refundableAmount refundAmount refundReason } }"""


@pytest.fixture(scope="module")
def background_settings() -> dict[str, str]:
    """A reconciler that asks WeChat about refunds older than 3 s, every second."""
    return {"PAYMENT_RECONCILE_AFTER_SECONDS": "3", "PAYMENT_RECONCILE_EVERY_SECONDS": "1"}


@pytest.fixture(scope="module")
async def payments_db(settings: Settings) -> AsyncIterator[Database]:
    db = Database(settings.database_url(Domain.PAYMENTS))
    yield db
    await db.dispose()


@pytest.fixture(scope="module")
async def catalog(router: GraphQLClient, travel_db: Database) -> Catalog:
    """One business per policy (in POLICIES order), each with 4 homestays on sale; the
    first homestay of each costs an odd 29,901 fen a night (STRICT's half is rounded down)."""
    landlords = [await register(router, nickname=f"退款房东{n}") for n in range(3)]
    catalog = await make_catalog(
        travel_db,
        [int(landlord.user_id) for landlord in landlords],
        homestays_per_business=4,
        comments_per_homestay=0,
        title_prefix="双廊",
    )
    async with travel_db.write_session() as session:
        for business_id, policy in zip(catalog.business_ids, POLICIES, strict=True):
            await session.execute(
                update(HomestayBusiness)
                .where(HomestayBusiness.id == business_id)
                .values(cancellation_policy=policy)
            )
        await session.execute(
            update(Homestay)
            .where(Homestay.id.in_(catalog.homestay_ids[::4]))
            .values(homestay_price=29901)
        )
    return catalog


def _homestays_of(catalog: Catalog, policy: str) -> list[int]:
    start = POLICIES.index(policy) * 4
    return catalog.homestay_ids[start : start + 4]


async def _order(router: GraphQLClient, guest: Account, sn: str) -> dict[str, Any]:
    order: dict[str, Any] = (
        await router.execute(ORDER, {"sn": sn}, token=guest.access_token)
    ).ok()["homestayOrder"]
    return order


async def _eventually(
    router: GraphQLClient, guest: Account, sn: str, trade_state: str, pay_status: str
) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + SETTLE_SECONDS
    while True:
        order = await _order(router, guest, sn)
        if order["tradeState"] == trade_state and order["payment"]["payStatus"] == pay_status:
            return order
        assert loop.time() < deadline, f"stuck at {order['tradeState']}/{order['payment']}"
        await asyncio.sleep(0.2)


async def _paid(
    router: GraphQLClient, stack: Stack, guest: Account, homestay_id: int, *, start_in: int
) -> dict[str, Any]:
    """A booking paid in the sandbox, once the order is WAIT_USE."""
    order = await book(router, guest, homestay_id, start_in=start_in)
    params = (await pay_init(router, guest, order["sn"])).ok()["wxPayHomestayOrder"]
    await sandbox_pay(stack.sandbox_url, prepay_id(params))
    return await _eventually(router, guest, order["sn"], "WAIT_USE", "SUCCESS")


async def _refund(router: GraphQLClient, guest: Account, sn: str, reason: str | None) -> Result:
    return await router.execute(REFUND, {"sn": sn, "reason": reason}, token=guest.access_token)


async def _refund_numbers(payments_db: Database, payment_sn: str) -> set[str]:
    return {row.refund_sn for row in await entries(payments_db, payment_sn) if row.refund_sn}


@pytest.mark.parametrize("policy", POLICIES)
async def test_the_policy_decides_how_much_comes_back(
    router: GraphQLClient, stack: Stack, catalog: Catalog, payments_db: Database, policy: str
) -> None:
    guest = await wechat_account(router, stack.sandbox_url, f"退款住客{policy}")
    homestays = _homestays_of(catalog, policy)
    for homestay_id, days in zip(homestays, (10, 3, 0), strict=False):
        order = await _paid(router, stack, guest, homestay_id, start_in=days)
        expected = order["orderTotalPrice"] * EXPECTED_PERCENT[policy][days] // 100
        assert order["refundableAmount"] == expected, (policy, days)
        result = await _refund(router, guest, order["sn"], "行程有变")
        if expected == 0:  # refused, and nothing changed
            assert result.codes == ["NOT_REFUNDABLE"], (policy, days)
            after = await _order(router, guest, order["sn"])
            assert after == order
            continue
        refunding = result.ok()["requestHomestayOrderRefund"]
        assert (refunding["refundAmount"], refunding["refundReason"]) == (expected, "行程有变")
        assert refunding["tradeState"] == "REFUNDING"
        assert refunding["refundableAmount"] == 0
        done = await _eventually(router, guest, order["sn"], "REFUNDED", "REFUNDED")
        assert done["payment"]["refundTotal"] == expected
        assert done["payment"]["payTotal"] == order["orderTotalPrice"]
        ledger = await entries(payments_db, done["payment"]["sn"])
        assert sum(row.refunded for row in ledger) == expected


async def test_refunding_frees_the_nights_and_the_subscription_sees_it_through(
    router: GraphQLClient, stack: Stack, catalog: Catalog
) -> None:
    guest = await wechat_account(router, stack.sandbox_url, "改行程的住客")
    homestay_id = _homestays_of(catalog, "MODERATE")[3]
    order = await _paid(router, stack, guest, homestay_id, start_in=20)
    async with subscribe_ws(
        router.url, PAYMENT_STATUS, {"sn": order["sn"]}, token=guest.access_token
    ) as live:
        assert (await live.next())["paymentStatus"]["payStatus"] == "SUCCESS"
        refunding = (await _refund(router, guest, order["sn"], None)).ok()
        assert refunding["requestHomestayOrderRefund"]["tradeState"] == "REFUNDING"
        # The nights are free the moment the refund is asked for: someone else books them.
        other = await register(router, nickname="捡漏的住客")
        again = await book(router, other, homestay_id, start_in=20)
        assert again["sn"] != order["sn"]

        seen = [(await live.next())["paymentStatus"]["payStatus"]]
        while seen[-1] != "REFUNDED":
            seen.append((await live.next(within=SETTLE_SECONDS))["paymentStatus"]["payStatus"])
    assert seen == ["REFUNDING", "REFUNDED"]
    done = await _eventually(router, guest, order["sn"], "REFUNDED", "REFUNDED")
    assert done["payment"]["refundTotal"] == order["orderTotalPrice"]  # 20 days: all of it

    assert guest.openid is not None  # the payer is told their money went back
    template = get_settings().wechat_refund_template_id
    loop = asyncio.get_running_loop()
    deadline = loop.time() + SETTLE_SECONDS
    # The payer already has the "payment succeeded" message: wait for the refund's own.
    while not (
        refunds := [
            m
            for m in await sandbox_messages(stack.sandbox_url, guest.openid)
            if m["template_id"] == template
        ]
    ):
        assert loop.time() < deadline, "the payer was never told of the refund"
        await asyncio.sleep(0.2)
    await asyncio.sleep(1)  # a second message, if any were sent, has arrived by now
    refunds = [
        m
        for m in await sandbox_messages(stack.sandbox_url, guest.openid)
        if m["template_id"] == template
    ]
    assert [m["data"]["character_string1"]["value"] for m in refunds] == [order["sn"]]


async def test_a_lost_refund_notification_is_reconciled(
    router: GraphQLClient, stack: Stack, catalog: Catalog, payments_db: Database
) -> None:
    guest = await wechat_account(router, stack.sandbox_url, "等退款的住客")
    order = await _paid(router, stack, guest, _homestays_of(catalog, "STRICT")[3], start_in=30)
    payment_sn = order["payment"]["sn"]
    async with httpx.AsyncClient() as http:
        lost = await http.post(
            f"{stack.sandbox_url}/sandbox/pay/refund-notifications",
            json={"out_trade_no": payment_sn, "notify": False},
        )
    lost.raise_for_status()

    asked = (await _refund(router, guest, order["sn"], None)).ok()["requestHomestayOrderRefund"]
    assert asked["refundAmount"] == order["orderTotalPrice"] * 50 // 100
    done = await _eventually(router, guest, order["sn"], "REFUNDED", "REFUNDED")
    assert done["payment"]["refundTotal"] == asked["refundAmount"]
    # WeChat never told us: the reconciler asked, and its answer moved the money.
    [moved] = [row for row in await entries(payments_db, payment_sn) if row.refunded]
    assert moved.source == Source.REFUND_QUERY
    async with httpx.AsyncClient() as http:
        deliveries = (
            await http.get(
                f"{stack.sandbox_url}/sandbox/pay/deliveries", params={"out_trade_no": payment_sn}
            )
        ).json()["deliveries"]
    assert len(deliveries) == 1  # the payment's notification only, no refund's


async def test_two_refund_requests_at_once_make_one_refund(
    router: GraphQLClient, stack: Stack, catalog: Catalog, payments_db: Database
) -> None:
    guest = await wechat_account(router, stack.sandbox_url, "手快的住客")
    stranger = await register(router, nickname="别人")
    homestay_id = _homestays_of(catalog, "FLEXIBLE")[3]
    unpaid = await book(router, guest, homestay_id, start_in=50)
    assert (await _refund(router, guest, unpaid["sn"], None)).codes == ["CONFLICT"]
    order = await _paid(router, stack, guest, homestay_id, start_in=40)
    assert (await _refund(router, stranger, order["sn"], None)).codes == ["NOT_FOUND"]
    assert (await _refund(router, guest, order["sn"], "长" * 81)).codes == ["BAD_USER_INPUT"]

    both = await router.execute_concurrently(
        REFUND,
        {"sn": order["sn"], "reason": None},
        times=2,
        headers={"Authorization": f"Bearer {guest.access_token}"},
    )
    assert sorted(r.codes[0] if r.errors else "OK" for r in both) == ["CONFLICT", "OK"]
    done = await _eventually(router, guest, order["sn"], "REFUNDED", "REFUNDED")
    assert done["payment"]["refundTotal"] == order["orderTotalPrice"]
    assert len(await _refund_numbers(payments_db, done["payment"]["sn"])) == 1
    assert (await _refund(router, guest, order["sn"], None)).codes == ["CONFLICT"]
