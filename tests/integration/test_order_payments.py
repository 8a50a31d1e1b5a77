"""The orders side of a payment's broadcast, on the real database: pay once, ignore
replays, and send back money an order cannot take."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from common.db import Database
from common.events import REFUND_PAYMENT, PaymentStatusChanged
from common.ids import SnPrefix, make_sn
from common.settings import Domain, Settings
from subgraphs.orders.models import HomestayOrder, OutboxMessage, TradeState
from subgraphs.orders.service import PaymentOutcome, apply_payment_status, cancel_order
from tests.support.orders import place_order


@pytest.fixture
async def orders_db(settings: Settings) -> AsyncIterator[Database]:
    db = Database(settings.database_url(Domain.ORDERS))
    yield db
    await db.dispose()


def _success(order_sn: str, payment_sn: str | None = None) -> PaymentStatusChanged:
    return PaymentStatusChanged(
        payment_sn=payment_sn or make_sn(SnPrefix.PAYMENT),
        order_sn=order_sn,
        user_id=1,
        status="SUCCESS",
        pay_total=100,
        payer_openid="o-test",
        transaction_id="4200000001",
        pay_time="2026-11-23T10:00:00+00:00",
    )


async def _order(db: Database, sn: str) -> HomestayOrder:
    async with db.session() as session:
        order = await session.scalar(select(HomestayOrder).where(HomestayOrder.sn == sn))
    assert order is not None
    return order


async def _refund_requests(db: Database, payment_sn: str) -> int:
    async with db.session() as session:
        messages = await session.scalars(
            select(OutboxMessage).where(OutboxMessage.actor_name == REFUND_PAYMENT.actor_name)
        )
        return sum(json.loads(m.payload)["args"] == [payment_sn] for m in messages)


async def test_a_success_pays_the_order_once(orders_db: Database) -> None:
    sn = await place_order(orders_db, pay_in_seconds=600, with_message=False)
    event = _success(sn)
    assert await apply_payment_status(orders_db, event) is PaymentOutcome.PAID
    paid = await _order(orders_db, sn)
    assert paid.trade_state == TradeState.WAIT_USE
    assert paid.trade_code is not None and len(paid.trade_code) == 8
    assert paid.payment_sn == event.payment_sn

    assert await apply_payment_status(orders_db, event) is PaymentOutcome.ALREADY_PAID
    again = await _order(orders_db, sn)
    assert (again.trade_code, again.version) == (paid.trade_code, paid.version)
    assert await _refund_requests(orders_db, event.payment_sn) == 0


async def test_money_for_a_closed_order_goes_back(orders_db: Database) -> None:
    sn = await place_order(orders_db, pay_in_seconds=-1, with_message=False)
    await cancel_order(orders_db, user_id=1, sn=sn)
    event = _success(sn)
    assert await apply_payment_status(orders_db, event) is PaymentOutcome.REFUND_REQUESTED
    assert (await _order(orders_db, sn)).trade_state == TradeState.CANCELLED
    assert await _refund_requests(orders_db, event.payment_sn) == 1


async def test_a_second_payment_for_a_paid_order_goes_back(orders_db: Database) -> None:
    sn = await place_order(orders_db, pay_in_seconds=600, with_message=False)
    assert await apply_payment_status(orders_db, _success(sn)) is PaymentOutcome.PAID
    second = _success(sn)
    assert await apply_payment_status(orders_db, second) is PaymentOutcome.REFUND_REQUESTED
    assert await _refund_requests(orders_db, second.payment_sn) == 1


async def test_other_statuses_leave_the_order_alone(orders_db: Database) -> None:
    sn = await place_order(orders_db, pay_in_seconds=600, with_message=False)
    refunding = PaymentStatusChanged(**{**_success(sn).__dict__, "status": "REFUNDING"})
    assert await apply_payment_status(orders_db, refunding) is PaymentOutcome.IGNORED
    assert (await _order(orders_db, sn)).trade_state == TradeState.WAIT_PAY
