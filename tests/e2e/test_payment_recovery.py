"""When things go wrong around a payment, money is never lost or kept:
a lost notification is reconciled, a payment for a closed order is refunded, and a
cancelled order's WeChat order is closed so it can no longer be paid."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from common.db import Database
from common.settings import get_settings
from tests.support.graphql import GraphQLClient
from tests.support.payments import (
    ORDER_WITH_PAYMENT,
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
CANCEL = "mutation($sn: ID!) { cancelHomestayOrder(sn: $sn) { sn tradeState } }"


@pytest.fixture(scope="module")
def background_settings() -> dict[str, str]:
    """A reconciler that asks WeChat about payments older than 3 s, every second."""
    return {"PAYMENT_RECONCILE_AFTER_SECONDS": "3", "PAYMENT_RECONCILE_EVERY_SECONDS": "1"}


@pytest.fixture(scope="module")
async def catalog(router: GraphQLClient, travel_db: Database) -> Catalog:
    landlord = await register(router, nickname="对账房东")
    return await make_catalog(
        travel_db, [int(landlord.user_id)], homestays_per_business=4, title_prefix="喜洲"
    )


@pytest.fixture
async def payer(router: GraphQLClient, stack: Stack) -> Account:
    return await wechat_account(router, stack.sandbox_url, "对账住客")


async def _order(router: GraphQLClient, guest: Account, sn: str) -> dict[str, object]:
    result = await router.execute(ORDER_WITH_PAYMENT, {"sn": sn}, token=guest.access_token)
    order: dict[str, object] = result.ok()["homestayOrder"]
    return order


async def _eventually(
    router: GraphQLClient, guest: Account, sn: str, trade_state: str, pay_status: str
) -> dict[str, object]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + SETTLE_SECONDS
    while True:
        order = await _order(router, guest, sn)
        payment = order["payment"]
        assert isinstance(payment, dict)
        if order["tradeState"] == trade_state and payment["payStatus"] == pay_status:
            return order
        assert loop.time() < deadline, f"stuck at {order['tradeState']}/{payment['payStatus']}"
        await asyncio.sleep(0.3)


async def test_a_lost_notification_is_reconciled(
    router: GraphQLClient, stack: Stack, catalog: Catalog, payer: Account
) -> None:
    order = await book(router, payer, catalog.homestay_ids[0], start_in=60)
    params = (await pay_init(router, payer, order["sn"])).ok()["wxPayHomestayOrder"]
    await sandbox_pay(stack.sandbox_url, prepay_id(params), notify=False)

    settled = await _eventually(router, payer, order["sn"], "WAIT_USE", "SUCCESS")
    assert settled["tradeCode"]


async def test_a_payment_for_a_cancelled_order_is_refunded(
    router: GraphQLClient, stack: Stack, catalog: Catalog, payer: Account
) -> None:
    """The payer paid, but WeChat's word arrived only after the order was cancelled."""
    order = await book(router, payer, catalog.homestay_ids[1], start_in=61)
    params = (await pay_init(router, payer, order["sn"])).ok()["wxPayHomestayOrder"]
    async with subscribe_ws(
        router.url, PAYMENT_STATUS, {"sn": order["sn"]}, token=payer.access_token
    ) as live:
        assert (await live.next())["paymentStatus"]["payStatus"] == "WAITING"
        await sandbox_pay(stack.sandbox_url, prepay_id(params), notify=False)
        cancelled = await router.execute(CANCEL, {"sn": order["sn"]}, token=payer.access_token)
        assert cancelled.ok()["cancelHomestayOrder"]["tradeState"] == "CANCELLED"

        refunded = await live.until(
            lambda event: event["paymentStatus"]["payStatus"] == "REFUNDED",
            within=SETTLE_SECONDS,
        )
    assert refunded["paymentStatus"]["sn"] == params["paymentSn"]
    final = await _eventually(router, payer, order["sn"], "CANCELLED", "REFUNDED")
    assert final["tradeCode"] is None

    # The payer hears the truth: their money went back; no "paid, here is your code".
    assert payer.openid is not None
    loop = asyncio.get_running_loop()
    deadline = loop.time() + SETTLE_SECONDS
    while not (messages := await sandbox_messages(stack.sandbox_url, payer.openid)):
        assert loop.time() < deadline, "the payer was never told of the refund"
        await asyncio.sleep(0.2)
    [message] = messages
    assert message["template_id"] == get_settings().wechat_refund_template_id
    assert message["data"]["character_string1"]["value"] == order["sn"]


async def test_a_cancelled_orders_wechat_order_is_closed(
    router: GraphQLClient, stack: Stack, catalog: Catalog, payer: Account
) -> None:
    order = await book(router, payer, catalog.homestay_ids[2], start_in=62)
    params = (await pay_init(router, payer, order["sn"])).ok()["wxPayHomestayOrder"]
    await router.execute(CANCEL, {"sn": order["sn"]}, token=payer.access_token)

    await _eventually(router, payer, order["sn"], "CANCELLED", "CLOSED")
    async with httpx.AsyncClient() as http:
        late = await http.post(
            f"{stack.sandbox_url}/sandbox/pay", json={"prepay_id": prepay_id(params)}
        )
    assert late.status_code >= 400  # WeChat no longer lets anyone pay it
