"""travel's availability read model: a holder's nights replaced only by a newer version."""

from __future__ import annotations

import itertools
from datetime import date

from sqlalchemy import select

from common.db import Database
from common.events import NightHolds
from subgraphs.travel.availability import apply_night_holds
from subgraphs.travel.models import NightHold

_holders = itertools.count(1)
NIGHTS = ["2031-05-01", "2031-05-02"]


def _holds(holder: str, version: int, nights: list[str]) -> NightHolds:
    return NightHolds(holder=holder, homestay_id=990_001, nights=nights, version=version)


async def _nights(db: Database, holder: str) -> list[date]:
    async with db.session() as session:
        rows = await session.scalars(
            select(NightHold.night).where(NightHold.holder == holder).order_by(NightHold.night)
        )
        return list(rows)


async def test_a_release_then_a_late_hold_leaves_the_nights_free(travel_db: Database) -> None:
    holder = f"order:test-{next(_holders)}"
    assert await apply_night_holds(travel_db, _holds(holder, 1, []))  # released (v1) first
    assert not await apply_night_holds(travel_db, _holds(holder, 0, NIGHTS))  # late hold (v0)
    assert await _nights(travel_db, holder) == []


async def test_hold_then_release_in_order_and_duplicates_change_nothing(
    travel_db: Database,
) -> None:
    holder = f"order:test-{next(_holders)}"
    assert await apply_night_holds(travel_db, _holds(holder, 0, NIGHTS))
    assert not await apply_night_holds(travel_db, _holds(holder, 0, NIGHTS))  # duplicate
    assert await _nights(travel_db, holder) == [date(2031, 5, 1), date(2031, 5, 2)]
    assert await apply_night_holds(travel_db, _holds(holder, 3, NIGHTS[:1]))
    assert await _nights(travel_db, holder) == [date(2031, 5, 1)]
    assert await apply_night_holds(travel_db, _holds(holder, 4, []))
    assert not await apply_night_holds(travel_db, _holds(holder, 3, NIGHTS[:1]))  # replayed
    assert await _nights(travel_db, holder) == []
