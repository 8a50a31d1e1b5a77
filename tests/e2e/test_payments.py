"""Paying through the router: book, pay-init, subscribe, pay in the WeChat sandbox, and
watch the status arrive; the order becomes WAIT_USE with a check-in code and the payer
is notified. Worker and scheduler are real processes."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from common.db import Database
from tests.support.graphql import GraphQLClient
from tests.support.payments import (
    ORDER_WITH_PAYMENT,
    PAYMENT_STATUS,
    book,
    pay_init,
    prepay_id,
    sandbox_messages,
    sandbox_pay,
    verify_pay_sign,
)
from tests.support.stack import Stack
from tests.support.subscriptions import SubscriptionError, subscribe_sse, subscribe_ws
from tests.support.travel import Catalog, make_catalog
from tests.support.users import Account, register, wechat_account

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("background_jobs")]

# From the payer's tap to the order being WAIT_USE: notify, outbox relay (1 s tick), worker.
SETTLE_SECONDS = 20.0


@pytest.fixture(scope="module")
async def catalog(router: GraphQLClient, travel_db: Database) -> Catalog:
    landlord = await register(router, nickname="付款房东")
    return await make_catalog(
        travel_db, [int(landlord.user_id)], homestays_per_business=6, title_prefix="双廊"
    )


@pytest.fixture
async def payer(router: GraphQLClient, stack: Stack) -> Account:
    return await wechat_account(router, stack.sandbox_url, "微信住客")


def merchant_public_key(tmp_root: Path) -> Path:
    return tmp_root / "wechatpay" / "merchant_public_key.pem"


async def _order_state(router: GraphQLClient, guest: Account, sn: str) -> dict[str, object]:
    result = await router.execute(ORDER_WITH_PAYMENT, {"sn": sn}, token=guest.access_token)
    order: dict[str, object] = result.ok()["homestayOrder"]
    return order


async def _wait_for_order(
    router: GraphQLClient, guest: Account, sn: str, state: str
) -> dict[str, object]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + SETTLE_SECONDS
    while (order := await _order_state(router, guest, sn))["tradeState"] != state:
        assert loop.time() < deadline, f"order {sn} stayed {order['tradeState']}"
        await asyncio.sleep(0.2)
    return order


@pytest.mark.parametrize("transport", ["websocket", "sse"])
async def test_pay_and_watch_the_status_arrive(
    router: GraphQLClient,
    stack: Stack,
    catalog: Catalog,
    payer: Account,
    tmp_root: Path,
    transport: str,
) -> None:
    homestay = catalog.homestay_ids[0 if transport == "websocket" else 1]
    order = await book(router, payer, homestay, start_in=30)
    params = (await pay_init(router, payer, order["sn"])).ok()["wxPayHomestayOrder"]
    verify_pay_sign(params, merchant_public_key(tmp_root))
    assert params["signType"] == "RSA" and params["paymentSn"].startswith("PMT")

    subscribe = subscribe_ws if transport == "websocket" else subscribe_sse
    async with subscribe(
        router.url, PAYMENT_STATUS, {"sn": order["sn"]}, token=payer.access_token
    ) as live:
        first = (await live.next())["paymentStatus"]
        assert first["payStatus"] == "WAITING"
        assert first["payTotal"] == order["orderTotalPrice"]
        assert first["sn"] == params["paymentSn"]

        paid = await sandbox_pay(stack.sandbox_url, prepay_id(params))
        success = (await live.next(within=SETTLE_SECONDS))["paymentStatus"]
        assert success["payStatus"] == "SUCCESS"
        assert success["transactionId"] == paid["transaction_id"]
        assert success["payTime"] is not None

    settled = await _wait_for_order(router, payer, order["sn"], "WAIT_USE")
    trade_code = settled["tradeCode"]
    assert isinstance(trade_code, str) and len(trade_code) == 8
    assert settled["payment"] == {
        "sn": params["paymentSn"],
        "payStatus": "SUCCESS",
        "payTotal": order["orderTotalPrice"],
        "transactionId": paid["transaction_id"],
        "payTime": success["payTime"],
    }
    assert payer.openid is not None
    loop = asyncio.get_running_loop()
    deadline = loop.time() + SETTLE_SECONDS
    while not (messages := await sandbox_messages(stack.sandbox_url, payer.openid)):
        assert loop.time() < deadline, "the payer was never notified"
        await asyncio.sleep(0.2)
    assert len(messages) == 1
    # The order's message, sent once it is paid: it carries the check-in code.
    fields = {name: value["value"] for name, value in messages[0]["data"].items()}
    assert fields["character_string1"] == order["sn"]
    assert fields["character_string2"] == trade_code


async def test_asking_twice_resumes_the_same_payment(
    router: GraphQLClient, catalog: Catalog, payer: Account
) -> None:
    order = await book(router, payer, catalog.homestay_ids[2], start_in=31)
    first, second = await asyncio.gather(
        pay_init(router, payer, order["sn"]), pay_init(router, payer, order["sn"])
    )
    one, two = first.ok()["wxPayHomestayOrder"], second.ok()["wxPayHomestayOrder"]
    assert one["paymentSn"] == two["paymentSn"]
    assert one["package"] == two["package"]
    by_order = await router.execute(
        "query($sn: ID!) { paymentByOrder(orderSn: $sn) { sn payStatus } }",
        {"sn": order["sn"]},
        token=payer.access_token,
    )
    assert by_order.ok()["paymentByOrder"] == {"sn": one["paymentSn"], "payStatus": "WAITING"}


async def test_another_user_can_neither_pay_nor_watch(
    router: GraphQLClient, stack: Stack, catalog: Catalog, payer: Account
) -> None:
    order = await book(router, payer, catalog.homestay_ids[3], start_in=32)
    params = (await pay_init(router, payer, order["sn"])).ok()["wxPayHomestayOrder"]
    stranger = await wechat_account(router, stack.sandbox_url, "陌生人")

    assert (await pay_init(router, stranger, order["sn"])).codes == ["NOT_FOUND"]
    payment = await router.execute(
        "query($sn: ID!) { payment(sn: $sn) { sn } }",
        {"sn": params["paymentSn"]},
        token=stranger.access_token,
    )
    assert payment.ok() == {"payment": None}
    async with subscribe_ws(
        router.url, PAYMENT_STATUS, {"sn": order["sn"]}, token=stranger.access_token
    ) as live:
        with pytest.raises(SubscriptionError) as refused:
            await live.next()
    assert refused.value.codes == ["NOT_FOUND"]
    assert (await pay_init(router, payer, order["sn"])).ok()  # the owner still can


async def test_refusals(
    router: GraphQLClient, stack: Stack, catalog: Catalog, payer: Account
) -> None:
    mobile_only = await register(router, nickname="手机用户")
    order = await book(router, mobile_only, catalog.homestay_ids[4], start_in=33)
    assert (await pay_init(router, mobile_only, order["sn"])).codes == ["WECHAT_ACCOUNT_REQUIRED"]

    cancelled = await book(router, payer, catalog.homestay_ids[4], start_in=40)
    await router.execute(
        "mutation($sn: ID!) { cancelHomestayOrder(sn: $sn) { sn } }",
        {"sn": cancelled["sn"]},
        token=payer.access_token,
    )
    assert (await pay_init(router, payer, cancelled["sn"])).codes == ["ORDER_NOT_PAYABLE"]
    assert (await pay_init(router, payer, "HSO20260101000000no-such")).codes == ["NOT_FOUND"]
    anonymous = await router.execute(
        "mutation($sn: ID!) { wxPayHomestayOrder(orderSn: $sn) { paySign } }",
        {"sn": order["sn"]},
    )
    assert anonymous.codes == ["UNAUTHENTICATED"]


async def test_a_subscription_outlives_the_routers_upstream_timeout(
    stack: Stack, router: GraphQLClient, catalog: Catalog, payer: Account
) -> None:
    """Queries are cut off after ROUTER_UPSTREAM_TIMEOUT_MS; a subscription must not be."""
    impatient = GraphQLClient(stack.start_router(ROUTER_UPSTREAM_TIMEOUT_MS="1000"))
    order = await book(router, payer, catalog.homestay_ids[5], start_in=34)
    params = (await pay_init(router, payer, order["sn"])).ok()["wxPayHomestayOrder"]
    async with subscribe_ws(
        impatient.url, PAYMENT_STATUS, {"sn": order["sn"]}, token=payer.access_token
    ) as live:
        assert (await live.next())["paymentStatus"]["payStatus"] == "WAITING"
        await asyncio.sleep(3)  # three upstream timeouts
        await sandbox_pay(stack.sandbox_url, prepay_id(params))
        success = await live.next(within=SETTLE_SECONDS)
        assert success["paymentStatus"]["payStatus"] == "SUCCESS"
    await asyncio.sleep(2)
    still_up = await impatient.execute("{ __typename }")
    assert still_up.ok() == {"__typename": "Query"}
