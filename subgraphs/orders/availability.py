"""Announcing held nights to travel's availability read model (search by dates).

Every write that inserts or deletes `homestay_night` rows calls
`publish_order_nights` in the same transaction, after the change: it stages,
through the outbox, the full set of nights the order holds now (none once
released) with the order's row version. Booking stays the authority (the unique
key on `homestay_night`); travel's copy only serves search, and lags by the
outbox relay plus the worker's pick-up.
"""

from __future__ import annotations

from dataclasses import asdict

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from common.db import Database
from common.events import NIGHTS_HELD, NightHolds, send
from subgraphs.orders.models import HomestayNight, HomestayOrder, OutboxMessage


def order_holder(order_id: int) -> str:
    """How travel's read model names an order's holds."""
    return f"order:{order_id}"


async def publish_order_nights(session: AsyncSession, order_id: int) -> None:
    """Stage the order's current nights and version (call after changing its nights).

    The version is the order row's `version`, which every state change bumps under
    the row's lock, so the snapshot staged with the newest change carries the
    highest version. Two statements, whatever the number of nights.
    """
    order = (
        await session.execute(
            select(HomestayOrder.homestay_id, HomestayOrder.version).where(
                HomestayOrder.id == order_id
            )
        )
    ).one()
    nights = await session.scalars(
        select(HomestayNight.night)
        .where(HomestayNight.order_id == order_id)
        .order_by(HomestayNight.night)
    )
    publish_nights(
        session,
        NightHolds(
            holder=order_holder(order_id),
            homestay_id=order.homestay_id,
            nights=[night.isoformat() for night in nights],
            version=int(order.version),
        ),
    )


def publish_nights(session: AsyncSession, holds: NightHolds) -> None:
    """Stage one snapshot of a holder's nights (landlord blocks: holder `block:<homestay>`,
    with a version their own row bumps on each change)."""
    send(session, OutboxMessage, NIGHTS_HELD, asdict(holds))


async def republish_all_order_nights(db: Database, *, batch_size: int = 200) -> int:
    """Stage a snapshot for every order holding nights; returns how many.

    For travel's read model after it was created or restored (`looklook
    republish-night-holds`): safe at any time, since a snapshot whose version
    travel already has changes nothing.
    """
    staged, after = 0, 0
    while True:
        async with db.write_session() as session:
            order_ids = list(
                await session.scalars(
                    select(HomestayNight.order_id)
                    .where(HomestayNight.order_id > after)
                    .group_by(HomestayNight.order_id)
                    .order_by(HomestayNight.order_id)
                    .limit(batch_size)
                )
            )
            for order_id in order_ids:
                await publish_order_nights(session, order_id)
        if not order_ids:
            return staged
        staged, after = staged + len(order_ids), order_ids[-1]
