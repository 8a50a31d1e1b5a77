"""`looklook republish-night-holds`: every order holding nights is announced again."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import date

import pytest
from sqlalchemy import select

from common.db import Database
from common.events import NIGHTS_HELD
from common.settings import Domain, Settings
from subgraphs.orders.availability import order_holder, republish_all_order_nights
from subgraphs.orders.models import HomestayNight, HomestayOrder, OutboxMessage
from tests.support.orders import place_order


@pytest.fixture
async def orders_db(settings: Settings) -> AsyncIterator[Database]:
    db = Database(settings.database_url(Domain.ORDERS))
    yield db
    await db.dispose()


async def test_every_holding_order_is_staged_with_its_nights_and_version(
    orders_db: Database,
) -> None:
    sn = await place_order(orders_db, pay_in_seconds=600, with_message=False)
    nights = [date(2032, 1, 1), date(2032, 1, 2)]
    async with orders_db.write_session() as session:
        order = await session.scalar(select(HomestayOrder).where(HomestayOrder.sn == sn))
        assert order is not None
        order_id, order.homestay_id, order.version = order.id, 880_000 + order.id, 7
        session.add_all(
            HomestayNight(homestay_id=880_000 + order_id, night=night, order_id=order_id)
            for night in nights
        )
    assert await republish_all_order_nights(orders_db, batch_size=1) >= 1
    async with orders_db.session() as session:
        payloads = [
            json.loads(payload)["args"][0]
            for payload in await session.scalars(
                select(OutboxMessage.payload).where(
                    OutboxMessage.actor_name == NIGHTS_HELD.actor_name
                )
            )
        ]
    assert {
        "holder": order_holder(order_id),
        "homestay_id": 880_000 + order_id,
        "nights": ["2032-01-01", "2032-01-02"],
        "version": 7,
    } in payloads
