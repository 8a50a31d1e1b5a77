"""Changes to the catalog: landlords' own (API.md "Hosts: catalogue") and operator tools.

Every write here ends with one of `TravelCache`'s `*_changed` calls, after the commit:
a change is visible to every replica's next read, not after a cache lifetime. Bookings
read the database itself (`service.homestay_now`), so a new price or sale state is
what the next order is charged, whatever any cache still holds.

Ownership lives here, next to the write it guards: a landlord's change loads the row
for update and checks it is theirs in the same transaction (`_own_business`,
`_own_homestay`). Input is validated (`validation`) before anything is flushed, and
any refusal rolls the whole transaction back: a refused change writes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from common.db import Database, is_retryable
from common.errors import BadUserInput, Conflict, Forbidden, NotFound
from common.models import utcnow
from common.patch import KEEP, Patch
from subgraphs.travel import validation
from subgraphs.travel.cache import TravelCache
from subgraphs.travel.models import (
    CancellationPolicy,
    Homestay,
    HomestayBusiness,
    RowState,
    RowType,
)
from subgraphs.travel.records import BusinessRecord, HomestayRecord

# Concurrent inserts into one unique index can deadlock on MariaDB; the loser retries.
_DEADLOCK_RETRIES: Final = 3


# ------------------------------------------------------------------- businesses


@dataclass(frozen=True)
class BusinessFields:
    """A new business. None: the field's empty value (FLEXIBLE for the policy)."""

    title: str
    info: str | None = None
    tags: list[str] | None = None
    cancellation_policy: CancellationPolicy | None = None
    cover: str | None = None  # the URL of a checked upload (common.storage.claim_image)


@dataclass(frozen=True)
class BusinessChanges:
    """Only the fields not KEEP change. None clears a text or the tags; title and policy
    cannot be null."""

    title: Patch[str | None] = KEEP
    info: Patch[str | None] = KEEP
    tags: Patch[list[str] | None] = KEEP
    cancellation_policy: Patch[CancellationPolicy | None] = KEEP
    cover: Patch[str | None] = KEEP  # a checked upload's URL; None removes the cover


def _business_values(changes: BusinessChanges) -> dict[str, Any]:
    """The columns to write for the given fields, each validated; {} when none is given."""
    values: dict[str, Any] = {}
    if changes.title is not KEEP:
        values["title"] = validation.clean_title(changes.title)
    if changes.info is not KEEP:
        values["info"] = validation.clean_business_info(changes.info)
    if changes.tags is not KEEP:
        values["tags"] = validation.clean_tags(changes.tags)
    if changes.cancellation_policy is not KEEP:
        if changes.cancellation_policy is None:
            raise BadUserInput("Choose a cancellation policy.", field="cancellationPolicy")
        values["cancellation_policy"] = CancellationPolicy(changes.cancellation_policy).value
    if changes.cover is not KEEP:
        values["cover"] = changes.cover or ""
    return values


async def open_business(
    db: Database, cache: TravelCache, landlord_id: int, fields: BusinessFields
) -> BusinessRecord:
    """Open the landlord's business; CONFLICT when they already have one.

    One per user by the unique key on `homestay_business.user_id`, not by looking first:
    of two concurrent openings exactly one inserts, the other fails on the key. A
    business deleted by an operator still holds its landlord's key (its orders and
    homestays keep pointing to it).
    """
    values = _business_values(
        BusinessChanges(
            title=fields.title,
            info=fields.info,
            tags=fields.tags,
            cancellation_policy=fields.cancellation_policy or CancellationPolicy.FLEXIBLE,
            cover=fields.cover,
        )
    )
    for attempt in range(_DEADLOCK_RETRIES):
        try:
            async with db.write_session() as session:
                row = HomestayBusiness(
                    user_id=landlord_id,
                    row_state=RowState.ON_SALE,
                    star=0.0,
                    del_state=0,
                    **values,
                )
                session.add(row)
                await session.flush()
                record = BusinessRecord.from_row(row)
            break
        except IntegrityError as error:
            raise Conflict("You already have a homestay business.") from error
        except DBAPIError as error:
            if attempt == _DEADLOCK_RETRIES - 1 or not is_retryable(error):
                raise
    await cache.businesses_changed(record.id)
    return record


async def _own_business(session: AsyncSession, landlord_id: int) -> HomestayBusiness:
    """The landlord's live business, locked for this transaction; FORBIDDEN without one."""
    row = await session.scalar(
        select(HomestayBusiness)
        .where(HomestayBusiness.user_id == landlord_id, HomestayBusiness.del_state == 0)
        .with_for_update()
    )
    if row is None:
        raise Forbidden("Open your homestay business first.")
    return row


async def update_business(
    db: Database, cache: TravelCache, landlord_id: int, changes: BusinessChanges
) -> BusinessRecord:
    """Change the landlord's own business: only the fields given."""
    async with db.write_session() as session:
        row = await _own_business(session, landlord_id)
        values = _business_values(changes)
        for column, value in values.items():
            setattr(row, column, value)
        if values:
            row.version += 1
            await session.flush()
        record = BusinessRecord.from_row(row)
    if values:
        await cache.businesses_changed(record.id)
    return record


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


# ------------------------------------------------------------------- homestays


@dataclass(frozen=True)
class HomestayFields:
    """A new homestay; prices in fen. None: the text's empty value."""

    title: str
    people_num: int
    row_type: RowType
    food_price: int
    homestay_price: int
    market_homestay_price: int
    sub_title: str | None = None
    info: str | None = None
    food_info: str | None = None
    banner: str | None = None  # the URL of a checked upload (common.storage.claim_image)


@dataclass(frozen=True)
class HomestayChanges:
    """Only the fields not KEEP change. None clears a text; the other fields cannot be null."""

    title: Patch[str | None] = KEEP
    sub_title: Patch[str | None] = KEEP
    info: Patch[str | None] = KEEP
    people_num: Patch[int | None] = KEEP
    row_type: Patch[RowType | None] = KEEP
    food_info: Patch[str | None] = KEEP
    food_price: Patch[int | None] = KEEP
    homestay_price: Patch[int | None] = KEEP
    market_homestay_price: Patch[int | None] = KEEP
    on_sale: Patch[bool] = KEEP
    banner: Patch[str | None] = KEEP  # a checked upload's URL; None removes the banner


def _homestay_values(changes: HomestayChanges, stored: Homestay | None) -> dict[str, Any]:
    """The columns to write for the given fields, each validated.

    The market price may not be below the price, also when only one of them changes:
    the other is then the stored one (`stored`, None for a new homestay).
    """
    values: dict[str, Any] = {}
    if changes.title is not KEEP:
        values["title"] = validation.clean_title(changes.title)
    if changes.sub_title is not KEEP:
        values["sub_title"] = validation.clean_sub_title(changes.sub_title)
    if changes.info is not KEEP:
        values["info"] = validation.clean_homestay_info(changes.info)
    if changes.people_num is not KEEP:
        values["people_num"] = validation.check_people_num(changes.people_num)
    if changes.row_type is not KEEP:
        if changes.row_type is None:
            raise BadUserInput("Choose how the homestay is priced.", field="rowType")
        values["row_type"] = RowType(changes.row_type).value
    if changes.food_info is not KEEP:
        values["food_info"] = validation.clean_food_info(changes.food_info)
    if changes.food_price is not KEEP:
        values["food_price"] = validation.check_food_price(changes.food_price)
    if changes.homestay_price is not KEEP:
        values["homestay_price"] = validation.check_price(
            changes.homestay_price, field="homestayPrice"
        )
    if changes.market_homestay_price is not KEEP:
        values["market_homestay_price"] = validation.check_price(
            changes.market_homestay_price, field="marketHomestayPrice"
        )
    if "homestay_price" in values or "market_homestay_price" in values:
        price = values.get("homestay_price", stored.homestay_price if stored else 0)
        market = values.get("market_homestay_price", stored.market_homestay_price if stored else 0)
        changed = "marketHomestayPrice" if "market_homestay_price" in values else "homestayPrice"
        validation.check_market_price(price, market, field=changed)
    if changes.on_sale is not KEEP:
        values["row_state"] = RowState.ON_SALE if changes.on_sale else RowState.OFF_SALE
    if changes.banner is not KEEP:
        values["banner"] = changes.banner or ""
    return values


async def create_homestay(
    db: Database, cache: TravelCache, landlord_id: int, fields: HomestayFields
) -> HomestayRecord:
    """A new homestay in the landlord's business, off sale until they put it on sale."""
    values = _homestay_values(
        HomestayChanges(
            title=fields.title,
            sub_title=fields.sub_title,
            info=fields.info,
            people_num=fields.people_num,
            row_type=fields.row_type,
            food_info=fields.food_info,
            food_price=fields.food_price,
            homestay_price=fields.homestay_price,
            market_homestay_price=fields.market_homestay_price,
            on_sale=False,
            banner=fields.banner,
        ),
        None,
    )
    async with db.write_session() as session:
        business = await _own_business(session, landlord_id)
        row = Homestay(
            homestay_business_id=business.id,
            user_id=landlord_id,
            del_state=0,
            **values,
        )
        session.add(row)
        await session.flush()
        record = HomestayRecord.from_row(row)
    await cache.homestays_changed(record.id)
    return record


async def _own_homestay(
    session: AsyncSession, homestay_id: int, landlord_id: int | None
) -> Homestay:
    """The homestay, locked for this transaction: NOT_FOUND when there is none (or it is
    deleted), FORBIDDEN when it is another landlord's. `landlord_id` None: an operator."""
    row = await session.scalar(
        select(Homestay)
        .where(Homestay.id == homestay_id, Homestay.del_state == 0)
        .with_for_update()
    )
    if row is None:
        raise NotFound("No such homestay.")
    if landlord_id is not None and row.user_id != landlord_id:
        raise Forbidden("Only its landlord may change this homestay.")
    return row


async def change_homestay(
    db: Database,
    cache: TravelCache,
    homestay_id: int,
    changes: HomestayChanges,
    *,
    landlord_id: int | None,
) -> HomestayRecord:
    """Change a homestay: only the fields given. `landlord_id` is who asks (their own
    homestays only); None only for operator tools."""
    async with db.write_session() as session:
        row = await _own_homestay(session, homestay_id, landlord_id)
        values = _homestay_values(changes, row)
        for column, value in values.items():
            setattr(row, column, value)
        if values:
            row.version += 1
            await session.flush()
        record = HomestayRecord.from_row(row)
    if values:
        await cache.homestays_changed(homestay_id)
    return record


async def update_homestay(
    db: Database,
    cache: TravelCache,
    homestay_id: int,
    *,
    homestay_price: int | None = None,
    on_sale: bool | None = None,
) -> None:
    """Operator tool: change a homestay's price or sale state (same rules as a landlord's)."""
    await change_homestay(
        db,
        cache,
        homestay_id,
        HomestayChanges(
            homestay_price=KEEP if homestay_price is None else homestay_price,
            on_sale=KEEP if on_sale is None else on_sale,
        ),
        landlord_id=None,
    )


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
