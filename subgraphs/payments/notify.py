"""`POST /wechatpay/notify`: WeChat Pay's payment and refund notifications.

WeChat retries a notification until it gets a 2xx, so the answer matters:
2xx once the notification is applied (or was already), 4xx for a forged or
mismatched one (it changes nothing and should not be retried forever), 5xx
when we could not apply it now (WeChat retries later).
"""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from common.resources import Resources
from common.wechat.pay import WeChatPayClient, WeChatPayNotificationError
from subgraphs.payments.service import NotificationRejected, settle_refund, settle_transaction

logger = logging.getLogger(__name__)

PATH = "/wechatpay/notify"


def _answer(status_code: int, message: str) -> JSONResponse:
    code = "SUCCESS" if status_code < 300 else "FAIL"
    return JSONResponse({"code": code, "message": message}, status_code=status_code)


async def wechatpay_notify(request: Request) -> JSONResponse:
    resources: Resources = request.app.state.resources
    wechat = resources.component(WeChatPayClient)
    body = await request.body()
    try:
        notification = wechat.parse_notification(request.headers, body)
    except WeChatPayNotificationError as error:
        logger.warning("refused a WeChat Pay notification: %s", error.reason)
        return _answer(401, "signature verification failed")
    try:
        if notification.transaction is not None:
            await settle_transaction(resources.db, resources.settings, notification.transaction)
        elif notification.refund is not None:
            await settle_refund(resources.db, notification.refund)
        else:
            logger.info("ignored WeChat Pay notification %s", notification.event_type)
    except NotificationRejected as error:
        logger.warning("refused a WeChat Pay notification: %s", error)
        return _answer(400, "notification does not match the payment")
    except Exception:
        logger.exception("could not apply a WeChat Pay notification; WeChat will retry")
        return _answer(500, "temporarily unable to process")
    return _answer(200, "OK")


routes = [Route(PATH, wechatpay_notify, methods=["POST"])]
