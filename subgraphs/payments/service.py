"""Payment domain logic: start a WeChat payment, settle what WeChat reports, close, refund,
reconcile.

Every answer from WeChat is written to the ledger (`subgraphs.payments.ledger`).

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
from enum import StrEnum
from typing import Any, cast

from sqlalchemy import CursorResult, exists, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased

from common.db import Database
from common.errors import DomainError, ErrorCode, NotFound, ServiceUnavailable
from common.events import PaymentStatusChanged, broadcast_payment_status
from common.ids import SnPrefix, make_sn
from common.lookups import live_row, live_rows
from common.metrics import REFUND_FAILURES
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
from subgraphs.payments import ledger, live
from subgraphs.payments.ledger import Answer, Source
from subgraphs.payments.models import OutboxMessage, PayStatus, ThirdPayment
from subgraphs.payments.peers import OrderToPay

logger = logging.getLogger(__name__)
# A payment whose prepay never came back cannot be paid: closing it needs nobody's word.
_NEVER_SENT = Answer(Source.LOCAL, "CLOSED", detail="never sent to WeChat")

# WeChat limits the description to 127 characters.
DESCRIPTION_MAX = 127
# WeChat's answer when closing an order that was paid meanwhile.
ORDER_PAID = "ORDERPAID"
REFUND_REASON_ORDER_CLOSED = "订单已关闭，自动退款"  # shown to the payer in WeChat
REFUND_REASON_MAX = 80  # WeChat's limit
# Payments that took money (the order has been paid once, whatever happened next).
PAID_STATES = (PayStatus.SUCCESS, PayStatus.REFUNDING, PayStatus.REFUNDED)
# Refund statuses WeChat never leaves by itself: the money is stuck until a person acts.
STUCK_REFUND = ("CLOSED", "ABNORMAL")


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


def _standing(payment: ThirdPayment) -> tuple[int, int]:
    """How well a payment stands for its order: the one that paid first, then the newest."""
    if payment.pay_status == PayStatus.SUCCESS:
        return (2, payment.id)
    if payment.pay_status in (PayStatus.REFUNDING, PayStatus.REFUNDED):
        return (1, payment.id)
    return (0, payment.id)


async def order_payments(db: Database, order_sns: Sequence[str]) -> list[ThirdPayment | None]:
    """The payment of each order, in the order of `order_sns` (DataLoader batch).

    The one that paid it when one did (SUCCESS, else the refunded one), else the
    newest attempt: a later WAITING attempt never hides the money that came in.
    """
    async with db.session() as session:
        rows = await session.scalars(
            select(ThirdPayment).where(
                ThirdPayment.order_sn.in_(order_sns), ThirdPayment.del_state == 0
            )
        )
        best: dict[str, ThirdPayment] = {}
        for row in rows:
            current = best.get(row.order_sn)
            if current is None or _standing(row) > _standing(current):
                best[row.order_sn] = row
    return [best.get(sn) for sn in order_sns]


async def order_payment(db: Database, order_sn: str) -> ThirdPayment | None:
    return (await order_payments(db, [order_sn]))[0]


async def _paid_payment(
    db: Database, order_sn: str, statuses: Sequence[PayStatus] = PAID_STATES
) -> ThirdPayment | None:
    """The order's first payment in `statuses` (money came in), if any."""
    async with db.session() as session:
        payment: ThirdPayment | None = await session.scalar(
            select(ThirdPayment)
            .where(ThirdPayment.order_sn == order_sn, ThirdPayment.pay_status.in_(statuses))
            .order_by(ThirdPayment.id)
            .limit(1)
        )
        return payment


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
    except IntegrityError:
        winner = await _waiting_payment(db, order.sn)
        if winner is None:  # it settled between the insert and this read
            raise OrderNotPayable() from None
        return winner
    if await _paid_payment(db, order.sn) is not None:
        # Another attempt succeeded between our check and our insert: this one must not
        # reach WeChat (it has no prepay yet, so closing it here is closing it everywhere).
        await _close_waiting(
            db, payment, Answer(Source.LOCAL, "CLOSED", detail="the order was paid meanwhile")
        )
        raise OrderNotPayable()
    return payment


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
    prepay_id for the same out_trade_no, so even racing calls agree. Once any
    payment of the order took money, or past the order's pay deadline (which is
    WeChat's time_expire too), there is nothing more to pay: ORDER_NOT_PAYABLE.
    """
    if order is None:
        raise NotFound("No such order.")
    if order.trade_state != "WAIT_PAY" or order.pay_deadline <= utcnow():
        raise OrderNotPayable()
    if not openid:
        raise WeChatAccountRequired()
    if await _paid_payment(db, order.sn) is not None:  # one paid payment per order
        raise OrderNotPayable()
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
    *,
    answer: Answer | None = None,
    paid: int = 0,
    refunded: int = 0,
    **values: Any,
) -> bool:
    """Move a payment between states and broadcast it, atomically; False if not in `source`.

    `answer` (what WeChat said that led here) goes to the ledger in the same
    transaction either way; the money `paid` or `refunded` only if the payment
    moved, so a replayed answer is recorded but never counted twice.
    """
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
        changed = result.rowcount == 1
        if answer is not None:
            ledger.record(
                session,
                payment,
                answer,
                paid=paid if changed else 0,
                refunded=refunded if changed else 0,
            )
        if changed:
            broadcast_payment_status(session, OutboxMessage, _event(payment, target, values))
            after_commit(session, live.channel(payment.order_sn))  # live subscribers: look again
    if changed:
        logger.info("payment %s → %s", payment.sn, target.name)
    return changed


async def _close_waiting(db: Database, payment: ThirdPayment, answer: Answer) -> None:
    """WAITING → CLOSED, recording who said so (WeChat's answer, or ours) in the ledger."""
    await _transition(
        db, payment, [PayStatus.WAITING], PayStatus.CLOSED, answer=answer, trade_state="CLOSED"
    )


def _transaction_answer(transaction: Transaction, source: Source, detail: str = "") -> Answer:
    return Answer(
        source=source,
        wechat_state=transaction.trade_state,
        amount=transaction.amount_total,
        wechat_id=transaction.transaction_id,
        detail=detail or transaction.trade_state_desc,
    )


async def settle_transaction(
    db: Database,
    settings: Settings,
    transaction: Transaction,
    source: Source = Source.NOTIFICATION,
) -> ThirdPayment:
    """Apply what WeChat says about a payment (notification or query). Idempotent.

    The merchant, app and amount must match ours, and a SUCCESS must say how
    much was paid: anything else is refused (recorded in the ledger, the payment
    unchanged, WeChat told 4xx so it sends again).
    """
    payment = await get_payment(db, transaction.out_trade_no)
    if payment is None:
        raise NotificationRejected(f"unknown out_trade_no {transaction.out_trade_no}")
    problem: str | None = None
    if transaction.mchid != settings.wechat_pay_mchid or transaction.appid != settings.pay_appid:
        problem = "merchant or app does not match"
    elif transaction.amount_total is None:
        if transaction.trade_state == "SUCCESS":  # money said to have moved, but how much?
            problem = "no amount"
    elif transaction.amount_total != payment.pay_total:
        logger.error(
            "payment %s: WeChat reports %s fen, we expect %s",
            payment.sn,
            transaction.amount_total,
            payment.pay_total,
        )
        problem = "amount does not match"
    if problem is not None:
        await ledger.record_answer(
            db, payment, _transaction_answer(transaction, source, f"refused: {problem}")
        )
        raise NotificationRejected(f"{payment.sn}: {problem}")
    answer = _transaction_answer(transaction, source)
    reported: dict[str, Any] = {
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
            answer=answer,
            paid=transaction.amount_total or payment.pay_total,
            transaction_id=transaction.transaction_id,
            pay_time=transaction.success_time or utcnow(),
            **reported,
        )
    elif transaction.trade_state in ("CLOSED", "REVOKED"):
        await _transition(
            db, payment, [PayStatus.WAITING], PayStatus.CLOSED, answer=answer, **reported
        )
    elif transaction.trade_state == "PAYERROR":
        await _transition(
            db, payment, [PayStatus.WAITING], PayStatus.FAIL, answer=answer, **reported
        )
    else:  # NOTPAY, USERPAYING, REFUND: nothing to change, but WeChat said it
        await ledger.record_answer(db, payment, answer)
    return await get_payment(db, payment.sn) or payment


async def _refund_numbers(db: Database, payment: ThirdPayment) -> set[str]:
    """Every refund number this payment has used (the current one and earlier, retried ones)."""
    used = {row.refund_sn for row in await ledger.entries(db, payment.sn) if row.refund_sn}
    if payment.refund_sn:
        used.add(payment.refund_sn)
    return used


async def settle_refund(
    db: Database, refund: Refund, source: Source = Source.REFUND_NOTIFICATION
) -> ThirdPayment:
    """Apply what WeChat says about a refund: REFUNDING → REFUNDED on success. Idempotent.

    CLOSED and ABNORMAL mean the money is stuck between the accounts: recorded,
    logged as an error and counted, and left REFUNDING for an operator
    (`looklook refunds`) and the consistency job to surface.
    """
    payment = await get_payment(db, refund.out_trade_no)
    if payment is None or refund.out_refund_no not in await _refund_numbers(db, payment):
        raise NotificationRejected(f"unknown refund {refund.out_refund_no}")
    answer = Answer(
        source=source,
        wechat_state=refund.status,
        amount=refund.amount_refund,
        wechat_id=refund.refund_id,
        refund_sn=refund.out_refund_no,
    )
    current = refund.out_refund_no == payment.refund_sn
    if refund.status == "SUCCESS":
        await _transition(
            db,
            payment,
            [PayStatus.REFUNDING],
            PayStatus.REFUNDED,
            answer=answer,
            refunded=refund.amount_refund or refund_amount_of(payment),
            refund_id=refund.refund_id,
            refund_time=utcnow(),
            refund_status=refund.status,
            trade_state="REFUND",
        )
        return await get_payment(db, payment.sn) or payment
    async with db.write_session() as session:
        ledger.record(session, payment, answer)
        if current:
            await session.execute(
                update(ThirdPayment)
                .where(
                    ThirdPayment.id == payment.id,
                    ThirdPayment.refund_sn == refund.out_refund_no,
                    ThirdPayment.pay_status == PayStatus.REFUNDING,
                )
                .values(refund_status=refund.status, update_time=utcnow())
            )
    if refund.status in STUCK_REFUND:
        REFUND_FAILURES.labels(refund.status).inc()
        logger.error(
            "refund %s of payment %s is %s: the money is stuck, retry it with "
            "`looklook refunds retry %s`",
            refund.out_refund_no,
            payment.sn,
            refund.status,
            payment.sn,
        )
    return await get_payment(db, payment.sn) or payment


async def _record_refusal(
    db: Database, payment: ThirdPayment, source: Source, error: WeChatPayError
) -> None:
    """WeChat refused the call (an error code is an answer too); transport failures are not."""
    if error.status is not None:
        await ledger.record_answer(
            db,
            payment,
            Answer(source, error.code or f"HTTP {error.status}", detail=error.message),
        )


async def _close_at_wechat(
    db: Database, wechat: WeChatPayClient, settings: Settings, payment: ThirdPayment
) -> ThirdPayment:
    """End a WAITING payment as WeChat has it: settled if it was paid, closed otherwise.

    Asks WeChat first (a paid payment is settled, never closed), then closes;
    if the payer was faster than the close (ORDERPAID), asks again and settles.
    Raises WeChatPayError when WeChat cannot be reached: nothing is closed blind.
    """
    if payment.prepay_id is None:  # never reached WeChat: nobody can pay it
        await _close_waiting(db, payment, _NEVER_SENT)
        return await get_payment(db, payment.sn) or payment
    transaction = await wechat.query(payment.sn)
    if transaction is None:  # WeChat never saw it (the prepay answer was lost)
        await _close_waiting(db, payment, Answer(Source.QUERY, "ORDER_NOT_EXIST"))
        return await get_payment(db, payment.sn) or payment
    payment = await settle_transaction(db, settings, transaction, Source.QUERY)
    if payment.pay_status != PayStatus.WAITING:
        return payment
    try:
        await wechat.close(payment.sn)
    except WeChatPayError as error:
        await _record_refusal(db, payment, Source.CLOSE, error)
        if error.code != ORDER_PAID:
            raise
        logger.info("payment %s was paid before it could be closed", payment.sn)
        paid = await wechat.query(payment.sn)
        if paid is None:
            raise
        return await settle_transaction(db, settings, paid, Source.QUERY)
    await _close_waiting(db, payment, Answer(Source.CLOSE, "CLOSED", amount=payment.pay_total))
    return await get_payment(db, payment.sn) or payment


async def close_for_cancelled_order(
    db: Database, wechat: WeChatPayClient, settings: Settings, order_sn: str
) -> bool:
    """The order was cancelled: close its waiting WeChat order so it cannot be paid any more.

    If the payer was faster, the payment is settled instead: its broadcast makes
    the order side ask for the refund. True if a payment was closed.
    """
    payment = await _waiting_payment(db, order_sn)
    if payment is None:
        return False
    after = await _close_at_wechat(db, wechat, settings, payment)
    return after.pay_status == PayStatus.CLOSED


class OrderPaymentVerdict(StrEnum):
    """Payments' answer to "settle or close the payment of this order"."""

    PAID = "PAID"  # a payment of the order took the money: the order must become paid
    CLOSED = "CLOSED"  # nothing was paid and nothing can be any more: the order may close


@dataclass(frozen=True)
class OrderPaymentAnswer:
    verdict: OrderPaymentVerdict
    payment_sn: str | None = None


async def settle_or_close_order_payment(
    db: Database, wechat: WeChatPayClient, settings: Settings, order_sn: str
) -> OrderPaymentAnswer:
    """Before an overdue order is cancelled: did WeChat take its money? Idempotent.

    PAID (with the payment that paid) when WeChat says SUCCESS or ORDERPAID —
    settled here and now, not waiting for a notification; CLOSED once WeChat
    agrees nothing was paid (NOTPAY then closed, CLOSED, or it never saw the
    payment) or there was no payment at all. WeChat unreachable (or the payer
    mid-payment): PaymentUnavailable, and the caller tries again later.
    """
    paid = await _paid_payment(db, order_sn, [PayStatus.SUCCESS])
    if paid is not None:
        return OrderPaymentAnswer(OrderPaymentVerdict.PAID, paid.sn)
    waiting = await _waiting_payment(db, order_sn)
    if waiting is None:
        return OrderPaymentAnswer(OrderPaymentVerdict.CLOSED)
    try:
        after = await _close_at_wechat(db, wechat, settings, waiting)
    except WeChatPayError as error:
        logger.warning("cannot settle or close payment %s now: %s", waiting.sn, error)
        raise PaymentUnavailable() from error
    if after.pay_status == PayStatus.SUCCESS:
        return OrderPaymentAnswer(OrderPaymentVerdict.PAID, after.sn)
    if after.pay_status == PayStatus.WAITING:
        raise PaymentUnavailable()
    return OrderPaymentAnswer(OrderPaymentVerdict.CLOSED)


def refund_amount_of(payment: ThirdPayment) -> int:
    """What the payment's refund returns (fen): the amount asked, else all of it."""
    return payment.refund_amount if payment.refund_amount is not None else payment.pay_total


async def refund_payment(
    db: Database,
    wechat: WeChatPayClient,
    settings: Settings,
    payment_sn: str,
    amount: int | None = None,
    reason: str | None = None,
) -> bool:
    """Send a successful payment's money back: `amount` fen (a guest's refund under the
    host's policy), or all of it (money an order could not take). Safe to repeat.

    The refund number, amount and reason are fixed when the payment becomes
    REFUNDING, so a retry (or the reconciler) asks WeChat for the same refund
    (WeChat deduplicates by out_refund_no) instead of refunding twice or another sum;
    a later request for a payment already refunding changes nothing.
    """
    payment = await get_payment(db, payment_sn)
    if payment is None:
        logger.error("refund requested for unknown payment %s", payment_sn)
        return False
    if amount is not None and not 0 < amount <= payment.pay_total:
        logger.error("refund of %s fen asked for payment %s of %s", amount, payment.sn,
                     payment.pay_total)  # fmt: skip
        return False
    if payment.pay_status == PayStatus.SUCCESS:
        await _transition(
            db,
            payment,
            [PayStatus.SUCCESS],
            PayStatus.REFUNDING,
            refund_sn=make_sn(SnPrefix.REFUND),
            refund_status=None,
            refund_amount=amount if amount is not None else payment.pay_total,
            refund_reason=(reason or REFUND_REASON_ORDER_CLOSED)[:REFUND_REASON_MAX],
        )
        payment = await get_payment(db, payment_sn) or payment
    if payment.pay_status != PayStatus.REFUNDING or payment.refund_sn is None:
        return False
    try:
        refund = await wechat.refund(
            out_trade_no=payment.sn,
            out_refund_no=payment.refund_sn,
            amount_fen=refund_amount_of(payment),
            total_fen=payment.pay_total,
            reason=payment.refund_reason or REFUND_REASON_ORDER_CLOSED,
            notify_url=settings.wechat_pay_notify_url,
        )
    except WeChatPayError as error:
        await _record_refusal(db, payment, Source.REFUND_REQUEST, error)
        raise
    await settle_refund(db, refund, Source.REFUND_REQUEST)
    return True


async def retry_refund(
    db: Database, wechat: WeChatPayClient, settings: Settings, payment_sn: str
) -> bool:
    """An operator retries a refund WeChat reported CLOSED or ABNORMAL, under a new number.

    WeChat never reopens a closed refund; the earlier number stays in the ledger,
    and its answers are still accepted. False if the payment has no stuck refund.
    """
    payment = await get_payment(db, payment_sn)
    if (
        payment is None
        or payment.pay_status != PayStatus.REFUNDING
        or payment.refund_status not in STUCK_REFUND
    ):
        return False
    async with db.write_session() as session:
        result = cast(
            CursorResult[Any],
            await session.execute(
                update(ThirdPayment)
                .where(
                    ThirdPayment.id == payment.id,
                    ThirdPayment.refund_sn == payment.refund_sn,
                    ThirdPayment.pay_status == PayStatus.REFUNDING,
                )
                .values(
                    refund_sn=make_sn(SnPrefix.REFUND),
                    refund_status=None,
                    update_time=utcnow(),
                )
            ),
        )
        if result.rowcount != 1:
            return False
    logger.warning("refund of payment %s retried (was %s)", payment.sn, payment.refund_sn)
    return await refund_payment(db, wechat, settings, payment.sn)


@dataclass(frozen=True)
class Reconciliation:
    settled: list[str]
    refunds_settled: list[str]


async def reconcile(
    db: Database, wechat: WeChatPayClient, settings: Settings, *, limit: int = 100
) -> Reconciliation:
    """Ask WeChat about payments that should have heard back by now (lost notifications),
    and re-drive refunds still REFUNDING (a lost refund request or notification).

    One payment's trouble (WeChat down, a refused answer) is logged and skipped;
    the next run asks again.
    """
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
                    or_(
                        ThirdPayment.refund_status.is_(None),
                        ThirdPayment.refund_status.not_in(STUCK_REFUND),
                    ),
                )
                .order_by(ThirdPayment.id)
                .limit(limit)
            )
        )
    settled: list[str] = []
    for payment in waiting:
        try:
            if await _reconcile_payment(db, wechat, settings, payment):
                settled.append(payment.sn)
        except (WeChatPayError, NotificationRejected) as error:
            logger.warning("reconciling payment %s: %s", payment.sn, error)
    refunds_settled: list[str] = []
    for payment in refunding:
        try:
            if await _reconcile_refund(db, wechat, settings, payment):
                refunds_settled.append(payment.sn)
        except (WeChatPayError, NotificationRejected) as error:
            logger.warning("reconciling the refund of payment %s: %s", payment.sn, error)
    return Reconciliation(settled=settled, refunds_settled=refunds_settled)


async def _reconcile_payment(
    db: Database, wechat: WeChatPayClient, settings: Settings, payment: ThirdPayment
) -> bool:
    if payment.prepay_id is None:  # never reached WeChat: nothing can be paid
        await _close_waiting(db, payment, _NEVER_SENT)
        return False
    transaction = await wechat.query(payment.sn)
    if transaction is None:
        return False
    after = await settle_transaction(db, settings, transaction, Source.QUERY)
    return after.pay_status != PayStatus.WAITING


async def _reconcile_refund(
    db: Database, wechat: WeChatPayClient, settings: Settings, payment: ThirdPayment
) -> bool:
    assert payment.refund_sn is not None
    refund = await wechat.query_refund(payment.refund_sn)
    if refund is None:  # the refund call itself was lost: ask again
        await refund_payment(db, wechat, settings, payment.sn)
        return False
    after = await settle_refund(db, refund, Source.REFUND_QUERY)
    return after.pay_status == PayStatus.REFUNDED


# --- what the consistency job (subgraphs/payments/convergence.py) looks at ----------------


async def unconfirmed_successes(
    db: Database, *, older_than: datetime, limit: int
) -> list[ThirdPayment]:
    """SUCCESS payments not yet seen paying their order."""
    async with db.session() as session:
        return list(
            await session.scalars(
                select(ThirdPayment)
                .where(
                    ThirdPayment.pay_status == PayStatus.SUCCESS,
                    ThirdPayment.order_confirmed_at.is_(None),
                    ThirdPayment.update_time < older_than,
                )
                .order_by(ThirdPayment.id)
                .limit(limit)
            )
        )


async def confirm_order_paid(db: Database, payment: ThirdPayment) -> None:
    """The order is paid by this payment: the consistency job need not look again."""
    async with db.write_session() as session:
        await session.execute(
            update(ThirdPayment)
            .where(ThirdPayment.id == payment.id, ThirdPayment.order_confirmed_at.is_(None))
            .values(order_confirmed_at=utcnow())
        )


async def rival_waiting_payments(db: Database, *, limit: int) -> list[ThirdPayment]:
    """WAITING payments of orders that another payment already paid."""
    paid = aliased(ThirdPayment)
    async with db.session() as session:
        return list(
            await session.scalars(
                select(ThirdPayment)
                .where(
                    ThirdPayment.pay_status == PayStatus.WAITING,
                    exists().where(
                        paid.order_sn == ThirdPayment.order_sn,
                        paid.pay_status.in_(PAID_STATES),
                    ),
                )
                .order_by(ThirdPayment.id)
                .limit(limit)
            )
        )


async def close_rival(
    db: Database, wechat: WeChatPayClient, settings: Settings, payment: ThirdPayment
) -> ThirdPayment:
    """Close a WAITING payment whose order is paid by another; if the payer paid it too,
    it is settled, and the order side refunds it as money it cannot take."""
    return await _close_at_wechat(db, wechat, settings, payment)


async def stuck_refunds(db: Database, *, limit: int = 1000) -> list[ThirdPayment]:
    """Refunds WeChat reported CLOSED or ABNORMAL: money a person must look at."""
    async with db.session() as session:
        return list(
            await session.scalars(
                select(ThirdPayment)
                .where(
                    ThirdPayment.pay_status == PayStatus.REFUNDING,
                    ThirdPayment.refund_status.in_(STUCK_REFUND),
                )
                .order_by(ThirdPayment.id)
                .limit(limit)
            )
        )


async def refunds(db: Database, *, limit: int = 100) -> list[ThirdPayment]:
    """Payments whose money is going (or went) back, newest first (`looklook refunds`)."""
    async with db.session() as session:
        return list(
            await session.scalars(
                select(ThirdPayment)
                .where(ThirdPayment.pay_status.in_([PayStatus.REFUNDING, PayStatus.REFUNDED]))
                .order_by(ThirdPayment.id.desc())
                .limit(limit)
            )
        )
