"""The payments ledger and stuck refunds, on the real database against the WeChat sandbox:
every answer is a row with its amount, totals derive from the rows (a replay counts
nothing twice), a refund WeChat reports CLOSED is surfaced and an operator retries it."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator, Iterator

import pytest
from prometheus_client import REGISTRY

from common.db import Database
from common.ids import SnPrefix, make_sn
from common.models import utcnow
from common.settings import Domain, Settings
from common.wechat.pay import WeChatPayClient
from subgraphs.payments import ledger, operator, service
from subgraphs.payments.ledger import Source
from subgraphs.payments.models import PayStatus, ThirdPayment
from tests.support.sandbox import WeChatSandbox, wechat_sandbox

TOTAL = 45_600
WAIT_SECONDS = 10.0


@pytest.fixture(scope="module")
def sandbox(settings: Settings) -> Iterator[WeChatSandbox]:
    with wechat_sandbox(settings) as running:
        yield running


@pytest.fixture(scope="module")
def pay_settings(settings: Settings, sandbox: WeChatSandbox) -> Settings:
    # Nobody listens on the notify URL: the ledger learns refund results by asking.
    return settings.model_copy(
        update={
            "wechat_api_base": sandbox.url,
            "wechat_pay_notify_url": "http://127.0.0.1:9/notify",
        }
    )


@pytest.fixture
async def payments_db(settings: Settings) -> AsyncIterator[Database]:
    db = Database(settings.database_url(Domain.PAYMENTS))
    yield db
    await db.dispose()


@pytest.fixture
async def wechat(pay_settings: Settings) -> AsyncIterator[WeChatPayClient]:
    client = WeChatPayClient(pay_settings)
    yield client
    await client.aclose()


async def _paid_payment(
    db: Database, wechat: WeChatPayClient, sandbox: WeChatSandbox, settings: Settings
) -> ThirdPayment:
    """A payment WeChat took (its notification lost), settled by asking WeChat."""
    payment = ThirdPayment(
        sn=make_sn(SnPrefix.PAYMENT),
        user_id=1,
        order_sn=make_sn(SnPrefix.HOMESTAY_ORDER),
        pay_total=TOTAL,
        payer_openid=f"o{secrets.token_hex(10)}",
        pay_status=PayStatus.WAITING,
        trade_state="NOTPAY",
    )
    payment.waiting_order_sn = payment.order_sn
    async with db.write_session() as session:
        session.add(payment)
    prepay_id = await wechat.jsapi_prepay(
        out_trade_no=payment.sn,
        description="账本测试",
        amount_fen=TOTAL,
        payer_openid=payment.payer_openid,
        notify_url=settings.wechat_pay_notify_url,
    )
    async with db.write_session() as session:
        stored = await session.get(ThirdPayment, payment.id)
        assert stored is not None
        stored.prepay_id = prepay_id
    sandbox.state.pay.by_prepay_id[prepay_id].trade_state = "SUCCESS"  # the payer paid
    sandbox.state.pay.by_prepay_id[prepay_id].transaction_id = f"4200{time.time_ns()}"
    transaction = await wechat.query(payment.sn)
    assert transaction is not None
    for _ in range(2):  # the answer twice: recorded twice, counted once
        settled = await service.settle_transaction(db, settings, transaction, Source.QUERY)
    assert settled.pay_status == PayStatus.SUCCESS
    return settled


async def _refund_ends(sandbox: WeChatSandbox, refund_sn: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while sandbox.state.pay.refunds[refund_sn].status == "PROCESSING":
        assert time.monotonic() < deadline, "the sandbox never finished the refund"
        await asyncio.sleep(0.05)


def _failures(status: str) -> float:
    value = REGISTRY.get_sample_value("looklook_refund_failures_total", {"status": status})
    return value or 0.0


async def test_a_closed_refund_is_surfaced_retried_and_counted_once(
    payments_db: Database,
    wechat: WeChatPayClient,
    sandbox: WeChatSandbox,
    pay_settings: Settings,
) -> None:
    payment = await _paid_payment(payments_db, wechat, sandbox, pay_settings)
    assert await ledger.totals(payments_db, [payment.sn]) == [ledger.Totals(TOTAL, 0)]

    sandbox.state.pay.refund_outcome = "CLOSED"
    try:
        assert await service.refund_payment(payments_db, wechat, pay_settings, payment.sn)
        refunding = await service.get_payment(payments_db, payment.sn)
        assert refunding is not None and refunding.refund_sn is not None
        first_refund = refunding.refund_sn
        await _refund_ends(sandbox, first_refund)
        closed_before = _failures("CLOSED")
        answer = await wechat.query_refund(first_refund)
        assert answer is not None and answer.status == "CLOSED"
        stuck = await service.settle_refund(payments_db, answer, Source.REFUND_QUERY)
    finally:
        sandbox.state.pay.refund_outcome = "SUCCESS"

    # Surfaced, not just logged: still REFUNDING, listed, counted.
    assert (stuck.pay_status, stuck.refund_status) == (PayStatus.REFUNDING, "CLOSED")
    assert payment.sn in [p.sn for p in await service.stuck_refunds(payments_db)]
    assert _failures("CLOSED") == closed_before + 1
    listed: list[str] = []
    assert await operator.list_refunds(pay_settings, listed.append, stuck_only=True) == 0
    assert any(payment.sn in line and "CLOSED" in line for line in listed)

    # The operator retries: a new refund number, and this time the money goes back.
    said: list[str] = []
    assert await operator.retry(pay_settings, payment.sn, said.append) == 0, said
    retried = await service.get_payment(payments_db, payment.sn)
    assert retried is not None and retried.refund_sn not in (None, first_refund)
    assert retried.refund_sn is not None
    await _refund_ends(sandbox, retried.refund_sn)
    success = await wechat.query_refund(retried.refund_sn)
    assert success is not None and success.status == "SUCCESS"
    for _ in range(2):  # a replayed result moves no money twice
        done = await service.settle_refund(payments_db, success, Source.REFUND_NOTIFICATION)
    assert done.pay_status == PayStatus.REFUNDED
    assert payment.sn not in [p.sn for p in await service.stuck_refunds(payments_db)]

    rows = await ledger.entries(payments_db, payment.sn)
    assert await ledger.totals(payments_db, [payment.sn]) == [ledger.Totals(TOTAL, TOTAL)]
    assert [(r.source, r.wechat_state, r.amount, r.paid) for r in rows if r.refund_sn is None] == [
        ("query", "SUCCESS", TOTAL, TOTAL),
        ("query", "SUCCESS", TOTAL, 0),
    ]
    refund_rows = [(r.source, r.wechat_state, r.refund_sn, r.refunded) for r in rows if r.refund_sn]
    assert refund_rows == [
        ("refund_request", "PROCESSING", first_refund, 0),
        ("refund_query", "CLOSED", first_refund, 0),
        ("refund_request", "PROCESSING", retried.refund_sn, 0),
        ("refund_notification", "SUCCESS", retried.refund_sn, TOTAL),
        ("refund_notification", "SUCCESS", retried.refund_sn, 0),
    ]
    assert all(r.amount == TOTAL for r in rows if r.refund_sn)
    assert all(r.create_time <= utcnow() for r in rows)
    shown: list[str] = []
    assert await operator.show_ledger(pay_settings, payment.sn, shown.append) == 0
    assert f"paid {TOTAL}  refunded {TOTAL}" in shown[0] and len(shown) == 1 + len(rows)


async def test_a_payment_never_sent_to_wechat_is_closed_without_asking(
    payments_db: Database, wechat: WeChatPayClient, pay_settings: Settings
) -> None:
    order_sn = make_sn(SnPrefix.HOMESTAY_ORDER)
    payment = ThirdPayment(
        sn=make_sn(SnPrefix.PAYMENT),
        user_id=1,
        order_sn=order_sn,
        waiting_order_sn=order_sn,
        pay_total=TOTAL,
        payer_openid="o-never-sent",
        pay_status=PayStatus.WAITING,
        trade_state="NOTPAY",
    )
    async with payments_db.write_session() as session:
        session.add(payment)

    answer = await service.settle_or_close_order_payment(
        payments_db, wechat, pay_settings, order_sn
    )

    assert answer == service.OrderPaymentAnswer(service.OrderPaymentVerdict.CLOSED)
    [row] = await ledger.entries(payments_db, payment.sn)
    assert (row.source, row.wechat_state, row.paid) == ("local", "CLOSED", 0)
    again = await service.settle_or_close_order_payment(payments_db, wechat, pay_settings, order_sn)
    assert again.verdict is service.OrderPaymentVerdict.CLOSED


async def test_a_partial_refund_returns_only_its_amount_and_never_more_than_was_paid(
    payments_db: Database,
    wechat: WeChatPayClient,
    sandbox: WeChatSandbox,
    pay_settings: Settings,
) -> None:
    payment = await _paid_payment(payments_db, wechat, sandbox, pay_settings)
    # More than was paid, or nothing: refused, the payment untouched.
    for amount in (TOTAL + 1, 0, -5):
        assert not await service.refund_payment(
            payments_db, wechat, pay_settings, payment.sn, amount
        )
    untouched = await service.get_payment(payments_db, payment.sn)
    assert untouched is not None and untouched.pay_status == PayStatus.SUCCESS

    half = TOTAL // 2 - 1
    assert await service.refund_payment(
        payments_db, wechat, pay_settings, payment.sn, half, "行程有变"
    )
    # A second request (a redelivered message, another amount) asks WeChat for the same refund.
    assert await service.refund_payment(payments_db, wechat, pay_settings, payment.sn, TOTAL)
    refunding = await service.get_payment(payments_db, payment.sn)
    assert refunding is not None and refunding.refund_sn is not None
    assert (refunding.refund_amount, refunding.refund_reason) == (half, "行程有变")
    await _refund_ends(sandbox, refunding.refund_sn)
    assert sandbox.state.pay.refunds[refunding.refund_sn].amount == half
    assert sandbox.state.pay.refunds[refunding.refund_sn].reason == "行程有变"
    answer = await wechat.query_refund(refunding.refund_sn)
    assert answer is not None
    refunded = await service.settle_refund(payments_db, answer, Source.REFUND_QUERY)
    assert refunded.pay_status == PayStatus.REFUNDED
    assert await ledger.totals(payments_db, [payment.sn]) == [ledger.Totals(TOTAL, half)]
    assert len([r for r in sandbox.state.pay.refunds.values() if r.transaction.out_trade_no
                == payment.sn]) == 1  # fmt: skip
