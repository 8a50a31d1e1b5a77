"""Notifications actors: tell the payer, through mini-program subscribe messages, what is true.

"支付成功，入住码已生成" is sent when the ORDER is paid (orders stages it with
the check-in code, `OrderPaid`), and only if the order still stands when the
message goes out: an order being refunded gets no success message. A refunded
payment gets a "refunded" message (`PaymentStatusChanged` with REFUNDED).

WeChat has no idempotency key for subscribe messages, so we keep one per
message in Redis, in two steps: a short "sending" claim, then a long "sent"
mark. A replay finds "sent" and does nothing; a worker killed mid-send leaves
only the claim, which expires, so the retry sends once. While a claim is held
the retry waits for it (`dramatiq.Retry`). A user who refused the template
(43101) is final: the job ends quietly (INFO log, a counter), no retry, no
dead letter burying real ones.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import dramatiq
from opentelemetry import trace

from common.clock import CHINA
from common.events import (
    NOTIFY_PAYMENT_REFUNDED,
    NOTIFY_PAYMENT_SUCCESS,
    OrderPaid,
    PaymentStatusChanged,
)
from common.settings import Domain, get_settings
from common.wechat.messages import WeChatMessageError
from subgraphs.orders.models import TradeState
from subgraphs.orders.service import get_order
from workers.broker import NOTIFICATION_RETRIES, route_actor
from workers.metrics import NOTIFICATIONS_REFUSED
from workers.resources import database, messenger, redis

logger = logging.getLogger(__name__)
tracer = trace.get_tracer(__name__)

SENT_KEY = "looklook:notifications:{kind}:{sn}"
# Long enough to outlive every redelivery of the event.
SENT_TTL_SECONDS = 7 * 24 * 3600
# Longer than one send can take (a token fetch and a send, 5 s timeouts, each retried once);
# short enough that a send cut off by a crash is retried within minutes.
SENDING_TTL_SECONDS = 60
SENDING, SENT, REFUSED = "sending", "sent", "refused"
ORDER_PAGE = "pages/order/detail?sn={order_sn}"
# The order states in which "paid, here is your check-in code" is still true.
STANDING = (TradeState.WAIT_USE, TradeState.USED)


class SendInProgress(dramatiq.Retry):
    """Another attempt holds the claim on this message: retry once it has sent or expired."""


def _china_time(iso: str | None) -> str:
    moment = datetime.fromisoformat(iso) if iso else datetime.now(CHINA)
    return moment.astimezone(CHINA).strftime("%Y-%m-%d %H:%M")


def payment_success_data(notice: OrderPaid) -> dict[str, str]:
    """The success template: order number, check-in code, pay time (China time), note."""
    return {
        "character_string1": notice.order_sn,
        "character_string2": notice.trade_code,
        "time3": _china_time(notice.pay_time),
        "thing4": "支付成功，入住码已生成，请在订单详情查看",
    }


def refund_data(event: PaymentStatusChanged) -> dict[str, str]:
    """The refund template: order number, state, time (China time), note."""
    return {
        "character_string1": event.order_sn,
        "phrase2": "已退款",
        "time3": _china_time(None),
        "thing4": "款项已原路退回，请在微信支付账单中查看",
    }


async def send_once(key: str, template: str, send: Callable[[], Awaitable[None]]) -> bool:
    """Run `send` unless it already ran for `key`; True if a message went out now.

    Raises `SendInProgress` while another attempt holds the claim.
    """
    client = redis()
    if not await client.set(key, SENDING, nx=True, ex=SENDING_TTL_SECONDS):
        state = await client.get(key)
        if state in (SENT, REFUSED):
            return False
        # A claim (or it expired just now): the holder may still send; come back after it.
        wait_ms = await client.pttl(key)
        raise SendInProgress(f"{key} is being sent", delay=max(int(wait_ms), 0) + 100)
    try:
        await send()
    except WeChatMessageError as error:
        if not error.refused_by_user:
            await client.delete(key)
            raise
        await client.set(key, REFUSED, ex=SENT_TTL_SECONDS)
        NOTIFICATIONS_REFUSED.labels(template).inc()
        logger.info("%s not sent: the user refused it (%s)", key, error.errcode)
        return False
    except BaseException:
        await client.delete(key)  # not sent: the retry may send it
        raise
    await client.set(key, SENT, ex=SENT_TTL_SECONDS)
    return True


async def _order_still_paid(notice: OrderPaid) -> bool:
    order = await get_order(database(Domain.ORDERS), notice.order_sn)
    return (
        order is not None
        and order.payment_sn == notice.payment_sn
        and TradeState(order.trade_state) in STANDING
    )


async def notify_paid(payload: dict[str, Any]) -> bool:
    """Tell the payer their order is paid, with its check-in code; True if sent now."""
    if "status" in payload:  # a PaymentStatusChanged queued before orders announced success
        return False
    notice = OrderPaid.from_payload(payload)
    if not notice.payer_openid:
        return False
    if not await _order_still_paid(notice):
        logger.info("order %s no longer stands: no success message", notice.order_sn)
        return False
    template = get_settings().wechat_subscribe_template_id
    key = SENT_KEY.format(kind="payment-success", sn=notice.payment_sn)
    with tracer.start_as_current_span(
        "notify payment success", attributes={"order.sn": notice.order_sn}
    ):
        sent = await send_once(
            key,
            template,
            lambda: messenger().send(
                notice.payer_openid,
                template,
                ORDER_PAGE.format(order_sn=notice.order_sn),
                payment_success_data(notice),
            ),
        )
    if sent:
        logger.info(
            "told the payer of %s that order %s is paid", notice.payment_sn, notice.order_sn
        )
    return sent


async def notify_refunded(payload: dict[str, Any]) -> bool:
    """Tell the payer their money went back; True if sent now."""
    event = PaymentStatusChanged.from_payload(payload)
    if event.status != "REFUNDED" or not event.payer_openid:
        return False
    template = get_settings().wechat_refund_template_id
    key = SENT_KEY.format(kind="refund", sn=event.payment_sn)
    with tracer.start_as_current_span("notify refund", attributes={"payment.sn": event.payment_sn}):
        sent = await send_once(
            key,
            template,
            lambda: messenger().send(
                event.payer_openid,
                template,
                ORDER_PAGE.format(order_sn=event.order_sn),
                refund_data(event),
            ),
        )
    if sent:
        logger.info("told the payer of %s that it was refunded", event.payment_sn)
    return sent


@route_actor(NOTIFY_PAYMENT_SUCCESS, **NOTIFICATION_RETRIES)
async def notify_payment_success(payload: dict[str, Any]) -> None:
    """Sent by orders when it marks an order paid (`OrderPaid`)."""
    await notify_paid(payload)


@route_actor(NOTIFY_PAYMENT_REFUNDED, **NOTIFICATION_RETRIES)
async def notify_payment_refunded(payload: dict[str, Any]) -> None:
    """Broadcast `PaymentStatusChanged`: a refunded payment is announced to its payer."""
    await notify_refunded(payload)
