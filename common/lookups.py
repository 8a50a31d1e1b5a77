"""Live (not soft-deleted) rows by a unique column: the by-key reads every domain makes.

One statement for any number of keys, results in the keys' order with None for
keys that have no live row — the shape a DataLoader batch function returns.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import InstrumentedAttribute

from common.db import Database
from common.models import AuditColumns

M = TypeVar("M", bound=AuditColumns)


async def live_rows(
    db: Database, model: type[M], column: InstrumentedAttribute[Any], keys: Sequence[Hashable]
) -> list[M | None]:
    """The live rows of `model` whose unique `column` holds one of `keys`, in their order."""
    async with db.session() as session:
        rows = await session.scalars(select(model).where(column.in_(keys), model.del_state == 0))
        found = {getattr(row, column.key): row for row in rows}
    return [found.get(key) for key in keys]


async def live_row(
    db: Database, model: type[M], column: InstrumentedAttribute[Any], key: Hashable
) -> M | None:
    """The live row of `model` whose unique `column` holds `key`, if any."""
    [row] = await live_rows(db, model, column, [key])
    return row
