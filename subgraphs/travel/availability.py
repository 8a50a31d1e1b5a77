"""Travel's copy of who holds which nights, fed by orders' `NightHolds` messages.

orders owns bookings; travel keeps just enough to filter a date search in SQL
(`night_hold`). Each message is a holder's full set of nights with a version, so
applying is a replace guarded by the version: a repeated or late message (lower
or equal version) is dropped, and the outcome does not depend on arrival order.
"""

from __future__ import annotations

from datetime import date
from typing import Any, cast

from sqlalchemy import CursorResult, delete, insert, select, update

from common.db import Database
from common.events import NightHolds
from subgraphs.travel.models import NightHold, NightHoldVersion


async def apply_night_holds(db: Database, holds: NightHolds) -> bool:
    """Replace the holder's nights if `holds` is newer than what is applied; True if it was.

    The version row decides: a conditional update (or the first insert, whose
    primary key makes a concurrent twin fail and be retried) under the row's lock,
    so two appliers of one holder never interleave their replaces.
    """
    async with db.write_session() as session:
        raised = cast(
            CursorResult[Any],
            await session.execute(
                update(NightHoldVersion)
                .where(
                    NightHoldVersion.holder == holds.holder,
                    NightHoldVersion.version < holds.version,
                )
                .values(version=holds.version)
            ),
        )
        if raised.rowcount != 1:
            applied = await session.scalar(
                select(NightHoldVersion.version).where(NightHoldVersion.holder == holds.holder)
            )
            if applied is not None:  # this version or a newer one is in already
                return False
            session.add(
                NightHoldVersion(
                    holder=holds.holder, homestay_id=holds.homestay_id, version=holds.version
                )
            )
            await session.flush()
        await session.execute(delete(NightHold).where(NightHold.holder == holds.holder))
        if holds.nights:
            await session.execute(
                insert(NightHold),
                [
                    {
                        "holder": holds.holder,
                        "homestay_id": holds.homestay_id,
                        "night": date.fromisoformat(night),
                    }
                    for night in holds.nights
                ],
            )
    return True
