"""A guest's refund of a paid stay: how much the business's policy gives back, and the
order's side of the refund (REFUNDING at once, REFUNDED when WeChat confirms).

The money itself is payments' business: the request stages one `REFUND_PAYMENT`
message in the order's transaction, and payments refunds through the same path
as money an order could not take (`subgraphs.payments.service.refund_payment`),
for the amount asked. The order hears back through the payment's `REFUNDED`
broadcast (`finish_refund`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date, datetime
from enum import StrEnum
from typing import Any, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from common.db import Database
from common.errors import BadUserInput, DomainError, ErrorCode, NotFound
from common.events import REFUND_PAYMENT, send
from common.models import utcnow
from subgraphs.orders.models import HomestayOrder, OutboxMessage, TradeState
from subgraphs.orders.service import _transition, get_order, get_own_order

logger = logging.getLogger(__name__)

# WeChat Pay shows the reason to the payer and takes at most 80 characters.
REASON_MAX = 80
# What WeChat shows when the guest gave no reason.
GUEST_REFUND_REASON = "住客申请退款"
# Whole days before check-in from which the first column of the table applies.
EARLY_DAYS = 7


class CancellationPolicy(StrEnum):
    """As travel names them (`HomestayBusiness.cancellationPolicy`)."""

    FLEXIBLE = "FLEXIBLE"
    MODERATE = "MODERATE"
    STRICT = "STRICT"


# Percent of the order's total refunded: (≥ 7 days before, 1–6 days, check-in day or later).
REFUND_PERCENT: dict[CancellationPolicy, tuple[int, int, int]] = {
    CancellationPolicy.FLEXIBLE: (100, 100, 0),
    CancellationPolicy.MODERATE: (100, 50, 0),
    CancellationPolicy.STRICT: (50, 0, 0),
}


class NotRefundable(DomainError):
    code = ErrorCode.NOT_REFUNDABLE
    default_message = "Under the host's cancellation policy nothing can be refunded now."


class RefundConflict(DomainError):
    code = ErrorCode.CONFLICT
    default_message = "Only a paid order that is not used or being refunded can be refunded."


def policy_of(stored: str | None) -> CancellationPolicy:
    """The order's policy; an unknown or missing one (an old order) is FLEXIBLE."""
    try:
        return CancellationPolicy(stored or CancellationPolicy.FLEXIBLE)
    except ValueError:
        logger.error("unknown cancellation policy %r: treated as FLEXIBLE", stored)
        return CancellationPolicy.FLEXIBLE


def refund_percent(policy: CancellationPolicy, live_start_date: date, today: date) -> int:
    """The share the policy gives back, by whole days from `today` to check-in."""
    early, late, too_late = REFUND_PERCENT[policy]
    days = (live_start_date - today).days
    if days >= EARLY_DAYS:
        return early
    if days >= 1:
        return late
    return too_late


def refundable_amount(order: HomestayOrder, today: date) -> int:
    """What a refund asked for `today` gives back (fen, rounded down); 0 unless the order is
    paid and unused (WAIT_USE)."""
    if order.trade_state != TradeState.WAIT_USE:
        return 0
    percent = refund_percent(policy_of(order.cancellation_policy), order.live_start_date, today)
    return order.order_total_price * percent // 100


def clean_reason(reason: str | None) -> str | None:
    cleaned = (reason or "").strip()
    if len(cleaned) > REASON_MAX:
        raise BadUserInput(f"The reason can be at most {REASON_MAX} characters.", field="reason")
    return cleaned or None


def wechat_reason(reason: str | None) -> str:
    """The reason WeChat shows the payer: the guest's own, else a standard one."""
    return reason or GUEST_REFUND_REASON


def _refund_request(
    payment_sn: str, amount: int, reason: str | None
) -> Callable[[AsyncSession], None]:
    """Payments refunds `amount` of the payment that paid the order (staged with the change)."""

    def stage(session: AsyncSession) -> None:
        send(session, OutboxMessage, REFUND_PAYMENT, payment_sn, amount, wechat_reason(reason))

    return stage


async def request_refund(
    db: Database,
    *,
    user_id: int,
    sn: str,
    reason: str | None,
    today: date,
) -> HomestayOrder:
    """The guest asks for their money back: WAIT_USE → REFUNDING, nights freed, refund staged.

    One conditional update decides: of two requests (or a request racing the stay's end)
    exactly one moves the order, the other gets CONFLICT. Nothing changes when the
    policy gives nothing back (NOT_REFUNDABLE).
    """
    cleaned = clean_reason(reason)
    order = await get_own_order(db, user_id, sn)
    if order is None:
        raise NotFound("No such order.")
    if order.trade_state != TradeState.WAIT_USE or order.payment_sn is None:
        raise RefundConflict()
    amount = refundable_amount(order, today)
    if amount <= 0:
        raise NotRefundable(policy=policy_of(order.cancellation_policy).value)
    if not await _transition(
        db,
        sn,
        [TradeState.WAIT_USE],
        TradeState.REFUNDING,
        user_id=user_id,
        release_nights=True,
        on_change=_refund_request(order.payment_sn, amount, cleaned),
        refund_amount=amount,
        refund_reason=cleaned,
    ):
        raise RefundConflict()
    refunded = await get_order(db, sn)
    assert refunded is not None
    logger.info("order %s: refund of %d fen requested", sn, amount)
    return refunded


async def finish_refund(db: Database, order_sn: str, payment_sn: str) -> bool:
    """WeChat confirmed the refund of the payment that paid the order: REFUNDING → REFUNDED.

    Only that payment's refund finishes the order (a rival payment refunded as
    money the order could not take does not); a replay changes nothing.
    """
    async with db.write_session() as session:
        result = cast(
            CursorResult[Any],
            await session.execute(
                update(HomestayOrder)
                .where(
                    HomestayOrder.sn == order_sn,
                    HomestayOrder.payment_sn == payment_sn,
                    HomestayOrder.trade_state == TradeState.REFUNDING,
                )
                .values(
                    trade_state=TradeState.REFUNDED,
                    version=HomestayOrder.version + 1,
                    update_time=utcnow(),
                )
            ),
        )
        return result.rowcount == 1


async def stalled_refunds(
    db: Database, *, updated_before: datetime, limit: int
) -> list[HomestayOrder]:
    """Orders still REFUNDING that changed last before `updated_before`, oldest first.

    A refund normally finishes within seconds of the request (one message to payments,
    WeChat's answer, one message back). One REFUNDING for longer lost a message on the
    way, for good (dead-lettered after its retries): payments' consistency job asks for
    these (`stalledOrderRefunds`) and finishes each from the payment's side.
    """
    async with db.session() as session:
        return list(
            await session.scalars(
                select(HomestayOrder)
                .where(
                    HomestayOrder.trade_state == TradeState.REFUNDING,
                    HomestayOrder.payment_sn.is_not(None),
                    HomestayOrder.update_time < updated_before,
                )
                .order_by(HomestayOrder.id)
                .limit(limit)
            )
        )
