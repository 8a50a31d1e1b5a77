"""A homestay's nights: which are free, booked or blocked, and the landlord's blocks.

Bookings and blocks take nights the same way, by a row in `homestay_night`, whose
unique (homestay_id, night) key lets one holder have a night, whichever commits
first. A calendar is read from those rows alone, so it shows exactly what booking
enforces.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, and_, delete, or_, select
from sqlalchemy.exc import DBAPIError, IntegrityError

from common.db import Database, is_retryable
from common.errors import BadUserInput
from subgraphs.orders.availability import lock_blocks, publish_block_nights
from subgraphs.orders.models import HomestayNight
from subgraphs.orders.service import HomestayUnavailable

# About a quarter: enough for a month view with its neighbours, small enough for one read.
MAX_CALENDAR_NIGHTS = 92
# Rounds of a block that lost a race for a night (to a booking or another block) before
# it looks again; each round one of the racers commits, so a few are plenty.
_BLOCK_ROUNDS = 5


@dataclass(frozen=True)
class NightRange:
    """The nights [start, end) of one homestay: a calendar's key (hashable, for batching)."""

    homestay_id: int
    start: date
    end: date

    @property
    def nights(self) -> list[date]:
        return [self.start + timedelta(days=n) for n in range((self.end - self.start).days)]


@dataclass(frozen=True)
class CalendarDay:
    night: date
    available: bool
    blocked: bool


def check_range(start: date, end: date) -> None:
    """A calendar or block covers 1 to MAX_CALENDAR_NIGHTS nights."""
    if end <= start:
        raise BadUserInput("`to` must be after `from`.", field="to")
    if (end - start).days > MAX_CALENDAR_NIGHTS:
        raise BadUserInput(f"At most {MAX_CALENDAR_NIGHTS} nights at a time.", field="to")


def check_changeable(start: date, end: date, *, today: date, horizon_days: int) -> None:
    """Nights a landlord may block or unblock: a valid range, not in the past, not beyond
    the booking horizon (nobody can book there)."""
    check_range(start, end)
    if start < today:
        raise BadUserInput("Past nights cannot change.", field="from")
    if start > today + timedelta(days=horizon_days):
        raise BadUserInput(
            f"Nights can be changed at most {horizon_days} days ahead.", field="from"
        )


async def calendars(
    db: Database, ranges: Sequence[NightRange], *, today: date
) -> list[list[CalendarDay]]:
    """The calendars of many ranges (a DataLoader batch), in their order, in ONE statement.

    A night is available when it is not in the past and no row holds it; `blocked`
    when the landlord's block holds it.
    """
    if not ranges:
        return []
    taken: dict[tuple[int, date], bool] = {}  # (homestay, night) -> blocked
    async with db.read() as connection:
        rows = await connection.execute(
            select(HomestayNight.homestay_id, HomestayNight.night, HomestayNight.order_id).where(
                or_(
                    *(
                        and_(
                            HomestayNight.homestay_id == key.homestay_id,
                            HomestayNight.night >= key.start,
                            HomestayNight.night < key.end,
                        )
                        for key in set(ranges)
                    )
                )
            )
        )
        for homestay_id, night, order_id in rows:
            taken[(homestay_id, night)] = order_id is None
    return [
        [
            CalendarDay(
                night=night,
                available=night >= today and (key.homestay_id, night) not in taken,
                blocked=taken.get((key.homestay_id, night), False),
            )
            for night in key.nights
        ]
        for key in ranges
    ]


async def block_nights(db: Database, nights: NightRange, *, landlord_id: int) -> None:
    """Close the nights to bookings: all of them, or none when an order holds any.

    Nights already blocked stay blocked (blocking twice is harmless). Not
    check-then-insert: the read only tells a booked night (refuse) from a blocked
    one (skip); the unique key decides every race. When a concurrent booking or block
    takes a night between the read and the insert, the insert fails on the key,
    nothing of this round is kept, and the next round reads again: the booking then
    refuses the block, the block is then skipped.
    """
    deadlocks = 0
    for _ in range(_BLOCK_ROUNDS):
        try:
            await _insert_blocks(db, nights, landlord_id)
            return
        except IntegrityError:
            continue
        except DBAPIError as error:  # a deadlock with a concurrent booking: try again
            deadlocks += 1
            if deadlocks == 3 or not is_retryable(error):
                raise
    raise HomestayUnavailable("These nights are changing right now; please try again.")


async def _insert_blocks(db: Database, nights: NightRange, landlord_id: int) -> None:
    async with db.write_session() as session:
        version = await lock_blocks(session, nights.homestay_id)
        held = (
            await session.execute(
                select(HomestayNight.night, HomestayNight.order_id).where(
                    HomestayNight.homestay_id == nights.homestay_id,
                    HomestayNight.night >= nights.start,
                    HomestayNight.night < nights.end,
                )
            )
        ).all()
        booked = sorted(night for night, order_id in held if order_id is not None)
        if booked:
            raise HomestayUnavailable(
                "Some of these nights are booked; nothing was blocked.",
                bookedNights=[night.isoformat() for night in booked],
            )
        blocked = {night for night, _ in held}
        session.add_all(
            HomestayNight(homestay_id=nights.homestay_id, night=night, blocked_by=landlord_id)
            for night in nights.nights
            if night not in blocked
        )
        await session.flush()
        await publish_block_nights(session, nights.homestay_id, version)


async def unblock_nights(db: Database, nights: NightRange) -> int:
    """Open the landlord's blocked nights again; an order's nights are never touched."""
    for attempt in range(_BLOCK_ROUNDS):
        try:
            return await _delete_blocks(db, nights)
        except IntegrityError:  # a first block change of this homestay raced ours
            if attempt == _BLOCK_ROUNDS - 1:
                raise
    raise AssertionError("unreachable")


async def _delete_blocks(db: Database, nights: NightRange) -> int:
    async with db.write_session() as session:
        version = await lock_blocks(session, nights.homestay_id)
        result = cast(
            CursorResult[Any],
            await session.execute(
                delete(HomestayNight).where(
                    HomestayNight.homestay_id == nights.homestay_id,
                    HomestayNight.night >= nights.start,
                    HomestayNight.night < nights.end,
                    HomestayNight.order_id.is_(None),
                )
            ),
        )
        await publish_block_nights(session, nights.homestay_id, version)
        return int(result.rowcount)
