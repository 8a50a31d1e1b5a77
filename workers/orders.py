"""Orders actors: the pay-timeout close, and the orders side of a payment's broadcast.

Each actor is a thin wrapper over a service function whose conditional update
makes it idempotent, because the outbox delivers at least once and Dramatiq
retries on failure.
"""

from __future__ import annotations

import logging
from typing import Any

from opentelemetry import trace

from common.events import CLOSE_UNPAID_ORDER, MARK_ORDER_PAID, PaymentStatusChanged
from common.settings import Domain
from subgraphs.orders.refunds import finish_refund
from subgraphs.orders.service import (
    CloseOutcome,
    PaymentOutcome,
    apply_payment_status,
    close_if_unpaid,
)
from workers.broker import MONEY_RETRIES, route_actor
from workers.resources import database, payments_client

logger = logging.getLogger(__name__)
tracer = trace.get_tracer(__name__)


async def close_unpaid(sn: str) -> CloseOutcome:
    """Past its deadline, cancel the order unless WeChat took its money (then it is paid);
    a no-op on any rerun. Raises when payments cannot answer: Dramatiq retries.

    Kept apart from the actor so it can be called directly (tests, a manual fix-up).
    """
    with tracer.start_as_current_span(CLOSE_UNPAID_ORDER.actor_name, attributes={"order.sn": sn}):
        outcome = await close_if_unpaid(database(Domain.ORDERS), payments_client(), sn)
    logger.info("close_unpaid_order %s: %s", sn, outcome)
    return outcome


@route_actor(CLOSE_UNPAID_ORDER)
async def close_unpaid_order(sn: str) -> None:
    """Sent by `create_order` through the outbox, due ORDER_PAY_TIMEOUT seconds later."""
    await close_unpaid(sn)


async def apply_payment(payload: dict[str, Any]) -> PaymentOutcome:
    event = PaymentStatusChanged.from_payload(payload)
    with tracer.start_as_current_span(
        MARK_ORDER_PAID.actor_name,
        attributes={"order.sn": event.order_sn, "payment.sn": event.payment_sn},
    ):
        outcome = await _apply(event)
    logger.info(
        "payment %s %s for order %s: %s", event.payment_sn, event.status, event.order_sn, outcome
    )
    return outcome


async def _apply(event: PaymentStatusChanged) -> PaymentOutcome:
    """SUCCESS pays the order; REFUNDED finishes the guest's refund of it."""
    db = database(Domain.ORDERS)
    if event.status == "REFUNDED":
        finished = await finish_refund(db, event.order_sn, event.payment_sn)
        return PaymentOutcome.REFUNDED if finished else PaymentOutcome.IGNORED
    return await apply_payment_status(db, event)


@route_actor(MARK_ORDER_PAID, **MONEY_RETRIES)
async def mark_order_paid(payload: dict[str, Any]) -> None:
    """Broadcast `PaymentStatusChanged`: a successful payment makes the order WAIT_USE,
    a refunded one finishes the order's refund (REFUNDING → REFUNDED)."""
    await apply_payment(payload)
