"""Money ends where it belongs even when messages are lost for good: one paid payment per
order, a dead-lettered "payment succeeded" repaired by the consistency job, a guest's
refund finished by it with the worker gone, and a worker that was down past the
deadline never cancelling a paid order.

No worker or scheduler runs for this module unless a test starts them: a test first
arranges the fault (a message dropped after it left the outbox, a worker down), then
starts the real background processes and waits for the outcome.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import pytest
from sqlalchemy import CursorResult, select, update

from common.db import Database
from common.events import MARK_ORDER_PAID, REFUND_PAYMENT
from common.models import utcnow
from common.settings import Domain, Settings
from subgraphs.orders.models import OutboxMessage as OrdersOutboxMessage
from subgraphs.orders.refunds import GUEST_REFUND_REASON
from subgraphs.orders.service import PaymentOutcome, take_payment
from subgraphs.payments.models import LedgerEntry, OutboxMessage, ThirdPayment
from tests.support.graphql import GraphQLClient
from tests.support.payments import book, pay_init, prepay_id, sandbox_pay
from tests.support.stack import Stack
from tests.support.travel import Catalog, make_catalog
from tests.support.users import Account, register, wechat_account

pytestmark = pytest.mark.e2e

# Bounded waits, generous: background processes take most of a minute to boot on a busy box.
SETTLE_SECONDS = 90.0
PAY_TIMEOUT_SECONDS = 8  # long enough to book, pay-init and pay on a busy box
CANCEL = "mutation($sn: ID!) { cancelHomestayOrder(sn: $sn) { sn tradeState } }"
ORDER = "query($sn: ID!) { homestayOrder(sn: $sn) { sn tradeState tradeCode payDeadline } }"
PAYMENT_BY_ORDER = """query($sn: ID!) { paymentByOrder(orderSn: $sn) {
  sn payStatus payTotal refundTotal } }"""
REFUND = """mutation($sn: ID!) { requestHomestayOrderRefund(sn: $sn) {
  sn tradeState refundAmount } }"""
# The consistency job looks at every successful payment at once, every second.
FAST_CONVERGENCE = {
    "PAYMENT_CONVERGE_AFTER_SECONDS": "0",
    "PAYMENT_CONVERGE_EVERY_SECONDS": "1",
    # No help from the reconciler: these payments' notifications did arrive.
    "PAYMENT_RECONCILE_AFTER_SECONDS": "600",
}


@pytest.fixture(scope="module")
async def catalog(router: GraphQLClient, travel_db: Database) -> Catalog:
    landlord = await register(router, nickname="收敛房东")
    return await make_catalog(
        travel_db, [int(landlord.user_id)], homestays_per_business=6, title_prefix="沙溪"
    )


@pytest.fixture
async def payer(router: GraphQLClient, stack: Stack) -> Account:
    return await wechat_account(router, stack.sandbox_url, "收敛住客")


@pytest.fixture(scope="module")
async def payments_db(settings: Settings) -> AsyncIterator[Database]:
    db = Database(settings.database_url(Domain.PAYMENTS))
    yield db
    await db.dispose()


@pytest.fixture(scope="module")
async def orders_db(settings: Settings) -> AsyncIterator[Database]:
    db = Database(settings.database_url(Domain.ORDERS))
    yield db
    await db.dispose()


@pytest.fixture(scope="module")
def impatient_router(stack: Stack) -> GraphQLClient:
    """A router whose orders subgraph gives buyers PAY_TIMEOUT_SECONDS to pay."""
    orders = stack.start_subgraph(Domain.ORDERS, ORDER_PAY_TIMEOUT=str(PAY_TIMEOUT_SECONDS))
    return GraphQLClient(stack.start_router(SUBGRAPH_ORDERS_URL=orders))


@pytest.fixture
def start_background(stack: Stack, tmp_path: Path) -> Iterator[Any]:
    """Start the worker and scheduler (or the scheduler alone) once the fault is arranged."""
    started = []

    def start(*, worker: bool = True) -> None:
        metrics = tmp_path / "metrics"
        if worker:
            started.append(stack.start_background(metrics, **FAST_CONVERGENCE))
        else:
            started.append(stack.start_scheduler(metrics, **FAST_CONVERGENCE))

    yield start
    for background in started:
        background.stop_all(grace_seconds=30)


async def _order(router: GraphQLClient, guest: Account, sn: str) -> dict[str, Any]:
    result = await router.execute(ORDER, {"sn": sn}, token=guest.access_token)
    order: dict[str, Any] = result.ok()["homestayOrder"]
    return order


async def _payment(router: GraphQLClient, guest: Account, order_sn: str) -> dict[str, Any]:
    result = await router.execute(PAYMENT_BY_ORDER, {"sn": order_sn}, token=guest.access_token)
    payment: dict[str, Any] = result.ok()["paymentByOrder"]
    return payment


async def _until(what: str, check: Any, within: float = SETTLE_SECONDS) -> float:
    """Seconds until the async `check()` is true (bounded)."""
    started = time.monotonic()
    while not await check():
        assert time.monotonic() - started < within, f"never: {what}"
        await asyncio.sleep(0.2)
    return time.monotonic() - started


async def _paid(router: GraphQLClient, stack: Stack, guest: Account, order_sn: str) -> str:
    """Pay-init and pay with the notification delivered; the payment's sn once SUCCESS."""
    params = (await pay_init(router, guest, order_sn)).ok()["wxPayHomestayOrder"]
    await sandbox_pay(stack.sandbox_url, prepay_id(params), notify=True)

    async def success() -> bool:
        return bool((await _payment(router, guest, order_sn))["payStatus"] == "SUCCESS")

    await _until("the notification settled the payment", success)
    sn: str = params["paymentSn"]
    return sn


async def _drop_message(
    db: Database,
    actor_name: str,
    payment_sn: str,
    outbox: type[OutboxMessage | OrdersOutboxMessage] = OutboxMessage,
) -> None:
    """The message leaves the outbox and is never processed (dead-lettered, lost)."""
    async with db.write_session() as session:
        result = cast(
            CursorResult[Any],
            await session.execute(
                update(outbox)
                .where(
                    outbox.actor_name == actor_name,
                    outbox.payload.contains(payment_sn),
                    outbox.sent_at.is_(None),
                )
                .values(sent_at=utcnow())
            ),
        )
    assert result.rowcount == 1


async def _ledger(db: Database, payment_sn: str) -> list[LedgerEntry]:
    async with db.session() as session:
        return list(
            await session.scalars(
                select(LedgerEntry)
                .where(LedgerEntry.payment_sn == payment_sn)
                .order_by(LedgerEntry.id)
            )
        )


async def test_a_paid_order_cannot_be_paid_again(
    router: GraphQLClient, stack: Stack, catalog: Catalog, payer: Account, payments_db: Database
) -> None:
    """Between WeChat's SUCCESS and the order becoming WAIT_USE (no worker runs here),
    a second pay-init is refused and the order's payment is the one that paid."""
    order = await book(router, payer, catalog.homestay_ids[0], start_in=70)
    paid_sn = await _paid(router, stack, payer, order["sn"])
    assert (await _order(router, payer, order["sn"]))["tradeState"] == "WAIT_PAY"

    again = await pay_init(router, payer, order["sn"])

    assert again.codes == ["ORDER_NOT_PAYABLE"]
    payment = await _payment(router, payer, order["sn"])
    assert (payment["sn"], payment["payStatus"]) == (paid_sn, "SUCCESS")
    assert payment["refundTotal"] == 0
    [notified] = [row for row in await _ledger(payments_db, paid_sn) if row.paid]
    assert (notified.source, notified.wechat_state) == ("notification", "SUCCESS")
    assert notified.amount == notified.paid == order["orderTotalPrice"]


async def test_a_dead_lettered_payment_message_is_repaired_by_the_consistency_job(
    router: GraphQLClient,
    stack: Stack,
    catalog: Catalog,
    payer: Account,
    payments_db: Database,
    start_background: Any,
) -> None:
    """`mark_order_paid` never runs for two paid orders; one is then cancelled by its guest
    (fault #1: money kept, order cancelled). The consistency job pays the first order and
    refunds the second."""
    unpaid = await book(router, payer, catalog.homestay_ids[1], start_in=71)
    unpaid_payment = await _paid(router, stack, payer, unpaid["sn"])
    await _drop_message(payments_db, MARK_ORDER_PAID.actor_name, unpaid_payment)
    cancelled = await book(router, payer, catalog.homestay_ids[2], start_in=72)
    kept_payment = await _paid(router, stack, payer, cancelled["sn"])
    await _drop_message(payments_db, MARK_ORDER_PAID.actor_name, kept_payment)
    gone = await router.execute(CANCEL, {"sn": cancelled["sn"]}, token=payer.access_token)
    assert gone.ok()["cancelHomestayOrder"]["tradeState"] == "CANCELLED"

    start_background()
    started = time.monotonic()

    async def order_paid() -> bool:
        return bool((await _order(router, payer, unpaid["sn"]))["tradeState"] == "WAIT_USE")

    async def money_back() -> bool:
        return bool((await _payment(router, payer, cancelled["sn"]))["payStatus"] == "REFUNDED")

    await _until("the unpaid order is paid", order_paid)
    paid_after = time.monotonic() - started
    await _until("the cancelled order's money is refunded", money_back)
    refunded_after = time.monotonic() - started
    print(
        f"consistency job: order paid after {paid_after:.1f}s, refunded after {refunded_after:.1f}s"
    )

    assert (await _order(router, payer, unpaid["sn"]))["tradeCode"]
    refunded = await _payment(router, payer, cancelled["sn"])
    assert refunded["sn"] == kept_payment
    assert refunded["refundTotal"] == cancelled["orderTotalPrice"]
    rows = await _ledger(payments_db, kept_payment)
    assert sum(row.paid for row in rows) == cancelled["orderTotalPrice"]
    assert sum(row.refunded for row in rows) == cancelled["orderTotalPrice"]
    request = [row for row in rows if row.source == "refund_request"]
    assert request and request[0].amount == cancelled["orderTotalPrice"]
    [moved] = [row for row in rows if row.refunded]
    assert moved.wechat_state == "SUCCESS" and moved.refund_sn == request[0].refund_sn


async def test_a_worker_down_past_the_deadline_does_not_cancel_a_paid_order(
    impatient_router: GraphQLClient,
    router: GraphQLClient,
    stack: Stack,
    catalog: Catalog,
    payer: Account,
    payments_db: Database,
    start_background: Any,
) -> None:
    """Paid in time, WeChat's notification lost, the worker down: when the scheduler's
    sweeper finds the order past its deadline, WeChat's SUCCESS pays it."""
    order = await book(impatient_router, payer, catalog.homestay_ids[3], start_in=73)
    params = (await pay_init(router, payer, order["sn"])).ok()["wxPayHomestayOrder"]
    await sandbox_pay(stack.sandbox_url, prepay_id(params), notify=False)
    deadline = datetime.fromisoformat((await _order(router, payer, order["sn"]))["payDeadline"])

    async def overdue() -> bool:
        return datetime.now(UTC) > deadline

    await _until("the pay deadline passes", overdue, within=PAY_TIMEOUT_SECONDS + 5)
    start_background(worker=False)

    async def settled() -> bool:
        return bool((await _order(router, payer, order["sn"]))["tradeState"] != "WAIT_PAY")

    await _until("the sweeper settles the order", settled)
    final = await _order(router, payer, order["sn"])
    assert final["tradeState"] == "WAIT_USE"
    payment = await _payment(router, payer, order["sn"])
    assert (payment["sn"], payment["payStatus"]) == (params["paymentSn"], "SUCCESS")
    queried = [row for row in await _ledger(payments_db, params["paymentSn"]) if row.paid]
    assert [(row.source, row.wechat_state) for row in queried] == [("query", "SUCCESS")]


async def test_a_refund_whose_messages_are_lost_is_finished_by_the_consistency_job(
    router: GraphQLClient,
    stack: Stack,
    catalog: Catalog,
    payer: Account,
    payments_db: Database,
    orders_db: Database,
    start_background: Any,
) -> None:
    """The guest's refund request to payments is lost (dead-lettered), and the worker is
    gone for good, so WeChat's REFUNDED would never reach the order either. The
    scheduler's consistency job alone refunds the amount the guest was told, once, and
    finishes the order."""
    order = await book(router, payer, catalog.homestay_ids[5], start_in=75)
    payment_sn = await _paid(router, stack, payer, order["sn"])
    await _drop_message(payments_db, MARK_ORDER_PAID.actor_name, payment_sn)
    # The order is paid as the broadcast would have paid it.
    assert await take_payment(orders_db, order["sn"], payment_sn) is PaymentOutcome.PAID
    asked = (await router.execute(REFUND, {"sn": order["sn"]}, token=payer.access_token)).ok()
    refund = asked["requestHomestayOrderRefund"]
    assert (refund["tradeState"], refund["refundAmount"]) == ("REFUNDING", order["orderTotalPrice"])
    await _drop_message(orders_db, REFUND_PAYMENT.actor_name, payment_sn, OrdersOutboxMessage)

    start_background(worker=False)

    async def refunded() -> bool:
        return bool((await _order(router, payer, order["sn"]))["tradeState"] == "REFUNDED")

    took = await _until("the order is refunded", refunded)
    print(f"consistency job: stalled refund finished after {took:.1f}s")
    payment = await _payment(router, payer, order["sn"])
    assert (payment["sn"], payment["payStatus"]) == (payment_sn, "REFUNDED")
    assert payment["refundTotal"] == refund["refundAmount"]
    rows = await _ledger(payments_db, payment_sn)
    assert len({row.refund_sn for row in rows if row.refund_sn}) == 1  # one refund, not two
    assert sum(row.refunded for row in rows) == refund["refundAmount"]
    async with payments_db.session() as session:
        reason = await session.scalar(
            select(ThirdPayment.refund_reason).where(ThirdPayment.sn == payment_sn)
        )
    assert reason == GUEST_REFUND_REASON  # what WeChat shows: as the lost message asked


SETTLE_OR_CLOSE = """mutation($sn: ID!) {
  settleOrCloseOrderPayment(orderSn: $sn) { verdict paymentSn } }"""
TAKE_PAYMENT = """mutation($order: ID!, $payment: ID!) {
  takeOrderPayment(orderSn: $order, paymentSn: $payment) }"""
FINISH_REFUND = """mutation($order: ID!, $payment: ID!) {
  finishOrderRefund(orderSn: $order, paymentSn: $payment) }"""
STALLED_REFUNDS = "{ stalledOrderRefunds(olderThanSeconds: 0) { orderSn paymentSn amount } }"


async def test_the_internal_mutations_need_the_internal_token(
    router: GraphQLClient, stack: Stack, catalog: Catalog, payer: Account
) -> None:
    """Closing someone's payment, marking an order paid or refunded with a made-up
    payment, listing refunding orders: the router does not know these fields, and a
    direct caller without the token is refused."""
    order = await book(router, payer, catalog.homestay_ids[4], start_in=74)
    params = (await pay_init(router, payer, order["sn"])).ok()["wxPayHomestayOrder"]
    payments = GraphQLClient(stack.subgraph_urls[Domain.PAYMENTS])
    orders = GraphQLClient(stack.subgraph_urls[Domain.ORDERS])
    take = {"order": order["sn"], "payment": "PMT20260101000000forged01"}

    via_router = await router.execute(
        SETTLE_OR_CLOSE, {"sn": order["sn"]}, token=payer.access_token
    )
    assert via_router.data is None and via_router.errors
    assert (await router.execute(TAKE_PAYMENT, take, token=payer.access_token)).errors
    assert (await router.execute(FINISH_REFUND, take, token=payer.access_token)).errors
    assert (await router.execute(STALLED_REFUNDS, token=payer.access_token)).errors
    wrong = {"X-Looklook-Internal-Token": "guessed"}
    for headers in ({}, wrong):
        closing = await payments.execute(SETTLE_OR_CLOSE, {"sn": order["sn"]}, headers=headers)
        assert closing.codes == ["FORBIDDEN"]
        taking = await orders.execute(TAKE_PAYMENT, take, headers=headers)
        assert taking.codes == ["FORBIDDEN"]
        finishing = await orders.execute(FINISH_REFUND, take, headers=headers)
        assert finishing.codes == ["FORBIDDEN"]
        listing = await orders.execute(STALLED_REFUNDS, headers=headers)
        assert listing.codes == ["FORBIDDEN"] and listing.data is None

    assert (await _order(router, payer, order["sn"]))["tradeState"] == "WAIT_PAY"
    payment = await _payment(router, payer, order["sn"])
    assert (payment["sn"], payment["payStatus"]) == (params["paymentSn"], "WAITING")
