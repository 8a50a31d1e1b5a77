"""Notifications actors: tell the payer, through a mini-program subscribe message.

WeChat has no idempotency key for subscribe messages, so we keep one: a Redis
key per payment claimed before sending and released if the send fails, so a
replayed event sends nothing and a failed send is retried.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from typing import Any

from opentelemetry import trace

from common.events import NOTIFY_PAYMENT_SUCCESS, PaymentStatusChanged
from common.settings import get_settings
from workers.broker import route_actor
from workers.resources import messenger, redis

logger = logging.getLogger(__name__)
tracer = trace.get_tracer(__name__)

SENT_KEY = "looklook:notifications:payment-success:{payment_sn}"
# Long enough to outlive every redelivery of the event.
SENT_TTL_SECONDS = 7 * 24 * 3600
CHINA = timezone(timedelta(hours=8))
ORDER_PAGE = "pages/order/detail?sn={order_sn}"


def payment_success_data(event: PaymentStatusChanged) -> dict[str, str]:
    """The template's fields: order number, amount in yuan, pay time (China time), note."""
    paid_at = datetime.fromisoformat(event.pay_time) if event.pay_time else datetime.now(CHINA)
    return {
        "character_string1": event.order_sn,
        "amount2": f"¥{event.pay_total // 100}.{event.pay_total % 100:02d}",
        "time3": paid_at.astimezone(CHINA).strftime("%Y-%m-%d %H:%M"),
        "thing4": "支付成功，入住码已生成，请在订单详情查看",
    }


async def notify(payload: dict[str, Any]) -> bool:
    """Send the payer their success message once; False when there is nothing to send."""
    event = PaymentStatusChanged.from_payload(payload)
    if event.status != "SUCCESS" or not event.payer_openid:
        return False
    key = SENT_KEY.format(payment_sn=event.payment_sn)
    if not await redis().set(key, "sending", nx=True, ex=SENT_TTL_SECONDS):
        return False
    try:
        with tracer.start_as_current_span(
            NOTIFY_PAYMENT_SUCCESS.actor_name, attributes={"payment.sn": event.payment_sn}
        ):
            await messenger().send(
                event.payer_openid,
                get_settings().wechat_subscribe_template_id,
                ORDER_PAGE.format(order_sn=event.order_sn),
                payment_success_data(event),
            )
    except BaseException:
        await redis().delete(key)
        raise
    await redis().set(key, "sent", ex=SENT_TTL_SECONDS)
    logger.info("told the payer of %s that it succeeded", event.payment_sn)
    return True


@route_actor(NOTIFY_PAYMENT_SUCCESS)
async def notify_payment_success(payload: dict[str, Any]) -> None:
    """Broadcast `PaymentStatusChanged`: a successful payment is announced to its payer."""
    await notify(payload)
