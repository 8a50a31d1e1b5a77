"""Plain, cacheable snapshots of travel rows: what services return and Redis stores."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from subgraphs.travel import models


@dataclass(frozen=True)
class HomestayRecord:
    id: int
    title: str
    sub_title: str
    banner: str
    info: str
    people_num: int
    business_id: int
    landlord_id: int
    on_sale: bool
    row_type: int
    food_info: str
    food_price: int
    homestay_price: int
    market_homestay_price: int

    @classmethod
    def of(cls, row: models.Homestay) -> HomestayRecord:
        return cls(
            id=row.id,
            title=row.title,
            sub_title=row.sub_title,
            banner=row.banner,
            info=row.info,
            people_num=row.people_num,
            business_id=row.homestay_business_id,
            landlord_id=row.user_id,
            on_sale=row.row_state == models.RowState.ON_SALE,
            row_type=row.row_type,
            food_info=row.food_info,
            food_price=row.food_price,
            homestay_price=row.homestay_price,
            market_homestay_price=row.market_homestay_price,
        )


@dataclass(frozen=True)
class BusinessRecord:
    id: int
    title: str
    info: str
    cover: str
    star: float
    tags: str
    boss_id: int
    on_sale: bool

    @classmethod
    def of(cls, row: models.HomestayBusiness) -> BusinessRecord:
        return cls(
            id=row.id,
            title=row.title,
            info=row.info,
            cover=row.cover,
            star=row.star,
            tags=row.tags,
            boss_id=row.user_id,
            on_sale=row.row_state == models.RowState.ON_SALE,
        )


@dataclass(frozen=True)
class CommentRecord:
    id: int
    homestay_id: int
    user_id: int
    content: str
    star: float
    created_at: datetime

    @classmethod
    def of(cls, row: models.HomestayComment) -> CommentRecord:
        return cls(
            id=row.id,
            homestay_id=row.homestay_id,
            user_id=row.user_id,
            content=row.content,
            star=row.star,
            created_at=row.create_time,
        )
