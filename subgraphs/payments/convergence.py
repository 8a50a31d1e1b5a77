"""The consistency job: every successful payment ends with its order paid by it, or the
money going back — whatever messages were lost or dead-lettered on the way.

The normal path is a chain of messages (notification → SUCCESS → `mark_order_paid`
→ maybe `refund_payment`); any link can be lost for good (a dead letter, a bug,
an outage longer than the retries). This job does not trust the chain: it asks
orders directly, for each SUCCESS payment not yet matched, to take the payment
(idempotent, `takeOrderPayment`), and acts on the answer: paid → matched;
rejected (cancelled, missing, paid by another) → refunded here. A guest's refund is
a chain too (order REFUNDING → `refund_payment` → WeChat → REFUNDED broadcast → order
REFUNDED): the job asks orders for orders REFUNDING for longer than a refund takes
and finishes each from the payment's side: a payment still SUCCESS is refunded for
the amount the guest was told, a REFUNDED one finishes its order. It also closes
WAITING payments of orders another payment already paid, and counts refunds
WeChat reported CLOSED or ABNORMAL. What it cannot repair it raises: the
`looklook_payments_unconverged` and `looklook_refunds_stuck` gauges and an error log.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Protocol

from common.db import Database
from common.metrics import PAYMENT_REPAIRS, PAYMENTS_UNCONVERGED, REFUNDS_STUCK
from common.models import utcnow
from common.settings import Settings
from common.wechat.pay import WeChatPayClient
from subgraphs.payments import service
from subgraphs.payments.models import PayStatus
from subgraphs.payments.peers import StalledRefund

logger = logging.getLogger(__name__)

# Orders' answers to "this payment took the order's money" (PaymentOutcome names).
TAKEN = ("PAID", "ALREADY_PAID")
REJECTED = "REJECTED"


class OrdersGate(Protocol):
    async def take_payment(self, order_sn: str, payment_sn: str) -> str: ...

    async def stalled_refunds(
        self, *, older_than_seconds: int, first: int
    ) -> list[StalledRefund]: ...

    async def finish_refund(self, order_sn: str, payment_sn: str) -> bool: ...


@dataclass
class Convergence:
    """One run: what matched, what was repaired, what is left for a person."""

    matched: list[str] = field(default_factory=list)  # the order was already paid by it
    orders_paid: list[str] = field(default_factory=list)  # repaired: the order took it now
    refunded: list[str] = field(default_factory=list)  # repaired: the money goes back
    rivals_closed: list[str] = field(default_factory=list)
    refunds_started: list[str] = field(default_factory=list)  # repaired: a guest's refund
    orders_refunded: list[str] = field(default_factory=list)  # repaired: its order finished
    unconverged: list[str] = field(default_factory=list)  # could not be repaired this run
    stuck_refunds: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"{len(self.matched)} matched, {len(self.orders_paid)} orders paid, "
            f"{len(self.refunded)} refunded, {len(self.rivals_closed)} rival payments closed, "
            f"{len(self.refunds_started)} guest refunds started, "
            f"{len(self.orders_refunded)} orders refunded, "
            f"{len(self.unconverged)} unconverged, {len(self.stuck_refunds)} stuck refunds"
        )


async def converge(
    db: Database,
    wechat: WeChatPayClient,
    settings: Settings,
    orders: OrdersGate,
    *,
    limit: int = 200,
) -> Convergence:
    """One consistency run; idempotent, so replicas or reruns only repeat no-ops."""
    run = Convergence()
    older_than = utcnow() - timedelta(seconds=settings.payment_converge_after_seconds)
    for payment in await service.unconfirmed_successes(db, older_than=older_than, limit=limit):
        try:
            outcome = await orders.take_payment(payment.order_sn, payment.sn)
            if outcome in TAKEN:
                await service.confirm_order_paid(db, payment)
                if outcome == "PAID":  # the order had missed its payment: repaired
                    PAYMENT_REPAIRS.labels("order_paid").inc()
                    run.orders_paid.append(payment.sn)
                    logger.warning(
                        "consistency: order %s was unpaid though payment %s succeeded: paid now",
                        payment.order_sn,
                        payment.sn,
                    )
                else:
                    run.matched.append(payment.sn)
            elif outcome == REJECTED:
                logger.warning(
                    "consistency: order %s cannot take payment %s: refunding",
                    payment.order_sn,
                    payment.sn,
                )
                await service.refund_payment(db, wechat, settings, payment.sn)
                PAYMENT_REPAIRS.labels("refund").inc()
                run.refunded.append(payment.sn)
            else:
                raise ValueError(f"unexpected answer {outcome!r} from orders")
        except Exception as error:
            logger.error(
                "consistency: payment %s (order %s) is SUCCESS but not matched with its order: %s",
                payment.sn,
                payment.order_sn,
                error,
            )
            run.unconverged.append(payment.sn)
    await _finish_stalled_refunds(db, wechat, settings, orders, run, limit=limit)
    for rival in await service.rival_waiting_payments(db, limit=limit):
        try:
            after = await service.close_rival(db, wechat, settings, rival)
        except Exception as error:
            logger.warning("consistency: cannot close rival payment %s yet: %s", rival.sn, error)
            continue
        if after.pay_status == PayStatus.CLOSED:
            PAYMENT_REPAIRS.labels("rival_closed").inc()
            run.rivals_closed.append(rival.sn)
    stuck = await service.stuck_refunds(db)
    run.stuck_refunds = [payment.sn for payment in stuck]
    for payment in stuck:
        logger.error(
            "consistency: refund %s of payment %s is %s: retry with `looklook refunds retry %s`",
            payment.refund_sn,
            payment.sn,
            payment.refund_status,
            payment.sn,
        )
    PAYMENTS_UNCONVERGED.set(len(run.unconverged))
    REFUNDS_STUCK.set(len(stuck))
    return run


async def _finish_stalled_refunds(
    db: Database,
    wechat: WeChatPayClient,
    settings: Settings,
    orders: OrdersGate,
    run: Convergence,
    *,
    limit: int,
) -> None:
    """Guests' refunds whose order has been REFUNDING for too long: the request to
    payments or the REFUNDED answer to orders was lost. Both steps are idempotent."""
    try:
        stalled = await orders.stalled_refunds(
            older_than_seconds=settings.payment_converge_after_seconds, first=limit
        )
    except Exception as error:
        logger.error("consistency: cannot ask orders for stalled refunds: %s", error)
        return
    for refund in stalled:
        try:
            await _finish_stalled_refund(db, wechat, settings, orders, run, refund)
        except Exception as error:
            logger.error(
                "consistency: order %s is REFUNDING but its refund (payment %s) is stalled: %s",
                refund.order_sn,
                refund.payment_sn,
                error,
            )
            run.unconverged.append(refund.payment_sn)


async def _finish_stalled_refund(
    db: Database,
    wechat: WeChatPayClient,
    settings: Settings,
    orders: OrdersGate,
    run: Convergence,
    refund: StalledRefund,
) -> None:
    payment = await service.get_payment(db, refund.payment_sn)
    if payment is None or payment.order_sn != refund.order_sn:
        raise ValueError("orders names a payment of another order, or none")
    if payment.pay_status == PayStatus.SUCCESS:  # the refund request never arrived
        logger.warning(
            "consistency: order %s asked for a refund payment %s never heard of: refunding",
            refund.order_sn,
            payment.sn,
        )
        await service.refund_payment(db, wechat, settings, payment.sn, refund.amount, refund.reason)
        PAYMENT_REPAIRS.labels("refund_started").inc()
        run.refunds_started.append(payment.sn)
    elif payment.pay_status == PayStatus.REFUNDED and await orders.finish_refund(
        refund.order_sn, payment.sn
    ):  # orders never heard the refund is done
        logger.warning(
            "consistency: order %s was REFUNDING though payment %s is refunded: finished",
            refund.order_sn,
            payment.sn,
        )
        PAYMENT_REPAIRS.labels("order_refunded").inc()
        run.orders_refunded.append(payment.sn)
    # REFUNDING: WeChat has the request; the reconciler settles it (or it is stuck).
