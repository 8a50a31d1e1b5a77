"""A homestay's search terms follow its text through every ORM write, on both databases."""

from __future__ import annotations

import random

from sqlalchemy import select

from common.db import Database
from subgraphs.travel.models import Homestay, HomestayBusiness
from subgraphs.travel.search import search_filters, search_homestays


def _word() -> str:
    return "".join(chr(random.randint(0x5000, 0x9000)) for _ in range(2))


async def _found(db: Database, keyword: str) -> list[int]:
    rows = await search_homestays(db, search_filters(keyword=keyword), limit=50, after=None)
    return [row.record.id for row in rows]


async def test_renamed_homestay_is_found_by_its_new_title_only(travel_db: Database) -> None:
    old, new = _word(), _word()
    async with travel_db.write_session() as session:
        business = HomestayBusiness(title="改名测试", user_id=random.randint(10**8, 10**9))
        session.add(business)
        await session.flush()
        homestay = Homestay(
            title=f"{old}小院", homestay_business_id=business.id, user_id=business.user_id
        )
        session.add(homestay)
    assert await _found(travel_db, old) == [homestay.id]
    async with travel_db.write_session() as session:
        row = await session.scalar(select(Homestay).where(Homestay.id == homestay.id))
        assert row is not None
        row.title = f"{new}小院"
    assert await _found(travel_db, old) == []
    assert await _found(travel_db, new) == [homestay.id]
    assert await _found(travel_db, "小院 " + new) == [homestay.id]
