"""What an operator runs against the payments database: `looklook payment-ledger` and
`looklook refunds` (list, retry). Plain text for a terminal; no GraphQL involved."""

from __future__ import annotations

from collections.abc import Callable

from common.db import Database
from common.settings import Domain, Settings
from common.wechat.pay import WeChatPayClient, WeChatPayError
from subgraphs.payments import ledger, service
from subgraphs.payments.models import PayStatus, ThirdPayment

Print = Callable[[str], None]


def _status(payment: ThirdPayment) -> str:
    return PayStatus(payment.pay_status).name


async def show_ledger(settings: Settings, payment_sn: str, out: Print) -> int:
    """A payment, its totals and every answer WeChat gave about it, oldest first."""
    db = Database(settings.database_url(Domain.PAYMENTS), pool_size=1)
    try:
        payment = await service.get_payment(db, payment_sn)
        if payment is None:
            out(f"no payment {payment_sn}")
            return 1
        [totals] = await ledger.totals(db, [payment_sn])
        out(
            f"payment {payment.sn}  order {payment.order_sn}  {_status(payment)}  "
            f"total {payment.pay_total} fen  paid {totals.paid}  refunded {totals.refunded}  "
            f"refund {payment.refund_sn or '-'} ({payment.refund_status or '-'})"
        )
        for row in await ledger.entries(db, payment_sn):
            money = f"+{row.paid}" if row.paid else (f"-{row.refunded}" if row.refunded else "")
            out(
                f"{row.create_time.isoformat(timespec='seconds')}  {row.source:<19} "
                f"{row.wechat_state:<16} amount={row.amount if row.amount is not None else '-'}"
                f"  {money:>7}  {row.refund_sn or ''} {row.wechat_id or ''} {row.detail}".rstrip()
            )
        return 0
    finally:
        await db.dispose()


async def list_refunds(settings: Settings, out: Print, *, stuck_only: bool) -> int:
    """Refunds, newest first; `stuck_only`: those WeChat reported CLOSED or ABNORMAL."""
    db = Database(settings.database_url(Domain.PAYMENTS), pool_size=1)
    try:
        rows = await (service.stuck_refunds(db) if stuck_only else service.refunds(db))
        for payment in rows:
            changed = payment.update_time.isoformat(timespec="seconds")
            out(
                f"{payment.sn}  order {payment.order_sn}  {_status(payment):<9} "
                f"{payment.pay_total} fen  refund {payment.refund_sn} "
                f"({payment.refund_status or '-'})  {changed}"
            )
        if not rows:
            out("no stuck refunds" if stuck_only else "no refunds")
        return 0
    finally:
        await db.dispose()


async def retry(settings: Settings, payment_sn: str, out: Print) -> int:
    """Ask WeChat again, under a new refund number, for a refund it reported CLOSED/ABNORMAL."""
    db = Database(settings.database_url(Domain.PAYMENTS), pool_size=1)
    wechat = WeChatPayClient(settings)
    try:
        try:
            retried = await service.retry_refund(db, wechat, settings, payment_sn)
        except WeChatPayError as error:
            out(f"WeChat Pay refused or is unreachable: {error}")
            return 1
        if not retried:
            out(f"{payment_sn} has no refund reported CLOSED or ABNORMAL: nothing to retry")
            return 1
        payment = await service.get_payment(db, payment_sn)
        assert payment is not None
        out(f"{payment_sn}: refund asked again as {payment.refund_sn} ({payment.refund_status})")
        return 0
    finally:
        await wechat.aclose()
        await db.dispose()


async def reconcile_now(settings: Settings, out: Print) -> int:
    """One reconciler run that asks WeChat about every waiting or refunding payment now,
    whatever its age: the scheduler's `payments.reconcile` waits
    `PAYMENT_RECONCILE_AFTER_SECONDS` first, which is right in production (most
    notifications are only late) and too long to watch a lost one being repaired."""
    db = Database(settings.database_url(Domain.PAYMENTS), pool_size=1)
    wechat = WeChatPayClient(settings)
    try:
        now = settings.model_copy(update={"payment_reconcile_after_seconds": 0})
        result = await service.reconcile(db, wechat, now)
        out(f"settled payments: {' '.join(result.settled) or '-'}")
        out(f"settled refunds: {' '.join(result.refunds_settled) or '-'}")
        return 0
    finally:
        await wechat.aclose()
        await db.dispose()
