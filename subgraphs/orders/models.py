"""orders tables: `homestay_order` (REFERENCE.md), the nights it holds, and the outbox."""

from __future__ import annotations

from datetime import date, datetime
from enum import IntEnum

from sqlalchemy import (
    Boolean,
    CheckConstraint,
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
        # A host's orders (`hostHomestayOrders`), all or in one state, newest first.
        Index(None, "homestay_user_id", "trade_state", "id"),
        Index(None, "homestay_user_id", "id"),
        # The landlord enters a guest's check-in code at arrival.
        Index(None, "trade_code"),
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
    # The homestay's landlord, as travel answered at booking: who lists the order among
    # their guests' bookings and may redeem its check-in code.
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
    """One row per night that is taken: held by an active order or blocked by the landlord.

    The unique (homestay_id, night) key is the one mechanism that makes a night
    impossible to take twice, whoever takes it: two bookings, or a booking and the
    landlord's block, race for the same row and exactly one of them wins. A row
    belongs to either an order (`order_id`) or a block (`blocked_by`, the landlord
    who closed the night), never both. An order's rows exist only while it holds the
    dates (WAIT_PAY, WAIT_USE, USED); cancelling, or asking for a refund (→ REFUNDING),
    deletes them in the same transaction. Unblocking deletes block rows only.
    """

    __tablename__ = "homestay_night"
    __table_args__ = (
        UniqueConstraint("homestay_id", "night"),
        # Exactly one holder: an order or a block.
        CheckConstraint(
            "(order_id IS NULL) <> (blocked_by IS NULL)", name="ck_homestay_night_one_holder"
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    homestay_id: Mapped[int] = mapped_column(BigId)
    night: Mapped[date] = mapped_column(Date)
    order_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("homestay_order.id"), index=True)
    blocked_by: Mapped[int | None] = mapped_column(BigId)


class HomestayBlockVersion(Base):
    """A counter per homestay, bumped first by every change to its blocked nights.

    Bumping locks the row, so changes to one homestay's blocks run one after another,
    and each stages travel's snapshot of the blocks with a higher version than the one
    before it (`availability.publish_block_nights`).
    """

    __tablename__ = "homestay_block_version"

    homestay_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    version: Mapped[int] = mapped_column(BigId, default=0)


class OutboxMessage(OutboxMixin, Base):
    __tablename__ = "outbox_message"
