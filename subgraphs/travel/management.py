"""Changes to the catalog (landlord and operator tools); each one invalidates what it changes."""

from __future__ import annotations

from sqlalchemy import select

from common.db import Database
from common.errors import BadUserInput, NotFound
from subgraphs.travel.cache import TravelCache
from subgraphs.travel.models import Homestay, RowState


async def update_homestay(
    db: Database,
    cache: TravelCache,
    homestay_id: int,
    *,
    homestay_price: int | None = None,
    on_sale: bool | None = None,
) -> None:
    """Change a homestay's price or sale state; readers see it at once, not after the TTL."""
    if homestay_price is not None and homestay_price <= 0:
        raise BadUserInput("The price must be positive (in fen).", field="homestayPrice")
    async with db.write_session() as session:
        row = await session.scalar(
            select(Homestay).where(Homestay.id == homestay_id, Homestay.del_state == 0)
        )
        if row is None:
            raise NotFound("No such homestay.")
        if homestay_price is not None:
            row.homestay_price = homestay_price
        if on_sale is not None:
            row.row_state = RowState.ON_SALE if on_sale else RowState.OFF_SALE
        row.version += 1
    await cache.homestays.invalidate(homestay_id)
