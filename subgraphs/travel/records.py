"""Plain, cacheable snapshots of travel rows: what services return and Redis stores.

Services select exactly a record's `*_COLUMNS` with SQLAlchemy Core and build
records from the result rows with `from_row`: no ORM identity map, instance state
or attribute instrumentation for rows that are only read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sqlalchemy.engine import Row
from sqlalchemy.orm import InstrumentedAttribute

from subgraphs.travel import models

_ON_SALE: Final = int(models.RowState.ON_SALE)


@dataclass(frozen=True, slots=True)
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
    # Soft-deleted: gone from the catalog, still what a past order's reference resolves to.
    deleted: bool = False

    @classmethod
    def from_row(cls, row: Row[Any] | models.Homestay) -> HomestayRecord:
        """From a row selecting `HOMESTAY_COLUMNS` (any further columns are ignored), or
        from the ORM object a write just committed (same attribute names)."""
        return cls(
            id=row.id,
            title=row.title,
            sub_title=row.sub_title,
            banner=row.banner,
            info=row.info,
            people_num=row.people_num,
            business_id=row.homestay_business_id,
            landlord_id=row.user_id,
            on_sale=row.row_state == _ON_SALE,
            row_type=row.row_type,
            food_info=row.food_info,
            food_price=row.food_price,
            homestay_price=row.homestay_price,
            market_homestay_price=row.market_homestay_price,
            deleted=row.del_state != 0,
        )


@dataclass(frozen=True, slots=True)
class BusinessRecord:
    id: int
    title: str
    info: str
    cover: str
    star: float
    tags: str
    boss_id: int
    on_sale: bool
    deleted: bool = False
    cancellation_policy: str = "FLEXIBLE"

    @classmethod
    def from_row(cls, row: Row[Any] | models.HomestayBusiness) -> BusinessRecord:
        """From a row selecting `BUSINESS_COLUMNS`, or the ORM object a write committed."""
        return cls(
            id=row.id,
            title=row.title,
            info=row.info,
            cover=row.cover,
            star=row.star,
            tags=row.tags,
            boss_id=row.user_id,
            on_sale=row.row_state == _ON_SALE,
            deleted=row.del_state != 0,
            cancellation_policy=row.cancellation_policy,
        )


@dataclass(frozen=True, slots=True)
class CommentRecord:
    id: int
    homestay_id: int
    user_id: int
    content: str
    star: float
    created_at: datetime

    @classmethod
    def from_row(cls, row: Row[Any]) -> CommentRecord:
        """From a row selecting `COMMENT_COLUMNS`."""
        return cls(
            id=row.id,
            homestay_id=row.homestay_id,
            user_id=row.user_id,
            content=row.content,
            star=row.star,
            created_at=row.create_time,
        )


# The columns each `from_row` reads, by name.
HOMESTAY_COLUMNS: Final[tuple[InstrumentedAttribute[Any], ...]] = (
    models.Homestay.id,
    models.Homestay.title,
    models.Homestay.sub_title,
    models.Homestay.banner,
    models.Homestay.info,
    models.Homestay.people_num,
    models.Homestay.homestay_business_id,
    models.Homestay.user_id,
    models.Homestay.row_state,
    models.Homestay.row_type,
    models.Homestay.food_info,
    models.Homestay.food_price,
    models.Homestay.homestay_price,
    models.Homestay.market_homestay_price,
    models.Homestay.del_state,
)
BUSINESS_COLUMNS: Final[tuple[InstrumentedAttribute[Any], ...]] = (
    models.HomestayBusiness.id,
    models.HomestayBusiness.title,
    models.HomestayBusiness.info,
    models.HomestayBusiness.cover,
    models.HomestayBusiness.star,
    models.HomestayBusiness.tags,
    models.HomestayBusiness.user_id,
    models.HomestayBusiness.row_state,
    models.HomestayBusiness.cancellation_policy,
    models.HomestayBusiness.del_state,
)
COMMENT_COLUMNS: Final[tuple[InstrumentedAttribute[Any], ...]] = (
    models.HomestayComment.id,
    models.HomestayComment.homestay_id,
    models.HomestayComment.user_id,
    models.HomestayComment.content,
    models.HomestayComment.star,
    models.HomestayComment.create_time,
)
