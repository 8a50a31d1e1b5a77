"""Payments actors: close a cancelled order's WeChat order, refund money an order could not
take, and wake live `paymentStatus` subscriptions.

All of them are safe to run twice: the service functions change a payment only
through conditional updates, and a wake-up only makes subscribers re-read.
"""

from __future__ import annotations

import logging
from typing import Any

from opentelemetry import trace

from common.events import (
    ORDER_CANCELLED,
    PUBLISH_PAYMENT_STATUS,
    REFUND_PAYMENT,
    PaymentStatusChanged,
)
from common.settings import Domain, get_settings
from subgraphs.payments import live
from subgraphs.payments.service import close_for_cancelled_order, refund_payment
from workers.broker import MONEY_RETRIES, route_actor
from workers.resources import database, redis, wechat_pay

logger = logging.getLogger(__name__)
tracer = trace.get_tracer(__name__)


@route_actor(ORDER_CANCELLED, **MONEY_RETRIES)
async def close_payment_of_cancelled_order(order_sn: str) -> None:
    """Sent by orders when an order is cancelled or auto-closed."""
    with tracer.start_as_current_span(
        ORDER_CANCELLED.actor_name, attributes={"order.sn": order_sn}
    ):
        closed = await close_for_cancelled_order(
            database(Domain.PAYMENTS), wechat_pay(), get_settings(), order_sn
        )
    logger.info(
        "order %s cancelled: %s", order_sn, "payment closed" if closed else "no open payment"
    )


@route_actor(REFUND_PAYMENT, **MONEY_RETRIES)
async def refund(payment_sn: str, amount: int | None = None, reason: str | None = None) -> None:
    """Sent by orders when money arrived for an order that cannot take it (all of it goes
    back), or when a guest asks for a refund (`amount` fen, by the host's policy)."""
    with tracer.start_as_current_span(
        REFUND_PAYMENT.actor_name, attributes={"payment.sn": payment_sn}
    ):
        started = await refund_payment(
            database(Domain.PAYMENTS), wechat_pay(), get_settings(), payment_sn, amount, reason
        )
    logger.info("refund of payment %s: %s", payment_sn, "requested" if started else "nothing to do")


@route_actor(PUBLISH_PAYMENT_STATUS)
async def publish_payment_status(payload: dict[str, Any]) -> None:
    """Broadcast `PaymentStatusChanged`: wake the order's live subscriptions."""
    event = PaymentStatusChanged.from_payload(payload)
    listeners = await live.wake(redis(), event.order_sn)
    logger.info("payment %s %s: woke %d subscribers", event.payment_sn, event.status, listeners)
