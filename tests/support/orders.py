"""Order rows arranged directly in the orders database, for tests of background work."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select

from common.clock import china_today
from common.db import Database
from common.events import CLOSE_UNPAID_ORDER, send
from common.ids import SnPrefix, make_sn
from common.models import utcnow
from subgraphs.orders.models import HomestayOrder, OutboxMessage, TradeState


async def place_order(
    db: Database,
    *,
    pay_in_seconds: float,
    state: TradeState = TradeState.WAIT_PAY,
    live_end_date: date | None = None,
    with_message: bool = True,
) -> str:
    """An order row and (like `create_order`) its close message, in one transaction."""
    start = live_end_date - timedelta(days=1) if live_end_date else china_today()
    order = HomestayOrder(
        sn=make_sn(SnPrefix.HOMESTAY_ORDER),
        user_id=1,
        homestay_id=1,
        title="Test homestay",
        people_num=2,
        row_type=0,
        food_price=0,
        homestay_price=100,
        market_homestay_price=120,
        homestay_business_id=1,
        homestay_user_id=1,
        live_start_date=start,
        live_end_date=live_end_date or start + timedelta(days=1),
        live_people_num=1,
        trade_state=state,
        pay_deadline=utcnow() + timedelta(seconds=pay_in_seconds),
        order_total_price=100,
        food_total_price=0,
        homestay_total_price=100,
    )
    async with db.write_session() as session:
        session.add(order)
        if with_message:
            send(
                session,
                OutboxMessage,
                CLOSE_UNPAID_ORDER,
                order.sn,
                delay_seconds=max(pay_in_seconds, 0),
            )
    return order.sn


async def state_of(db: Database, sn: str) -> int:
    async with db.session() as session:
        state = await session.scalar(
            select(HomestayOrder.trade_state).where(HomestayOrder.sn == sn)
        )
    assert state is not None
    return state
