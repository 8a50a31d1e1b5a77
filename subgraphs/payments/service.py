"""Payment domain logic: start a WeChat payment, settle what WeChat reports, close, refund,
reconcile.

Every status change is a conditional update (`_transition`) that stages the
`PaymentStatusChanged` broadcast in the same transaction, so a change and its
event exist together or not at all, and a replayed notification finds nothing
to change and broadcasts nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.exc import IntegrityError

from common.db import Database
from common.errors import DomainError, ErrorCode, NotFound, ServiceUnavailable
from common.events import PaymentStatusChanged, broadcast_payment_status
from common.ids import SnPrefix, make_sn
from common.lookups import live_row, live_rows
from common.models import utcnow
from common.settings import Settings
from common.signals import after_commit
from common.wechat.pay import (
    JsapiParams,
    Refund,
    Transaction,
    WeChatPayClient,
    WeChatPayError,
)
from subgraphs.payments import live
from subgraphs.payments.models import OutboxMessage, PayStatus, ThirdPayment
from subgraphs.payments.peers import OrderToPay

logger = logging.getLogger(__name__)

# WeChat limits the description to 127 characters.
DESCRIPTION_MAX = 127
# WeChat's answer when closing an order that was paid meanwhile.
ORDER_PAID = "ORDERPAID"
REFUND_REASON_ORDER_CLOSED = "订单已关闭，自动退款"  # shown to the payer in WeChat


class OrderNotPayable(DomainError):
    code = ErrorCode.ORDER_NOT_PAYABLE
    default_message = "This order is not waiting for payment."


class WeChatAccountRequired(DomainError):
    code = ErrorCode.WECHAT_ACCOUNT_REQUIRED
    default_message = (
        "WeChat Pay needs a WeChat identity: log in from the mini-program to pay this order."
    )


class PaymentUnavailable(ServiceUnavailable):
    default_message = "WeChat Pay is unavailable right now; please try again."


class NotificationRejected(Exception):
    """A verified notification that does not match our records; WeChat gets a 4xx."""


@dataclass(frozen=True)
class PaymentStart:
    payment: ThirdPayment
    params: JsapiParams


async def get_payment(db: Database, sn: str) -> ThirdPayment | None:
    return await live_row(db, ThirdPayment, ThirdPayment.sn, sn)


async def payments_by_sn(db: Database, sns: Sequence[str]) -> list[ThirdPayment | None]:
    """The payments with these serial numbers, in their order (DataLoader batch)."""
    return await live_rows(db, ThirdPayment, ThirdPayment.sn, sns)


async def latest_payments(db: Database, order_sns: Sequence[str]) -> list[ThirdPayment | None]:
    """The newest payment of each order, in the order of `order_sns` (DataLoader batch)."""
    async with db.session() as session:
        rows = await session.scalars(
            select(ThirdPayment)
            .where(ThirdPayment.order_sn.in_(order_sns), ThirdPayment.del_state == 0)
            .order_by(ThirdPayment.id)
        )
        newest = {row.order_sn: row for row in rows}
    return [newest.get(sn) for sn in order_sns]


async def latest_payment(db: Database, order_sn: str) -> ThirdPayment | None:
    return (await latest_payments(db, [order_sn]))[0]


async def _waiting_payment(db: Database, order_sn: str) -> ThirdPayment | None:
    async with db.session() as session:
        payment: ThirdPayment | None = await session.scalar(
            select(ThirdPayment).where(ThirdPayment.waiting_order_sn == order_sn)
        )
        return payment


async def _create_waiting_payment(
    db: Database, *, user_id: int, order: OrderToPay, openid: str
) -> ThirdPayment:
    """The order's one live payment; when pay-inits race, the loser gets the winner's row."""
    payment = ThirdPayment(
        sn=make_sn(SnPrefix.PAYMENT),
        user_id=user_id,
        order_sn=order.sn,
        waiting_order_sn=order.sn,
        pay_total=order.total,
        payer_openid=openid,
        pay_status=PayStatus.WAITING,
        trade_state="NOTPAY",
    )
    try:
        async with db.write_session() as session:
            session.add(payment)
        return payment
    except IntegrityError:
        winner = await _waiting_payment(db, order.sn)
        if winner is None:  # it settled between the insert and this read
            raise OrderNotPayable() from None
        return winner


async def start_wechat_payment(
    db: Database,
    wechat: WeChatPayClient,
    *,
    user_id: int,
    order: OrderToPay | None,
    openid: str | None,
    notify_url: str,
) -> PaymentStart:
    """Pay-init: the order's live payment (created once) and the JSAPI parameters for it.

    Asking again returns the same payment and prepay: WeChat answers the same
    prepay_id for the same out_trade_no, so even racing calls agree.
    """
    if order is None:
        raise NotFound("No such order.")
    if order.trade_state != "WAIT_PAY":
        raise OrderNotPayable()
    if not openid:
        raise WeChatAccountRequired()
    payment = await _waiting_payment(db, order.sn)
    if payment is None:
        payment = await _create_waiting_payment(db, user_id=user_id, order=order, openid=openid)
    if payment.user_id != user_id:  # impossible while orders enforces ownership; never leak
        raise NotFound("No such order.")
    prepay_id = payment.prepay_id
    if prepay_id is None:
        try:
            prepay_id = await wechat.jsapi_prepay(
                out_trade_no=payment.sn,
                description=order.title[:DESCRIPTION_MAX],
                amount_fen=payment.pay_total,
                payer_openid=payment.payer_openid,
                notify_url=notify_url,
                expires_at=order.pay_deadline,
            )
        except WeChatPayError as error:
            logger.warning("JSAPI prepay for %s failed: %s", payment.sn, error)
            raise PaymentUnavailable() from error
        async with db.write_session() as session:
            await session.execute(
                update(ThirdPayment)
                .where(ThirdPayment.id == payment.id, ThirdPayment.prepay_id.is_(None))
                .values(prepay_id=prepay_id, update_time=utcnow())
            )
        payment.prepay_id = prepay_id
    return PaymentStart(payment=payment, params=wechat.jsapi_params(prepay_id))


def _event(
    payment: ThirdPayment, status: PayStatus, values: dict[str, Any]
) -> PaymentStatusChanged:
    pay_time: datetime | None = values.get("pay_time", payment.pay_time)
    return PaymentStatusChanged(
        payment_sn=payment.sn,
        order_sn=payment.order_sn,
        user_id=payment.user_id,
        status=status.name,
        pay_total=payment.pay_total,
        payer_openid=payment.payer_openid,
        transaction_id=values.get("transaction_id", payment.transaction_id),
        pay_time=pay_time.isoformat() if pay_time else None,
    )


async def _transition(
    db: Database,
    payment: ThirdPayment,
    source: Sequence[PayStatus],
    target: PayStatus,
    **values: Any,
) -> bool:
    """Move a payment between states and broadcast it, atomically; False if not in `source`."""
    if target is not PayStatus.WAITING:
        values["waiting_order_sn"] = None
    async with db.write_session() as session:
        result = cast(
            CursorResult[Any],
            await session.execute(
                update(ThirdPayment)
                .where(ThirdPayment.id == payment.id, ThirdPayment.pay_status.in_(source))
                .values(
                    pay_status=target,
                    version=ThirdPayment.version + 1,
                    update_time=utcnow(),
                    **values,
                )
            ),
        )
        if result.rowcount != 1:
            return False
        broadcast_payment_status(session, OutboxMessage, _event(payment, target, values))
        after_commit(session, live.channel(payment.order_sn))  # live subscribers: look again
    logger.info("payment %s → %s", payment.sn, target.name)
    return True


async def settle_transaction(
    db: Database, settings: Settings, transaction: Transaction
) -> ThirdPayment:
    """Apply what WeChat says about a payment (notification or query). Idempotent.

    The merchant, app and amount must match ours; anything else is refused and
    changes nothing.
    """
    payment = await get_payment(db, transaction.out_trade_no)
    if payment is None:
        raise NotificationRejected(f"unknown out_trade_no {transaction.out_trade_no}")
    if transaction.mchid != settings.wechat_pay_mchid or transaction.appid != settings.pay_appid:
        raise NotificationRejected(f"{payment.sn}: merchant or app does not match")
    if transaction.amount_total is not None and transaction.amount_total != payment.pay_total:
        logger.error(
            "payment %s: WeChat reports %s fen, we expect %s",
            payment.sn,
            transaction.amount_total,
            payment.pay_total,
        )
        raise NotificationRejected(f"{payment.sn}: amount does not match")
    reported = {
        "trade_state": transaction.trade_state,
        "trade_state_desc": transaction.trade_state_desc[:256],
    }
    if transaction.trade_state == "SUCCESS":
        # A payment we closed can still succeed (the payer was faster): take it, then refund.
        await _transition(
            db,
            payment,
            [PayStatus.WAITING, PayStatus.CLOSED, PayStatus.FAIL],
            PayStatus.SUCCESS,
            transaction_id=transaction.transaction_id,
            pay_time=transaction.success_time or utcnow(),
            **reported,
        )
    elif transaction.trade_state in ("CLOSED", "REVOKED"):
        await _transition(db, payment, [PayStatus.WAITING], PayStatus.CLOSED, **reported)
    elif transaction.trade_state == "PAYERROR":
        await _transition(db, payment, [PayStatus.WAITING], PayStatus.FAIL, **reported)
    return await get_payment(db, payment.sn) or payment


async def settle_refund(db: Database, refund: Refund) -> ThirdPayment:
    """Apply what WeChat says about a refund: REFUNDING → REFUNDED on success. Idempotent."""
    payment = await get_payment(db, refund.out_trade_no)
    if payment is None or payment.refund_sn != refund.out_refund_no:
        raise NotificationRejected(f"unknown refund {refund.out_refund_no}")
    if refund.status == "SUCCESS":
        await _transition(
            db,
            payment,
            [PayStatus.REFUNDING],
            PayStatus.REFUNDED,
            refund_id=refund.refund_id,
            refund_time=utcnow(),
            trade_state="REFUND",
        )
    elif refund.status in ("CLOSED", "ABNORMAL"):
        # Money is stuck between the accounts: a person must look (WeChat's merchant console).
        logger.error(
            "refund %s of payment %s is %s", refund.out_refund_no, payment.sn, refund.status
        )
    return await get_payment(db, payment.sn) or payment


async def close_for_cancelled_order(db: Database, wechat: WeChatPayClient, order_sn: str) -> bool:
    """The order was cancelled: close its waiting WeChat order so it cannot be paid any more.

    If the payer was faster (WeChat answers ORDERPAID), nothing is closed: the
    payment's notification (or the reconciler) settles it, and the order side
    then asks for the refund.
    """
    payment = await _waiting_payment(db, order_sn)
    if payment is None:
        return False
    if payment.prepay_id is not None:
        try:
            await wechat.close(payment.sn)
        except WeChatPayError as error:
            if error.code == ORDER_PAID:
                logger.info("payment %s was paid before its order closed", payment.sn)
                return False
            raise
    return await _transition(
        db, payment, [PayStatus.WAITING], PayStatus.CLOSED, trade_state="CLOSED"
    )


async def refund_payment(
    db: Database, wechat: WeChatPayClient, settings: Settings, payment_sn: str
) -> bool:
    """Send a successful payment's money back in full. Safe to repeat.

    The refund number is fixed when the payment becomes REFUNDING, so a retry
    asks WeChat for the same refund (WeChat deduplicates by out_refund_no)
    instead of refunding twice.
    """
    payment = await get_payment(db, payment_sn)
    if payment is None:
        logger.error("refund requested for unknown payment %s", payment_sn)
        return False
    if payment.pay_status == PayStatus.SUCCESS:
        await _transition(
            db,
            payment,
            [PayStatus.SUCCESS],
            PayStatus.REFUNDING,
            refund_sn=make_sn(SnPrefix.REFUND),
        )
        payment = await get_payment(db, payment_sn) or payment
    if payment.pay_status != PayStatus.REFUNDING or payment.refund_sn is None:
        return False
    refund = await wechat.refund(
        out_trade_no=payment.sn,
        out_refund_no=payment.refund_sn,
        amount_fen=payment.pay_total,
        total_fen=payment.pay_total,
        reason=REFUND_REASON_ORDER_CLOSED,
        notify_url=settings.wechat_pay_notify_url,
    )
    if refund.status == "SUCCESS":
        await settle_refund(db, refund)
    return True


@dataclass(frozen=True)
class Reconciliation:
    settled: list[str]
    refunds_settled: list[str]


async def reconcile(
    db: Database, wechat: WeChatPayClient, settings: Settings, *, limit: int = 100
) -> Reconciliation:
    """Ask WeChat about payments that should have heard back by now (lost notifications)."""
    cutoff = utcnow() - timedelta(seconds=settings.payment_reconcile_after_seconds)
    async with db.session() as session:
        waiting = list(
            await session.scalars(
                select(ThirdPayment)
                .where(
                    ThirdPayment.pay_status == PayStatus.WAITING, ThirdPayment.create_time < cutoff
                )
                .order_by(ThirdPayment.id)
                .limit(limit)
            )
        )
        refunding = list(
            await session.scalars(
                select(ThirdPayment)
                .where(
                    ThirdPayment.pay_status == PayStatus.REFUNDING,
                    ThirdPayment.update_time < cutoff,
                )
                .order_by(ThirdPayment.id)
                .limit(limit)
            )
        )
    settled: list[str] = []
    for payment in waiting:
        transaction = await wechat.query(payment.sn) if payment.prepay_id else None
        if transaction is None:
            if payment.prepay_id is None:  # never reached WeChat: nothing can be paid
                await _transition(
                    db, payment, [PayStatus.WAITING], PayStatus.CLOSED, trade_state="CLOSED"
                )
            continue
        after = await settle_transaction(db, settings, transaction)
        if after.pay_status != PayStatus.WAITING:
            settled.append(payment.sn)
    refunds_settled: list[str] = []
    for payment in refunding:
        assert payment.refund_sn is not None
        refund = await wechat.query_refund(payment.refund_sn)
        if refund is None:  # the refund call itself was lost: ask again
            await refund_payment(db, wechat, settings, payment.sn)
            continue
        if (await settle_refund(db, refund)).pay_status == PayStatus.REFUNDED:
            refunds_settled.append(payment.sn)
    return Reconciliation(settled=settled, refunds_settled=refunds_settled)
