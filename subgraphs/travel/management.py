"""Changes to the catalog (landlord and operator tools); each one invalidates what it changes.

Every write here ends with one of `TravelCache`'s `*_changed` calls, after the commit:
a change is visible to every replica's next read, not after a cache lifetime.
"""

from __future__ import annotations

from sqlalchemy import select

from common.db import Database
from common.errors import BadUserInput, NotFound
from common.models import utcnow
from subgraphs.travel.cache import TravelCache
from subgraphs.travel.models import Homestay, HomestayBusiness, RowState


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
    await cache.homestays_changed(homestay_id)


async def delete_business(db: Database, cache: TravelCache, business_id: int) -> None:
    """Soft-delete a business: its homestays leave every list, past orders still resolve."""
    async with db.write_session() as session:
        row = await session.scalar(
            select(HomestayBusiness).where(
                HomestayBusiness.id == business_id, HomestayBusiness.del_state == 0
            )
        )
        if row is None:
            raise NotFound("No such business.")
        row.del_state, row.delete_time = 1, utcnow()
        row.version += 1
    await cache.businesses_changed(business_id)


async def delete_homestay(db: Database, cache: TravelCache, homestay_id: int) -> None:
    """Soft-delete a homestay: it leaves every list, past orders still show it."""
    async with db.write_session() as session:
        row = await session.scalar(
            select(Homestay).where(Homestay.id == homestay_id, Homestay.del_state == 0)
        )
        if row is None:
            raise NotFound("No such homestay.")
        row.del_state, row.delete_time = 1, utcnow()
        row.version += 1
    await cache.homestays_changed(homestay_id)
