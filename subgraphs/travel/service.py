"""Travel queries: lists, search and by-id loads. Returns records, not ORM rows or GraphQL types."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Select, and_, func, or_, select

from common.db import Database
from common.errors import BadUserInput
from subgraphs.travel.models import (
    ActivityType,
    Homestay,
    HomestayActivity,
    HomestayBusiness,
    HomestayComment,
    RowState,
)
from subgraphs.travel.records import BusinessRecord, CommentRecord, HomestayRecord

KEYWORD_MAX = 50


@dataclass(frozen=True)
class Ranked:
    """A row with the sort key a cursor resumes after."""

    record: HomestayRecord
    key: tuple[int, int]


def _on_sale(query: Select[tuple[Homestay]]) -> Select[tuple[Homestay]]:
    return query.where(Homestay.row_state == RowState.ON_SALE, Homestay.del_state == 0)


async def _homestays(db: Database, query: Select[tuple[Homestay]]) -> list[HomestayRecord]:
    async with db.session() as session:
        return [HomestayRecord.of(row) for row in await session.scalars(query)]


async def homestays_by_ids(db: Database, ids: Sequence[int]) -> dict[int, HomestayRecord]:
    """Every homestay with these ids, on sale or not (a past order may point to any)."""
    async with db.session() as session:
        rows = await session.scalars(
            select(Homestay).where(Homestay.id.in_(ids), Homestay.del_state == 0)
        )
        return {row.id: HomestayRecord.of(row) for row in rows}


async def businesses_by_ids(db: Database, ids: Sequence[int]) -> dict[int, BusinessRecord]:
    async with db.session() as session:
        rows = await session.scalars(
            select(HomestayBusiness).where(
                HomestayBusiness.id.in_(ids), HomestayBusiness.del_state == 0
            )
        )
        return {row.id: BusinessRecord.of(row) for row in rows}


async def preferred_homestays(
    db: Database, *, limit: int, after: tuple[int, int] | None
) -> list[Ranked]:
    """The curated 为你优选 list, in its configured order (sort, then activity id)."""
    query = (
        select(Homestay, HomestayActivity.sort, HomestayActivity.id)
        .join(HomestayActivity, HomestayActivity.data_id == Homestay.id)
        .where(
            HomestayActivity.row_type == ActivityType.PREFERRED_HOMESTAY.value,
            HomestayActivity.row_status == 1,
            HomestayActivity.del_state == 0,
            Homestay.row_state == RowState.ON_SALE,
            Homestay.del_state == 0,
        )
        .order_by(HomestayActivity.sort, HomestayActivity.id)
        .limit(limit)
    )
    if after is not None:
        sort, activity_id = after
        query = query.where(
            or_(
                HomestayActivity.sort > sort,
                and_(HomestayActivity.sort == sort, HomestayActivity.id > activity_id),
            )
        )
    async with db.session() as session:
        rows = (await session.execute(query)).all()
    return [Ranked(HomestayRecord.of(row[0]), (row[1], row[2])) for row in rows]


async def latest_homestays(db: Database, *, limit: int) -> list[HomestayRecord]:
    """猜你喜欢: the newest homestays on sale."""
    return await _homestays(
        db, _on_sale(select(Homestay)).order_by(Homestay.id.desc()).limit(limit)
    )


async def business_homestays(
    db: Database, business_id: int, *, limit: int, before_id: int | None
) -> list[HomestayRecord]:
    query = _on_sale(select(Homestay)).where(Homestay.homestay_business_id == business_id)
    if before_id is not None:
        query = query.where(Homestay.id < before_id)
    return await _homestays(db, query.order_by(Homestay.id.desc()).limit(limit))


def _like_pattern(keyword: str) -> str:
    escaped = keyword.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def clean_keyword(keyword: str) -> str:
    cleaned = keyword.strip()
    if not cleaned:
        raise BadUserInput("Enter something to search for.", field="keyword")
    if len(cleaned) > KEYWORD_MAX:
        raise BadUserInput(f"Search for at most {KEYWORD_MAX} characters.", field="keyword")
    return cleaned


async def search_homestays(
    db: Database, keyword: str, *, limit: int, before_id: int | None
) -> list[HomestayRecord]:
    """On-sale homestays whose title, subtitle or description contains the keyword."""
    pattern = _like_pattern(clean_keyword(keyword))
    query = _on_sale(select(Homestay)).where(
        or_(
            Homestay.title.like(pattern, escape="\\"),
            Homestay.sub_title.like(pattern, escape="\\"),
            Homestay.info.like(pattern, escape="\\"),
        )
    )
    if before_id is not None:
        query = query.where(Homestay.id < before_id)
    return await _homestays(db, query.order_by(Homestay.id.desc()).limit(limit))


async def businesses(db: Database, *, limit: int, before_id: int | None) -> list[BusinessRecord]:
    query = select(HomestayBusiness).where(
        HomestayBusiness.row_state == RowState.ON_SALE, HomestayBusiness.del_state == 0
    )
    if before_id is not None:
        query = query.where(HomestayBusiness.id < before_id)
    async with db.session() as session:
        rows = await session.scalars(query.order_by(HomestayBusiness.id.desc()).limit(limit))
        return [BusinessRecord.of(row) for row in rows]


async def best_rated_businesses(db: Database, *, limit: int) -> list[BusinessRecord]:
    """最佳房东: the landlords with the best ratings."""
    query = (
        select(HomestayBusiness)
        .where(HomestayBusiness.row_state == RowState.ON_SALE, HomestayBusiness.del_state == 0)
        .order_by(HomestayBusiness.star.desc(), HomestayBusiness.id.desc())
        .limit(limit)
    )
    async with db.session() as session:
        return [BusinessRecord.of(row) for row in await session.scalars(query)]


async def latest_comments_per_homestay(
    db: Database, homestay_ids: Sequence[int], *, limit: int, before_id: int | None
) -> dict[int, list[CommentRecord]]:
    """Up to `limit` newest comments of each homestay, in one statement (a window function)."""
    position = (
        func.row_number()
        .over(partition_by=HomestayComment.homestay_id, order_by=HomestayComment.id.desc())
        .label("position")
    )
    inner = select(HomestayComment.id, position).where(
        HomestayComment.homestay_id.in_(homestay_ids), HomestayComment.del_state == 0
    )
    if before_id is not None:
        inner = inner.where(HomestayComment.id < before_id)
    ranked = inner.subquery()
    query = (
        select(HomestayComment)
        .join(ranked, ranked.c.id == HomestayComment.id)
        .where(ranked.c.position <= limit)
        .order_by(HomestayComment.homestay_id, HomestayComment.id.desc())
    )
    result: dict[int, list[CommentRecord]] = {hid: [] for hid in homestay_ids}
    async with db.session() as session:
        for row in await session.scalars(query):
            result[row.homestay_id].append(CommentRecord.of(row))
    return result
