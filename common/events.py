"""Messages that cross domains: who sends them, which actors receive them, and their payload.

A domain never calls another domain's actor module; it stages a message for a
named actor on a named queue in its own outbox (`common.outbox.add_message`).
The names live here so sender and receiver cannot drift apart.

Broadcast: Dramatiq has no fan-out, so a broadcast event is one message per
subscriber, each an actor on its own queue. A slow or failing subscriber
(WeChat's message API down, say) then delays and retries only itself.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from common.outbox import OutboxMixin, add_message


@dataclass(frozen=True)
class ActorRoute:
    """Where a message goes: the actor's name and the queue it listens on."""

    actor_name: str
    queue_name: str


ORDERS_QUEUE = "orders"
PAYMENTS_QUEUE = "payments"
NOTIFICATIONS_QUEUE = "notifications"
TRAVEL_QUEUE = "travel"

# orders → orders: close an order still unpaid at its deadline (delayed).
CLOSE_UNPAID_ORDER = ActorRoute("close_unpaid_order", ORDERS_QUEUE)
# orders → payments: an order was cancelled or closed; close its waiting WeChat order.
ORDER_CANCELLED = ActorRoute("close_payment_of_cancelled_order", PAYMENTS_QUEUE)
# orders → payments: money arrived for an order that cannot take it, send it back
# (payment sn); or a guest asked for a refund (payment sn, amount in fen, reason).
REFUND_PAYMENT = ActorRoute("refund_payment", PAYMENTS_QUEUE)

# payments → everyone who cares that a payment changed status:
# the order becomes paid (or asks for a refund) …
MARK_ORDER_PAID = ActorRoute("mark_order_paid", ORDERS_QUEUE)
# … live `paymentStatus` subscriptions wake up (the payments process also wakes them
# itself right after its commit; this is the durable path) …
PUBLISH_PAYMENT_STATUS = ActorRoute("publish_payment_status", PAYMENTS_QUEUE)
# … and a refunded payer gets a "refunded" subscribe message.
NOTIFY_PAYMENT_REFUNDED = ActorRoute("notify_payment_refunded", NOTIFICATIONS_QUEUE)
PAYMENT_STATUS_SUBSCRIBERS = (MARK_ORDER_PAID, PUBLISH_PAYMENT_STATUS, NOTIFY_PAYMENT_REFUNDED)

# orders → the payer: the ORDER is paid (not just the payment), with its check-in code.
# Sent by orders when it marks the order WAIT_USE, so the message never announces a
# stay the order could not take (that money is refunded, and the refund is announced).
NOTIFY_PAYMENT_SUCCESS = ActorRoute("notify_payment_success", NOTIFICATIONS_QUEUE)

# orders → travel: the nights a holder (an order, a landlord's blocks) holds now, for
# travel's availability read model (search by dates). See `NightHolds`.
NIGHTS_HELD = ActorRoute("apply_night_holds", TRAVEL_QUEUE)


@dataclass(frozen=True)
class PaymentStatusChanged:
    """A payment reached a new status. Carries what every subscriber needs, so none
    of them has to read the payments database."""

    payment_sn: str
    order_sn: str
    user_id: int
    status: str  # a PayStatus name: SUCCESS, REFUNDING, REFUNDED, CLOSED, FAIL
    pay_total: int
    payer_openid: str
    transaction_id: str | None
    pay_time: str | None  # ISO 8601, UTC

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> PaymentStatusChanged:
        return cls(**payload)


@dataclass(frozen=True)
class OrderPaid:
    """An order was paid and has its check-in code: what the payer's message says."""

    order_sn: str
    payment_sn: str
    user_id: int
    payer_openid: str
    trade_code: str
    pay_time: str | None  # ISO 8601, UTC

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> OrderPaid:
        return cls(**payload)


@dataclass(frozen=True)
class NightHolds:
    """Every night `holder` holds of a homestay now (ISO dates; empty once released).

    A snapshot, not a delta, with the holder's `version` (strictly greater for every
    later change of the same holder): applying it is idempotent, and a late or
    repeated message (a lower or equal version) changes nothing, whatever order
    messages arrive in. `holder` names who holds them, e.g. `order:42`.
    """

    holder: str
    homestay_id: int
    nights: list[str]
    version: int

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> NightHolds:
        return cls(**payload)


def broadcast_payment_status(
    session: AsyncSession, model: type[OutboxMixin], event: PaymentStatusChanged
) -> None:
    """Stage the event for every subscriber in the caller's transaction."""
    for route in PAYMENT_STATUS_SUBSCRIBERS:
        send(session, model, route, asdict(event))


def send(
    session: AsyncSession,
    model: type[OutboxMixin],
    route: ActorRoute,
    *args: Any,
    delay_seconds: float = 0,
) -> None:
    """Stage one message for `route` in the caller's transaction."""
    add_message(
        session,
        model,
        actor_name=route.actor_name,
        queue_name=route.queue_name,
        args=list(args),
        delay_seconds=delay_seconds,
    )
