"""orders tables: `homestay_order` (REFERENCE.md), the nights it holds, and the outbox."""

from __future__ import annotations

from datetime import date, datetime
from enum import IntEnum

from sqlalchemy import (
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from common.models import NAMING_CONVENTION, AuditColumns, BigId, UTCDateTime
from common.outbox import OutboxMixin


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class TradeState(IntEnum):
    """Stored values follow the original where it has them."""

    CANCELLED = -1
    WAIT_PAY = 0
    WAIT_USE = 1
    USED = 2
    REFUNDED = 3
    REFUNDING = 5


class HomestayOrder(AuditColumns, Base):
    __tablename__ = "homestay_order"
    __table_args__ = (
        Index(None, "user_id", "trade_state", "id"),
        Index(None, "trade_state", "pay_deadline"),
        Index(None, "trade_state", "live_end_date"),
        # An unpaid order holds one of its user's MAX_UNPAID_ORDERS_PER_USER slots; the
        # unique key makes the cap hold under concurrency on every backend (NULLs, i.e.
        # orders no longer unpaid, never collide).
        UniqueConstraint("user_id", "unpaid_slot"),
    )

    sn: Mapped[str] = mapped_column(String(25), unique=True)
    user_id: Mapped[int] = mapped_column(BigId)
    homestay_id: Mapped[int] = mapped_column(BigId)
    # Snapshot of the homestay at order time.
    title: Mapped[str] = mapped_column(String(64))
    sub_title: Mapped[str] = mapped_column(String(128), default="")
    cover: Mapped[str] = mapped_column(String(255), default="")
    info: Mapped[str] = mapped_column(Text, default="")
    people_num: Mapped[int] = mapped_column(Integer)
    row_type: Mapped[int] = mapped_column(SmallInteger)
    food_info: Mapped[str] = mapped_column(String(255), default="")
    food_price: Mapped[int] = mapped_column(Integer)
    homestay_price: Mapped[int] = mapped_column(Integer)
    market_homestay_price: Mapped[int] = mapped_column(Integer)
    homestay_business_id: Mapped[int] = mapped_column(BigId)
    homestay_user_id: Mapped[int] = mapped_column(BigId)
    # The stay.
    live_start_date: Mapped[date] = mapped_column(Date)
    live_end_date: Mapped[date] = mapped_column(Date)
    live_people_num: Mapped[int] = mapped_column(Integer)
    need_food: Mapped[bool] = mapped_column(Boolean, default=False)
    remark: Mapped[str] = mapped_column(String(255), default="")
    # State and money (fen).
    trade_state: Mapped[int] = mapped_column(SmallInteger, default=TradeState.WAIT_PAY)
    trade_code: Mapped[str | None] = mapped_column(String(16))
    # The payment that paid the order: tells a replayed payment event from a second payment.
    payment_sn: Mapped[str | None] = mapped_column(String(25))
    # Set while WAIT_PAY (0 .. MAX_UNPAID_ORDERS_PER_USER - 1), cleared when it leaves it.
    unpaid_slot: Mapped[int | None] = mapped_column(SmallInteger)
    pay_deadline: Mapped[datetime] = mapped_column(UTCDateTime)
    order_total_price: Mapped[int] = mapped_column(Integer)
    food_total_price: Mapped[int] = mapped_column(Integer)
    homestay_total_price: Mapped[int] = mapped_column(Integer)
    # The business's cancellation policy when the guest booked: what they agreed to
    # (FLEXIBLE, MODERATE or STRICT; orders made before policies existed are FLEXIBLE).
    cancellation_policy: Mapped[str] = mapped_column(
        String(16), default="FLEXIBLE", server_default="FLEXIBLE"
    )
    # The refund the guest asked for (fen) and why; set when the order goes REFUNDING.
    refund_amount: Mapped[int | None] = mapped_column(Integer)
    refund_reason: Mapped[str | None] = mapped_column(String(80))


class HomestayNight(Base):
    """One row per night an active order holds; the unique key makes double booking impossible.

    Rows exist only while their order holds the dates (WAIT_PAY, WAIT_USE, USED);
    cancelling, or asking for a refund (→ REFUNDING), deletes them in the same transaction.
    """

    __tablename__ = "homestay_night"
    __table_args__ = (UniqueConstraint("homestay_id", "night"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    homestay_id: Mapped[int] = mapped_column(BigId)
    night: Mapped[date] = mapped_column(Date)
    order_id: Mapped[int] = mapped_column(BigId, ForeignKey("homestay_order.id"), index=True)


class OutboxMessage(OutboxMixin, Base):
    __tablename__ = "outbox_message"
