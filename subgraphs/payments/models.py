"""payments tables: `third_payment` (REFERENCE.md), its ledger and the outbox of payment
events."""

from __future__ import annotations

from datetime import datetime
from enum import IntEnum

from sqlalchemy import Index, Integer, MetaData, SmallInteger, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from common.models import NAMING_CONVENTION, AuditColumns, BigId, UTCDateTime, utcnow
from common.outbox import OutboxMixin

PAY_MODE_WECHAT = "WECHAT_PAY"
TRADE_TYPE_JSAPI = "JSAPI"
SERVICE_TYPE_HOMESTAY_ORDER = "homestayOrder"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class PayStatus(IntEnum):
    """Stored values follow the original where it has them (-1, 0, 1, 2)."""

    FAIL = -1
    WAITING = 0
    SUCCESS = 1
    REFUNDED = 2
    REFUNDING = 3
    CLOSED = 4


class ThirdPayment(AuditColumns, Base):
    __tablename__ = "third_payment"
    __table_args__ = (
        Index(None, "order_sn", "id"),
        Index(None, "pay_status", "create_time"),
    )

    sn: Mapped[str] = mapped_column(String(25), unique=True)
    user_id: Mapped[int] = mapped_column(BigId)
    pay_mode: Mapped[str] = mapped_column(String(16), default=PAY_MODE_WECHAT)
    trade_type: Mapped[str] = mapped_column(String(16), default=TRADE_TYPE_JSAPI)
    # As WeChat reports them (NOTPAY, SUCCESS, CLOSED, REFUND …).
    trade_state: Mapped[str] = mapped_column(String(32), default="")
    trade_state_desc: Mapped[str] = mapped_column(String(256), default="")
    pay_total: Mapped[int] = mapped_column(Integer)  # fen
    transaction_id: Mapped[str | None] = mapped_column(String(32))
    order_sn: Mapped[str] = mapped_column(String(25))
    service_type: Mapped[str] = mapped_column(String(32), default=SERVICE_TYPE_HOMESTAY_ORDER)
    pay_status: Mapped[int] = mapped_column(SmallInteger, default=PayStatus.WAITING)
    pay_time: Mapped[datetime | None] = mapped_column(UTCDateTime)
    payer_openid: Mapped[str] = mapped_column(String(64))
    prepay_id: Mapped[str | None] = mapped_column(String(64))
    # Equal to order_sn while the payment is WAITING, NULL after: the unique key
    # allows one live payment per order however many pay-inits race.
    waiting_order_sn: Mapped[str | None] = mapped_column(String(25), unique=True)
    # The refund (out_refund_no) when the money goes back.
    refund_sn: Mapped[str | None] = mapped_column(String(25), unique=True)
    # How much goes back (fen) and the reason WeChat shows the payer, fixed when the payment
    # becomes REFUNDING; NULL amount (refunds before partial ones existed): all of it.
    refund_amount: Mapped[int | None] = mapped_column(Integer)
    refund_reason: Mapped[str | None] = mapped_column(String(80))
    refund_id: Mapped[str | None] = mapped_column(String(32))
    refund_time: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # WeChat's last word on the refund: PROCESSING, SUCCESS, CLOSED or ABNORMAL.
    refund_status: Mapped[str | None] = mapped_column(String(16))
    # When the consistency job saw the order paid by this payment (SUCCESS payments only).
    order_confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class LedgerEntry(Base):
    """One money movement or one answer from WeChat about a payment; rows are never changed.

    `paid` and `refunded` are the money that moved with this row (fen, usually 0:
    only the answer that moved the payment to SUCCESS, or to REFUNDED, carries
    it), so a payment's totals are sums over its rows.
    """

    __tablename__ = "payment_ledger"
    __table_args__ = (Index(None, "payment_sn", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    payment_sn: Mapped[str] = mapped_column(String(25))
    order_sn: Mapped[str] = mapped_column(String(25))
    # Where the answer came from: notification, query, close, refund_request, …
    source: Mapped[str] = mapped_column(String(24))
    # What WeChat said: a trade state, a refund status or an error code (ORDERPAID …).
    wechat_state: Mapped[str] = mapped_column(String(32))
    # The amount WeChat's answer carried (fen), if any.
    amount: Mapped[int | None] = mapped_column(Integer)
    paid: Mapped[int] = mapped_column(Integer, default=0)
    refunded: Mapped[int] = mapped_column(Integer, default=0)
    wechat_id: Mapped[str | None] = mapped_column(String(32))  # transaction_id or refund_id
    refund_sn: Mapped[str | None] = mapped_column(String(25))
    detail: Mapped[str] = mapped_column(String(256), default="")
    create_time: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class OutboxMessage(OutboxMixin, Base):
    __tablename__ = "outbox_message"
