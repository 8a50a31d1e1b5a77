"""travel tables: homestays, landlords' businesses, curated activities, comments (REFERENCE.md)."""

from __future__ import annotations

from datetime import date
from enum import IntEnum, StrEnum
from typing import Any

from sqlalchemy import (
    Date,
    Float,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    event,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, Mapper, mapped_column

from common.models import NAMING_CONVENTION, AuditColumns, BigId
from subgraphs.travel.terms import index_terms

# Full-text objects made by hand in the migrations (a FULLTEXT index on MySQL/MariaDB, an
# FTS5 table and its triggers on SQLite): Alembic's autogenerate leaves them alone.
FULLTEXT_TABLE = "homestay_fts"
FULLTEXT_INDEXES = ("ix_homestay_search_title", "ix_homestay_search_text")


class Base(DeclarativeBase):
    metadata = MetaData(
        naming_convention=NAMING_CONVENTION,
        info={"unmanaged": (FULLTEXT_TABLE, *FULLTEXT_INDEXES)},
    )


class RowState(IntEnum):
    OFF_SALE = 0
    ON_SALE = 1


class RowType(IntEnum):
    PER_ROOM = 0
    PER_PERSON = 1


class CancellationPolicy(StrEnum):
    """How much of a paid stay a guest gets back when they cancel (API.md, "Refunds")."""

    FLEXIBLE = "FLEXIBLE"
    MODERATE = "MODERATE"
    STRICT = "STRICT"


class ActivityType(StrEnum):
    PREFERRED_HOMESTAY = "preferredHomestay"  # 为你优选


class HomestayBusiness(AuditColumns, Base):
    """A landlord's shop; one per landlord."""

    __tablename__ = "homestay_business"
    __table_args__ = (Index(None, "row_state", "star", "id"),)

    title: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[int] = mapped_column(BigId, unique=True)  # the landlord (boss)
    info: Mapped[str] = mapped_column(String(255), default="")
    boss_info: Mapped[str] = mapped_column(String(255), default="")
    license_front: Mapped[str] = mapped_column(String(255), default="")
    license_back: Mapped[str] = mapped_column(String(255), default="")
    row_state: Mapped[int] = mapped_column(SmallInteger, default=RowState.ON_SALE)
    star: Mapped[float] = mapped_column(Float, default=0.0)
    tags: Mapped[str] = mapped_column(String(255), default="")  # comma-separated
    cover: Mapped[str] = mapped_column(String(255), default="")
    header_img: Mapped[str] = mapped_column(String(255), default="")
    cancellation_policy: Mapped[str] = mapped_column(
        String(16), default=CancellationPolicy.FLEXIBLE, server_default=CancellationPolicy.FLEXIBLE
    )
    # Reviews of all its homestays, kept with each review (`reviews.py`); `star` is their mean.
    comment_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    star_total: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")


class Homestay(AuditColumns, Base):
    __tablename__ = "homestay"
    __table_args__ = (
        Index(None, "row_state", "id"),
        Index(None, "homestay_business_id", "row_state", "id"),
    )

    title: Mapped[str] = mapped_column(String(64))
    sub_title: Mapped[str] = mapped_column(String(128), default="")
    banner: Mapped[str] = mapped_column(String(1024), default="")  # comma-separated images
    info: Mapped[str] = mapped_column(Text, default="")
    people_num: Mapped[int] = mapped_column(Integer, default=2)
    homestay_business_id: Mapped[int] = mapped_column(BigId)
    user_id: Mapped[int] = mapped_column(BigId)  # the landlord
    row_state: Mapped[int] = mapped_column(SmallInteger, default=RowState.ON_SALE)
    row_type: Mapped[int] = mapped_column(SmallInteger, default=RowType.PER_ROOM)
    food_info: Mapped[str] = mapped_column(String(255), default="")
    food_price: Mapped[int] = mapped_column(Integer, default=0)  # fen
    homestay_price: Mapped[int] = mapped_column(Integer, default=0)  # fen
    market_homestay_price: Mapped[int] = mapped_column(Integer, default=0)  # fen
    # Its reviews, counted and summed in each review's transaction (`reviews.py`):
    # rating = star_total / comment_count, read in O(1) with the row.
    comment_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    star_total: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    # Search terms (subgraphs/travel/terms.py) of the title, and of title + subtitle + info;
    # kept up to date by `_fill_search_terms` on every ORM insert and update.
    search_title: Mapped[str] = mapped_column(Text, default="")
    search_text: Mapped[str] = mapped_column(Text, default="")


@event.listens_for(Homestay, "before_insert")
@event.listens_for(Homestay, "before_update")
def _fill_search_terms(_mapper: Mapper[Any], _connection: Any, target: Homestay) -> None:
    """Every write of a homestay's text through the ORM refreshes its search terms.

    (A Core `update()` of title, subtitle or info must set them itself.)"""
    target.search_title = index_terms(target.title)
    target.search_text = index_terms(target.title, target.sub_title, target.info)


class HomestayActivity(AuditColumns, Base):
    """Curated lists: each row puts one homestay (data_id) on a list, at a position."""

    __tablename__ = "homestay_activity"
    __table_args__ = (Index(None, "row_type", "row_status", "sort", "id"),)

    row_type: Mapped[str] = mapped_column(String(32))
    data_id: Mapped[int] = mapped_column(BigId)
    row_status: Mapped[int] = mapped_column(SmallInteger, default=1)
    sort: Mapped[int] = mapped_column(Integer, default=0)  # ascending: lower shows first


class HomestayComment(AuditColumns, Base):
    __tablename__ = "homestay_comment"
    __table_args__ = (Index(None, "homestay_id", "id"),)

    homestay_id: Mapped[int] = mapped_column(BigId)
    user_id: Mapped[int] = mapped_column(BigId)
    content: Mapped[str] = mapped_column(String(1024))
    star: Mapped[float] = mapped_column(Float, default=5.0)
    # The order a guest's review is of: one review per order (NULL for older comments).
    order_sn: Mapped[str | None] = mapped_column(String(25), unique=True)


class NightHold(Base):
    """Availability read model: a night of a homestay someone holds, as orders announced it.

    orders owns bookings; it publishes, per holder (an order, later a landlord's
    blocks), the full set of nights the holder has now with a version
    (`common.events.NightHolds`). Search filters on this table in SQL. A holder's rows
    are replaced whole when a newer version arrives (`NightHoldVersion`).
    """

    __tablename__ = "night_hold"
    __table_args__ = (
        UniqueConstraint("holder", "night"),
        Index(None, "homestay_id", "night"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    holder: Mapped[str] = mapped_column(String(64))
    homestay_id: Mapped[int] = mapped_column(BigId)
    night: Mapped[date] = mapped_column(Date)


class NightHoldVersion(Base):
    """The newest version applied per holder: an older or repeated message changes nothing.

    Kept after a release (an empty set), so a late "held" message cannot bring the
    nights back."""

    __tablename__ = "night_hold_version"

    holder: Mapped[str] = mapped_column(String(64), primary_key=True)
    homestay_id: Mapped[int] = mapped_column(BigId)
    version: Mapped[int] = mapped_column(BigId)
