"""Small travel catalogs for tests, written straight into the travel database."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from sqlalchemy import func, select

from common.db import Database
from subgraphs.travel import reviews
from subgraphs.travel.models import (
    ActivityType,
    Homestay,
    HomestayActivity,
    HomestayBusiness,
    HomestayComment,
    RowState,
    RowType,
)

_counter = itertools.count(1)


@dataclass
class Catalog:
    business_ids: list[int] = field(default_factory=list)
    homestay_ids: list[int] = field(default_factory=list)  # on sale, in creation order
    off_sale_ids: list[int] = field(default_factory=list)
    preferred_ids: list[int] = field(default_factory=list)  # in curated order


async def make_catalog(
    db: Database,
    landlord_ids: list[int],
    *,
    homestays_per_business: int = 3,
    comments_per_homestay: int = 4,
    preferred: int = 0,
    title_prefix: str = "",
    guest_id: int = 1,
) -> Catalog:
    """One business per landlord with on-sale homestays, one off-sale homestay each, comments."""
    catalog = Catalog()
    tag = title_prefix or f"T{next(_counter)}"
    async with db.write_session() as session:
        for n, landlord in enumerate(landlord_ids):
            business = HomestayBusiness(
                title=f"{tag}·洱海边的家{n}",
                user_id=landlord,
                info="安静的海边院子",
                star=3.5 + n * 0.1,
                tags="近洱海,可做饭",
                cover=f"https://img.example/b{n}.jpg",
            )
            session.add(business)
            await session.flush()
            catalog.business_ids.append(business.id)
            for h in range(homestays_per_business + 1):
                on_sale = h < homestays_per_business
                homestay = Homestay(
                    title=f"{tag} 海景大床房{n}-{h}",
                    sub_title="推窗见海",
                    info=f"{tag} 可看日出的房间",
                    people_num=2 + h,
                    homestay_business_id=business.id,
                    user_id=landlord,
                    row_state=RowState.ON_SALE if on_sale else RowState.OFF_SALE,
                    row_type=RowType.PER_PERSON if h == 1 else RowType.PER_ROOM,
                    food_info="早餐",
                    food_price=3000,
                    homestay_price=29900 + h * 1000,
                    market_homestay_price=39900,
                )
                session.add(homestay)
                await session.flush()
                (catalog.homestay_ids if on_sale else catalog.off_sale_ids).append(homestay.id)
                for c in range(comments_per_homestay if on_sale else 0):
                    session.add(
                        HomestayComment(
                            homestay_id=homestay.id,
                            user_id=guest_id,
                            content=f"第{c}条评论：很干净",
                            star=4.0 + (c % 2),
                        )
                    )
        # Curated order is the `sort` column, deliberately not the id order. The newest
        # catalog's picks go ahead of every earlier one, so a test sees its own list first.
        lowest = await session.scalar(select(func.min(HomestayActivity.sort)))
        first_sort = min(lowest or 0, 0) - preferred - 1
        for position, homestay_id in enumerate(reversed(catalog.homestay_ids[:preferred])):
            session.add(
                HomestayActivity(
                    row_type=ActivityType.PREFERRED_HOMESTAY.value,
                    data_id=homestay_id,
                    sort=first_sort + position,
                )
            )
            catalog.preferred_ids.append(homestay_id)
        await reviews.recount(session)  # ratings and comment counts, as the seed keeps them
    return catalog
