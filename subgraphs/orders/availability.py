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
from typing import Any, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from common.db import Database
from common.events import NIGHTS_HELD, NightHolds, send
from subgraphs.orders.models import (
    HomestayBlockVersion,
    HomestayNight,
    HomestayOrder,
    OutboxMessage,
)


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


def block_holder(homestay_id: int) -> str:
    """How travel's read model names a homestay's blocked nights (one holder per homestay)."""
    return f"block:{homestay_id}"


async def lock_blocks(session: AsyncSession, homestay_id: int) -> int:
    """Bump the homestay's block version first thing in a change to its blocks.

    The row lock serialises block changes per homestay, so the snapshot staged by
    `publish_block_nights` sees every earlier change and carries a higher version.
    The first change inserts the row; two first changes racing give one an
    IntegrityError, which the caller retries.
    """
    result = cast(
        CursorResult[Any],
        await session.execute(
            update(HomestayBlockVersion)
            .where(HomestayBlockVersion.homestay_id == homestay_id)
            .values(version=HomestayBlockVersion.version + 1)
        ),
    )
    if result.rowcount == 0:
        session.add(HomestayBlockVersion(homestay_id=homestay_id, version=1))
        await session.flush()
    version = await session.scalar(
        select(HomestayBlockVersion.version).where(HomestayBlockVersion.homestay_id == homestay_id)
    )
    assert version is not None
    return int(version)


async def publish_block_nights(session: AsyncSession, homestay_id: int, version: int) -> None:
    """Stage the homestay's blocked nights now (call after changing them, under `lock_blocks`)."""
    nights = await session.scalars(
        select(HomestayNight.night)
        .where(HomestayNight.homestay_id == homestay_id, HomestayNight.blocked_by.is_not(None))
        .order_by(HomestayNight.night)
    )
    publish_nights(
        session,
        NightHolds(
            holder=block_holder(homestay_id),
            homestay_id=homestay_id,
            nights=[night.isoformat() for night in nights],
            version=version,
        ),
    )


def publish_nights(session: AsyncSession, holds: NightHolds) -> None:
    """Stage one snapshot of a holder's nights (an order's, or a homestay's blocks)."""
    send(session, OutboxMessage, NIGHTS_HELD, asdict(holds))


async def republish_all_order_nights(db: Database, *, batch_size: int = 200) -> int:
    """Stage a snapshot for every order holding nights, and every homestay's blocks;
    returns how many snapshots.

    For travel's read model after it was created or restored (`looklook
    republish-night-holds`): safe at any time, since a snapshot whose version
    travel already has changes nothing (blocks get a new version).
    """
    staged, after = 0, 0
    while True:
        async with db.write_session() as session:
            order_ids = [
                order_id
                for order_id in await session.scalars(
                    select(HomestayNight.order_id)
                    .where(HomestayNight.order_id > after)
                    .group_by(HomestayNight.order_id)
                    .order_by(HomestayNight.order_id)
                    .limit(batch_size)
                )
                if order_id is not None
            ]
            for order_id in order_ids:
                await publish_order_nights(session, order_id)
        if not order_ids:
            break
        staged, after = staged + len(order_ids), order_ids[-1]
    async with db.read() as connection:
        blocked_homestays = list(
            await connection.scalars(
                select(HomestayNight.homestay_id)
                .where(HomestayNight.blocked_by.is_not(None))
                .group_by(HomestayNight.homestay_id)
            )
        )
    for homestay_id in blocked_homestays:
        async with db.write_session() as session:
            await publish_block_nights(
                session, homestay_id, await lock_blocks(session, homestay_id)
            )
        staged += 1
    return staged
