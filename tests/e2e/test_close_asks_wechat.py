"""The pay-timeout close asks WeChat before it cancels: a guest who paid in time keeps the
booking, and while WeChat cannot answer nothing is cancelled blind. Router → orders →
outbox → scheduler → real worker → payments → WeChat sandbox, all real processes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from common.db import Database
from common.settings import Domain
from tests.support.graphql import GraphQLClient
from tests.support.payments import book, pay_init, prepay_id, sandbox_pay
from tests.support.stack import Stack
from tests.support.travel import Catalog, make_catalog
from tests.support.users import Account, register, wechat_account

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("background_jobs")]

# Long enough to book, pay-init and pay before it on a busy box.
PAY_TIMEOUT_SECONDS = 8
# Past the deadline: relay tick, delay-queue polling, retries' backoff, a busy CI box.
SETTLE_SECONDS = 90.0
ORDER = """query($sn: ID!) { homestayOrder(sn: $sn) {
  sn tradeState tradeCode payment { sn payStatus } } }"""


@pytest.fixture(scope="module")
def background_settings() -> dict[str, str]:
    """No reconciler help: only the close job can learn of a lost notification here."""
    return {"PAYMENT_RECONCILE_AFTER_SECONDS": "600"}


@pytest.fixture(scope="module")
def impatient_router(stack: Stack) -> GraphQLClient:
    orders = stack.start_subgraph(Domain.ORDERS, ORDER_PAY_TIMEOUT=str(PAY_TIMEOUT_SECONDS))
    return GraphQLClient(stack.start_router(SUBGRAPH_ORDERS_URL=orders))


@pytest.fixture(scope="module")
async def catalog(router: GraphQLClient, travel_db: Database) -> Catalog:
    landlord = await register(router, nickname="关单房东")
    return await make_catalog(travel_db, [int(landlord.user_id)], title_prefix="诺邓")


@pytest.fixture
async def payer(router: GraphQLClient, stack: Stack) -> Account:
    return await wechat_account(router, stack.sandbox_url, "准时住客")


async def _order(router: GraphQLClient, guest: Account, sn: str) -> dict[str, Any]:
    order: dict[str, Any] = (
        await router.execute(ORDER, {"sn": sn}, token=guest.access_token)
    ).ok()["homestayOrder"]
    return order


async def _until(what: str, check: Callable[[], Awaitable[bool]]) -> float:
    started = time.monotonic()
    while not await check():
        assert time.monotonic() - started < SETTLE_SECONDS, f"never: {what}"
        await asyncio.sleep(0.2)
    return time.monotonic() - started


async def _outage(sandbox_url: str, *, down: bool | None = None) -> dict[str, Any]:
    async with httpx.AsyncClient() as http:
        if down is None:
            response = await http.get(f"{sandbox_url}/sandbox/pay/outage")
        else:
            response = await http.post(f"{sandbox_url}/sandbox/pay/outage", json={"down": down})
    response.raise_for_status()
    state: dict[str, Any] = response.json()
    return state


async def test_paid_just_before_the_deadline_with_a_lost_notification_stays_paid(
    impatient_router: GraphQLClient,
    router: GraphQLClient,
    stack: Stack,
    catalog: Catalog,
    payer: Account,
) -> None:
    order = await book(impatient_router, payer, catalog.homestay_ids[0], start_in=80)
    params = (await pay_init(router, payer, order["sn"])).ok()["wxPayHomestayOrder"]
    await sandbox_pay(stack.sandbox_url, prepay_id(params), notify=False)

    async def closed_or_paid() -> bool:
        return bool((await _order(router, payer, order["sn"]))["tradeState"] != "WAIT_PAY")

    elapsed = await _until("the close job decides", closed_or_paid)
    final = await _order(router, payer, order["sn"])
    print(f"close job settled the order {elapsed:.1f}s after payment")
    assert final["tradeState"] == "WAIT_USE"
    assert final["tradeCode"]
    assert final["payment"] == {"sn": params["paymentSn"], "payStatus": "SUCCESS"}


async def test_wechat_unreachable_at_close_time_cancels_only_once_it_answers(
    impatient_router: GraphQLClient,
    router: GraphQLClient,
    stack: Stack,
    catalog: Catalog,
    payer: Account,
) -> None:
    order = await book(impatient_router, payer, catalog.homestay_ids[1], start_in=81)
    params = (await pay_init(router, payer, order["sn"])).ok()["wxPayHomestayOrder"]
    await _outage(stack.sandbox_url, down=True)
    try:

        async def close_tried() -> bool:  # a query or a close of this payment was refused
            refused = (await _outage(stack.sandbox_url))["refused"]
            return any(params["paymentSn"] in call for call in refused)

        await _until("the close job asks WeChat", close_tried)
        during = await _order(router, payer, order["sn"])
        assert during["tradeState"] == "WAIT_PAY"
        assert during["payment"]["payStatus"] == "WAITING"
    finally:
        await _outage(stack.sandbox_url, down=False)

    async def cancelled() -> bool:
        return bool((await _order(router, payer, order["sn"]))["tradeState"] == "CANCELLED")

    elapsed = await _until("the order is cancelled once WeChat answers NOTPAY", cancelled)
    print(f"cancelled {elapsed:.1f}s after WeChat came back")
    final = await _order(router, payer, order["sn"])
    assert final["payment"] == {"sn": params["paymentSn"], "payStatus": "CLOSED"}
    async with httpx.AsyncClient() as http:
        late = await http.post(
            f"{stack.sandbox_url}/sandbox/pay", json={"prepay_id": prepay_id(params)}
        )
    assert late.status_code >= 400  # WeChat no longer lets anyone pay it
