"""Travel queries: lists and by-id loads (search: `search.py`). Returns records, not ORM rows.

Every function here only reads, so each runs SQLAlchemy Core on `Database.read()`:
the rows go straight into records, without ORM objects or a transaction on SQLite.
The statements on the home page's path are built once, with bound parameters for
what varies, so a request pays for neither building nor compiling them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Final

from sqlalchemy import Integer, Select, and_, bindparam, func, or_, select

from common.db import Database
from subgraphs.travel.models import (
    ActivityType,
    Homestay,
    HomestayActivity,
    HomestayBusiness,
    HomestayComment,
    RowState,
)
from subgraphs.travel.records import (
    BUSINESS_COLUMNS,
    COMMENT_COLUMNS,
    HOMESTAY_COLUMNS,
    BusinessRecord,
    CommentRecord,
    HomestayRecord,
)


@dataclass(frozen=True, slots=True)
class Ranked:
    """A row with the sort key a cursor resumes after."""

    record: HomestayRecord
    key: tuple[int, int]


def on_sale(query: Select[Any]) -> Select[Any]:
    """Homestays a guest can book: on sale, not deleted, and of a business not deleted
    (a list never shows a homestay whose business is gone)."""
    return query.join(HomestayBusiness, HomestayBusiness.id == Homestay.homestay_business_id).where(
        Homestay.row_state == RowState.ON_SALE,
        Homestay.del_state == 0,
        HomestayBusiness.del_state == 0,
    )


async def _homestays(db: Database, query: Select[Any]) -> list[HomestayRecord]:
    async with db.read() as connection:
        return [HomestayRecord.from_row(row) for row in await connection.execute(query)]


async def _businesses(db: Database, query: Select[Any]) -> list[BusinessRecord]:
    async with db.read() as connection:
        return [BusinessRecord.from_row(row) for row in await connection.execute(query)]


_HOMESTAYS_BY_IDS: Final = select(*HOMESTAY_COLUMNS).where(
    Homestay.id.in_(bindparam("ids", expanding=True))
)


async def homestays_by_ids(db: Database, ids: Sequence[int]) -> dict[int, HomestayRecord]:
    """Every homestay with these ids, on sale or not, deleted or not (`record.deleted`):
    a past order still points to it."""
    async with db.read() as connection:
        rows = await connection.execute(_HOMESTAYS_BY_IDS, {"ids": list(ids)})
        return {row.id: HomestayRecord.from_row(row) for row in rows}


async def homestay_now(db: Database, homestay_id: int) -> HomestayRecord | None:
    """One homestay straight from the database (no cache): the price and sale state to book
    at. Not on sale when its business is deleted (no list shows it then either)."""
    record = (await homestays_by_ids(db, [homestay_id])).get(homestay_id)
    if record is None or not record.on_sale:
        return record
    business = (await businesses_by_ids(db, [record.business_id])).get(record.business_id)
    return record if business and not business.deleted else replace(record, on_sale=False)


_BUSINESSES_BY_IDS: Final = select(*BUSINESS_COLUMNS).where(
    HomestayBusiness.id.in_(bindparam("ids", expanding=True))
)


async def businesses_by_ids(db: Database, ids: Sequence[int]) -> dict[int, BusinessRecord]:
    """Every business with these ids, deleted or not (`record.deleted`)."""
    async with db.read() as connection:
        rows = await connection.execute(_BUSINESSES_BY_IDS, {"ids": list(ids)})
        return {row.id: BusinessRecord.from_row(row) for row in rows}


_PREFERRED: Final = (
    select(
        *HOMESTAY_COLUMNS,
        HomestayActivity.sort.label("activity_sort"),
        HomestayActivity.id.label("activity_id"),
    )
    .join(HomestayActivity, HomestayActivity.data_id == Homestay.id)
    .join(HomestayBusiness, HomestayBusiness.id == Homestay.homestay_business_id)
    .where(
        HomestayActivity.row_type == ActivityType.PREFERRED_HOMESTAY.value,
        HomestayActivity.row_status == 1,
        HomestayActivity.del_state == 0,
        Homestay.row_state == RowState.ON_SALE,
        Homestay.del_state == 0,
        HomestayBusiness.del_state == 0,
    )
    .order_by(HomestayActivity.sort, HomestayActivity.id)
    .limit(bindparam("limit", type_=Integer))
)
_PREFERRED_AFTER: Final = _PREFERRED.where(
    or_(
        HomestayActivity.sort > bindparam("sort", type_=Integer),
        and_(
            HomestayActivity.sort == bindparam("sort", type_=Integer),
            HomestayActivity.id > bindparam("activity_id", type_=Integer),
        ),
    )
)


async def preferred_homestays(
    db: Database, *, limit: int, after: tuple[int, int] | None
) -> list[Ranked]:
    """The curated 为你优选 list, in its configured order (sort, then activity id)."""
    if after is None:
        query, params = _PREFERRED, {"limit": limit}
    else:
        query, params = (
            _PREFERRED_AFTER,
            {"limit": limit, "sort": after[0], "activity_id": after[1]},
        )
    async with db.read() as connection:
        rows = await connection.execute(query, params)
        return [
            Ranked(HomestayRecord.from_row(row), (row.activity_sort, row.activity_id))
            for row in rows
        ]


async def latest_homestays(db: Database, *, limit: int) -> list[HomestayRecord]:
    """猜你喜欢: the newest homestays on sale."""
    return await _homestays(
        db, on_sale(select(*HOMESTAY_COLUMNS)).order_by(Homestay.id.desc()).limit(limit)
    )


def _homestays_per_business(*, paged: bool) -> Select[Any]:
    """Up to :limit newest on-sale homestays of each of :ids, older than :before_id when `paged`."""
    position = (
        func.row_number()
        .over(partition_by=Homestay.homestay_business_id, order_by=Homestay.id.desc())
        .label("position")
    )
    inner = on_sale(select(Homestay.id, position)).where(
        Homestay.homestay_business_id.in_(bindparam("ids", expanding=True))
    )
    if paged:
        inner = inner.where(Homestay.id < bindparam("before_id", type_=Integer))
    ranked = inner.subquery()
    return (
        select(*HOMESTAY_COLUMNS)
        .join(ranked, ranked.c.id == Homestay.id)
        .where(ranked.c.position <= bindparam("limit", type_=Integer))
        .order_by(Homestay.homestay_business_id, Homestay.id.desc())
    )


_HOMESTAYS_PER_BUSINESS: Final = _homestays_per_business(paged=False)
_HOMESTAYS_PER_BUSINESS_BEFORE: Final = _homestays_per_business(paged=True)


async def homestays_per_business(
    db: Database, business_ids: Sequence[int], *, limit: int, before_id: int | None
) -> dict[int, list[HomestayRecord]]:
    """Up to `limit` newest on-sale homestays of each business, in one statement."""
    params: dict[str, Any] = {"ids": list(business_ids), "limit": limit}
    if before_id is None:
        query = _HOMESTAYS_PER_BUSINESS
    else:
        query, params["before_id"] = _HOMESTAYS_PER_BUSINESS_BEFORE, before_id
    result: dict[int, list[HomestayRecord]] = {bid: [] for bid in business_ids}
    async with db.read() as connection:
        for row in await connection.execute(query, params):
            result[row.homestay_business_id].append(HomestayRecord.from_row(row))
    return result


async def businesses(db: Database, *, limit: int, before_id: int | None) -> list[BusinessRecord]:
    query = select(*BUSINESS_COLUMNS).where(
        HomestayBusiness.row_state == RowState.ON_SALE, HomestayBusiness.del_state == 0
    )
    if before_id is not None:
        query = query.where(HomestayBusiness.id < before_id)
    return await _businesses(db, query.order_by(HomestayBusiness.id.desc()).limit(limit))


async def best_rated_businesses(db: Database, *, limit: int) -> list[BusinessRecord]:
    """最佳房东: the landlords with the best ratings."""
    query = (
        select(*BUSINESS_COLUMNS)
        .where(HomestayBusiness.row_state == RowState.ON_SALE, HomestayBusiness.del_state == 0)
        .order_by(HomestayBusiness.star.desc(), HomestayBusiness.id.desc())
        .limit(limit)
    )
    return await _businesses(db, query)


def _latest_comments(*, paged: bool) -> Select[Any]:
    """Up to :limit newest comments of each of :ids, older than :before_id when `paged`."""
    position = (
        func.row_number()
        .over(partition_by=HomestayComment.homestay_id, order_by=HomestayComment.id.desc())
        .label("position")
    )
    inner = select(HomestayComment.id, position).where(
        HomestayComment.homestay_id.in_(bindparam("ids", expanding=True)),
        HomestayComment.del_state == 0,
    )
    if paged:
        inner = inner.where(HomestayComment.id < bindparam("before_id", type_=Integer))
    ranked = inner.subquery()
    return (
        select(*COMMENT_COLUMNS)
        .join(ranked, ranked.c.id == HomestayComment.id)
        .where(ranked.c.position <= bindparam("limit", type_=Integer))
        .order_by(HomestayComment.homestay_id, HomestayComment.id.desc())
    )


_LATEST_COMMENTS: Final = _latest_comments(paged=False)
_LATEST_COMMENTS_BEFORE: Final = _latest_comments(paged=True)


async def latest_comments_per_homestay(
    db: Database, homestay_ids: Sequence[int], *, limit: int, before_id: int | None
) -> dict[int, list[CommentRecord]]:
    """Up to `limit` newest comments of each homestay, in one statement (a window function)."""
    params: dict[str, Any] = {"ids": list(homestay_ids), "limit": limit}
    if before_id is None:
        query = _LATEST_COMMENTS
    else:
        query, params["before_id"] = _LATEST_COMMENTS_BEFORE, before_id
    result: dict[int, list[CommentRecord]] = {hid: [] for hid in homestay_ids}
    async with db.read() as connection:
        for row in await connection.execute(query, params):
            result[row.homestay_id].append(CommentRecord.from_row(row))
    return result


async def business_of_landlord(db: Database, landlord_id: int) -> BusinessRecord | None:
    """The landlord's own live business, from the database (their management view)."""
    query = select(*BUSINESS_COLUMNS).where(
        HomestayBusiness.user_id == landlord_id, HomestayBusiness.del_state == 0
    )
    found = await _businesses(db, query)
    return found[0] if found else None


async def all_homestays_of_business(
    db: Database, business_id: int, *, limit: int, before_id: int | None
) -> list[HomestayRecord]:
    """Every live homestay of a business, on sale or not, newest first: its landlord's
    management view, from the database (their own change shows at once)."""
    query = select(*HOMESTAY_COLUMNS).where(
        Homestay.homestay_business_id == business_id, Homestay.del_state == 0
    )
    if before_id is not None:
        query = query.where(Homestay.id < before_id)
    return await _homestays(db, query.order_by(Homestay.id.desc()).limit(limit))
