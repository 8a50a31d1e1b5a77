"""WeChat Pay v3 for development and tests: WeChat Pay's API as the wechatpayv3 SDK calls
it, and the payer's phone (`POST /sandbox/pay`).

So that the whole pay flow runs locally with WeChat's real cryptography: every
merchant request must carry a valid merchant signature (401 SIGN_ERROR
otherwise), every answer is signed with the platform key, and payment and
refund notifications are AES-256-GCM sealed, signed and retried until the
merchant answers 2xx (`sandbox.pay_crypto`, `.pay_notify`, `.pay_records`). Like
the rest of the sandbox it refuses to run with production settings.

API: POST /v3/pay/transactions/jsapi, GET /v3/pay/transactions/out-trade-no/{no}?mchid=,
POST …/{no}/close, POST /v3/refund/domestic/refunds, GET …/refunds/{out_refund_no}.
Sandbox only: POST /sandbox/pay {"prepay_id", "notify": true} pays as the user
(`"notify": false` loses the notification); POST /sandbox/pay/refund-notifications
{"out_trade_no", "notify": false} loses that order's refund notifications; GET
/sandbox/pay/deliveries lists notification attempts (`?out_trade_no=` to filter);
POST /sandbox/pay/outage {"down": true} makes the merchant API answer 500
SYSTEM_ERROR (WeChat's "busy") until {"down": false}, and GET /sandbox/pay/outage
lists the calls it refused.
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from sandbox.pay_crypto import (
    authorization_problem,
    signed_headers,
    signed_notification,
)
from sandbox.pay_records import PayState, SandboxRefund, SandboxTransaction
from sandbox.state import SandboxState, state_of

__all__ = ["PayState", "routes", "signed_notification"]

# A refund stays PROCESSING this long before it succeeds and is notified.
REFUND_SECONDS = 0.2
# WeChat's openids are 28 characters of this alphabet; the sandbox accepts 1 to 64.
_OPENID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_OUT_NO = re.compile(r"[A-Za-z0-9_*|-]{6,32}")
_OUT_REFUND_NO = re.compile(r"[A-Za-z0-9_*|@-]{1,64}")


# --- answers ---------------------------------------------------------------------------


def _answer(request: Request, status: int, data: dict[str, Any] | None = None) -> Response:
    """An answer signed with the platform key, as WeChat signs its answers."""
    sandbox = state_of(request)
    body = json.dumps(data, ensure_ascii=False) if data is not None else ""
    headers = signed_headers(
        sandbox.pay.keys.platform_private_key, sandbox.settings.wechat_pay_public_key_id, body
    )
    return Response(body, status_code=status, headers=headers, media_type="application/json")


def _error(request: Request, status: int, code: str, message: str) -> Response:
    """WeChat's error shape: {"code", "message"} with the HTTP status WeChat uses."""
    return _answer(request, status, {"code": code, "message": message})


def _phone_error(status: int, message: str) -> JSONResponse:
    """An error of the sandbox-only endpoints (not WeChat's API, so not WeChat's shape)."""
    return JSONResponse({"error": message}, status_code=status)


async def _authenticated(request: Request) -> tuple[str, Response | None]:
    """The request body, and the 401 SIGN_ERROR to answer if the merchant's signature
    does not hold (or the 500 SYSTEM_ERROR of an outage)."""
    body = (await request.body()).decode()
    sandbox = state_of(request)
    if sandbox.pay.outage:
        sandbox.pay.refused.append(f"{request.method} {request.url.path}")
        return body, _error(request, 500, "SYSTEM_ERROR", "系统繁忙，请稍后重试")
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    problem = authorization_problem(
        authorization=request.headers.get("authorization", ""),
        method=request.method,
        path=target,
        body=body,
        public_key=sandbox.pay.keys.merchant_public_key,
        mchid=sandbox.settings.wechat_pay_mchid,
        serial_no=sandbox.settings.wechat_pay_cert_serial_no,
    )
    if problem is not None:
        return body, _error(request, 401, "SIGN_ERROR", f"签名错误: {problem}")
    return body, None


def _json_object(body: str) -> dict[str, Any] | None:
    try:
        data = json.loads(body) if body else {}
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


async def _authenticated_json(request: Request) -> dict[str, Any] | Response:
    """The signed request's JSON object body, or the refusal to answer with."""
    body, refusal = await _authenticated(request)
    if refusal is not None:
        return refusal
    data = _json_object(body)
    if data is None:
        return _error(request, 400, "PARAM_ERROR", "请求体必须是 JSON 对象")
    return data


def _rfc3339_time(value: Any) -> datetime | None:
    """A time_expire with an offset, or None if it is not one."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


# --- the merchant API ------------------------------------------------------------------


def _prepay_problems(data: dict[str, Any]) -> list[str]:
    amount = data.get("amount")
    payer = data.get("payer")
    amount = amount if isinstance(amount, dict) else {}
    payer = payer if isinstance(payer, dict) else {}
    total, openid, description = amount.get("total"), payer.get("openid"), data.get("description")
    notify_url = data.get("notify_url")
    checks = {
        "out_trade_no": isinstance(data.get("out_trade_no"), str)
        and _OUT_NO.fullmatch(data["out_trade_no"]) is not None,
        "description": isinstance(description, str) and 0 < len(description) <= 127,
        "amount.total": type(total) is int and total > 0,
        "amount.currency": amount.get("currency", "CNY") == "CNY",
        "payer.openid": isinstance(openid, str) and _OPENID.fullmatch(openid) is not None,
        "notify_url": isinstance(notify_url, str)
        and notify_url.startswith(("http://", "https://")),
        "time_expire": "time_expire" not in data or _rfc3339_time(data["time_expire"]) is not None,
    }
    return [name for name, ok in checks.items() if not ok]


async def jsapi_prepay(request: Request) -> Response:
    data = await _authenticated_json(request)
    if isinstance(data, Response):
        return data
    sandbox = state_of(request)
    settings, state = sandbox.settings, sandbox.pay
    if data.get("mchid") != settings.wechat_pay_mchid or data.get("appid") != settings.pay_appid:
        return _error(request, 400, "INVALID_REQUEST", "appid和mch_id不匹配")
    problems = _prepay_problems(data)
    if problems:
        return _error(request, 400, "PARAM_ERROR", f"参数错误: {', '.join(problems)}")
    out_trade_no: str = data["out_trade_no"]
    description: str = data["description"]
    total: int = data["amount"]["total"]
    openid: str = data["payer"]["openid"]
    existing = state.transactions.get(out_trade_no)
    if existing is not None:
        existing.settle_expiry()
        if existing.trade_state in ("SUCCESS", "REFUND"):
            return _error(request, 400, "ORDERPAID", "该订单已支付")
        if existing.trade_state == "CLOSED":
            return _error(request, 400, "ORDER_CLOSED", "该订单已关闭")
        if (existing.description, existing.total, existing.payer_openid) != (
            description,
            total,
            openid,
        ):
            return _error(request, 400, "INVALID_REQUEST", "201 商户订单号重复")
        # The same request again (a retry): the same prepay_id, as WeChat answers.
        return _answer(request, 200, {"prepay_id": existing.prepay_id})
    transaction = SandboxTransaction(
        out_trade_no=out_trade_no,
        prepay_id=f"wx{datetime.now(UTC):%d%H%M%S}{secrets.token_hex(12)}",
        appid=settings.pay_appid,
        mchid=settings.wechat_pay_mchid,
        description=description,
        total=total,
        payer_openid=openid,
        notify_url=data["notify_url"],
        expires_at=_rfc3339_time(data.get("time_expire")),
    )
    state.transactions[out_trade_no] = transaction
    state.by_prepay_id[transaction.prepay_id] = transaction
    return _answer(request, 200, {"prepay_id": transaction.prepay_id})


def _transaction_of(request: Request) -> SandboxTransaction | Response:
    transaction = state_of(request).pay.transactions.get(request.path_params["out_trade_no"])
    if transaction is None:
        return _error(request, 404, "ORDER_NOT_EXIST", "订单不存在")
    transaction.settle_expiry()
    return transaction


async def query_transaction(request: Request) -> Response:
    _, refusal = await _authenticated(request)
    if refusal is not None:
        return refusal
    if request.query_params.get("mchid") != state_of(request).settings.wechat_pay_mchid:
        return _error(request, 400, "PARAM_ERROR", "参数错误: mchid")
    found = _transaction_of(request)
    return found if isinstance(found, Response) else _answer(request, 200, found.body())


async def close_transaction(request: Request) -> Response:
    data = await _authenticated_json(request)
    if isinstance(data, Response):
        return data
    if data.get("mchid") != state_of(request).settings.wechat_pay_mchid:
        return _error(request, 400, "PARAM_ERROR", "参数错误: mchid")
    found = _transaction_of(request)
    if isinstance(found, Response):
        return found
    if found.trade_state in ("SUCCESS", "REFUND"):
        return _error(request, 400, "ORDERPAID", "订单已支付")
    found.trade_state = "CLOSED"  # closing a closed order again is fine
    return _answer(request, 204)


def _refund_problems(data: dict[str, Any]) -> list[str]:
    amount = data.get("amount")
    amount = amount if isinstance(amount, dict) else {}
    out_refund_no = data.get("out_refund_no")
    checks = {
        "out_refund_no": isinstance(out_refund_no, str)
        and _OUT_REFUND_NO.fullmatch(out_refund_no) is not None,
        "out_trade_no": isinstance(data.get("out_trade_no"), str),
        "amount.refund": type(amount.get("refund")) is int and amount["refund"] > 0,
        "amount.total": type(amount.get("total")) is int and amount["total"] > 0,
        "amount.currency": amount.get("currency") == "CNY",
        "notify_url": "notify_url" not in data
        or (isinstance(data["notify_url"], str) and data["notify_url"].startswith("http")),
    }
    return [name for name, ok in checks.items() if not ok]


async def create_refund(request: Request) -> Response:
    data = await _authenticated_json(request)
    if isinstance(data, Response):
        return data
    problems = _refund_problems(data)
    if problems:
        return _error(request, 400, "PARAM_ERROR", f"参数错误: {', '.join(problems)}")
    sandbox = state_of(request)
    state = sandbox.pay
    existing = state.refunds.get(data["out_refund_no"])
    if existing is not None:  # WeChat deduplicates by out_refund_no
        if existing.transaction.out_trade_no != data["out_trade_no"]:
            return _error(request, 400, "INVALID_REQUEST", "商户退款单号重复")
        return _answer(request, 200, existing.body())
    transaction = state.transactions.get(data["out_trade_no"])
    if transaction is None:
        return _error(request, 404, "RESOURCE_NOT_EXISTS", "订单不存在")
    amount = data["amount"]
    if transaction.trade_state not in ("SUCCESS", "REFUND"):
        return _error(request, 400, "INVALID_REQUEST", "订单未支付，不能退款")
    if amount["total"] != transaction.total:
        return _error(request, 400, "PARAM_ERROR", "订单金额与原订单金额不一致")
    if transaction.refunded + amount["refund"] > transaction.total:
        return _error(request, 400, "INVALID_REQUEST", "申请退款金额超过订单可退金额")
    refund = SandboxRefund(
        out_refund_no=data["out_refund_no"],
        refund_id=f"50{secrets.randbelow(10**27):027d}",
        transaction=transaction,
        amount=amount["refund"],
        reason=str(data.get("reason", "")),
        notify_url=str(data.get("notify_url") or transaction.notify_url),
    )
    transaction.refunded += refund.amount
    transaction.trade_state = "REFUND"
    state.refunds[refund.out_refund_no] = refund
    state.notifier.spawn(_complete_refund(sandbox, refund))
    return _answer(request, 200, refund.body())


async def _complete_refund(sandbox: SandboxState, refund: SandboxRefund) -> None:
    """PROCESSING → SUCCESS, or the state's `refund_outcome` (CLOSED, ABNORMAL): then the
    money stays with the merchant and WeChat notifies REFUND.CLOSED / REFUND.ABNORMAL."""
    await asyncio.sleep(REFUND_SECONDS)
    outcome = sandbox.pay.refund_outcome
    refund.status = outcome
    if outcome == "SUCCESS":
        refund.success_time = datetime.now(UTC).replace(microsecond=0)
    else:
        refund.transaction.refunded -= refund.amount
    if refund.transaction.notify_refunds:
        _notify(sandbox, refund.notify_url, f"REFUND.{outcome}", refund.notification(), "refund")


async def query_refund(request: Request) -> Response:
    _, refusal = await _authenticated(request)
    if refusal is not None:
        return refusal
    refund = state_of(request).pay.refunds.get(request.path_params["out_refund_no"])
    if refund is None:
        return _error(request, 404, "RESOURCE_NOT_EXISTS", "退款单不存在")
    return _answer(request, 200, refund.body())


def _notify(
    sandbox: SandboxState, url: str, event_type: str, resource: dict[str, Any], kind: str
) -> None:
    """Seal, sign and deliver a notification in the background, as WeChat does."""
    settings = sandbox.settings
    headers, body = signed_notification(
        private_key=sandbox.pay.keys.platform_private_key,
        public_key_id=settings.wechat_pay_public_key_id,
        apiv3_key=settings.wechat_pay_apiv3_key,
        event_type=event_type,
        resource=resource,
        original_type=kind,
    )
    sandbox.pay.notifier.send(url, headers, body, out_trade_no=resource.get("out_trade_no"))


# --- the payer's phone -----------------------------------------------------------------


async def sandbox_pay(request: Request) -> Response:
    """Pay as the user confirming in WeChat: the order succeeds at once and WeChat
    notifies the merchant in the background (unless `"notify": false`)."""
    data = _json_object((await request.body()).decode())
    if data is not None and "prepay_id" not in data and isinstance(data.get("package"), str):
        # What wx.requestPayment takes, as wxPayHomestayOrder returns it: copy it verbatim.
        data["prepay_id"] = data["package"].removeprefix("prepay_id=")
    if data is None or not isinstance(data.get("prepay_id"), str):
        return _phone_error(
            400,
            'the body must be {"prepay_id": "…"} or {"package": "prepay_id=…"},'
            ' with "notify": true|false',
        )
    notify = data.get("notify", True)
    if not isinstance(notify, bool):
        return _phone_error(400, "notify must be true or false")
    sandbox = state_of(request)
    transaction = sandbox.pay.by_prepay_id.get(data["prepay_id"])
    if transaction is None:
        return _phone_error(404, "unknown prepay_id: no such WeChat Pay order")
    transaction.settle_expiry()
    if transaction.trade_state != "NOTPAY":
        return _phone_error(
            409, f"this order cannot be paid: its trade_state is {transaction.trade_state}"
        )
    now = datetime.now(UTC).replace(microsecond=0)
    transaction.trade_state = "SUCCESS"
    transaction.transaction_id = f"4200{now:%Y%m%d}{secrets.randbelow(10**16):016d}"
    transaction.success_time = now
    if notify:
        _notify(
            sandbox,
            transaction.notify_url,
            "TRANSACTION.SUCCESS",
            transaction.body(),
            "transaction",
        )
    return JSONResponse(
        {
            "out_trade_no": transaction.out_trade_no,
            "transaction_id": transaction.transaction_id,
            "trade_state": transaction.trade_state,
        }
    )


async def refund_notifications(request: Request) -> Response:
    """POST {"out_trade_no", "notify": false} loses the REFUND.* notifications of that
    order's refunds from now on (true delivers them again), as a lost callback would."""
    data = _json_object((await request.body()).decode())
    if (
        data is None
        or not isinstance(data.get("out_trade_no"), str)
        or not isinstance(data.get("notify"), bool)
    ):
        return _phone_error(400, 'the body must be {"out_trade_no": "…", "notify": true|false}')
    transaction = state_of(request).pay.transactions.get(data["out_trade_no"])
    if transaction is None:
        return _phone_error(404, "unknown out_trade_no: no such WeChat Pay order")
    transaction.notify_refunds = data["notify"]
    return JSONResponse({"out_trade_no": transaction.out_trade_no, "notify": data["notify"]})


async def deliveries(request: Request) -> JSONResponse:
    """Every notification attempt so far, oldest first (`?out_trade_no=` to filter)."""
    wanted = request.query_params.get("out_trade_no")
    attempts = [
        d.as_json()
        for d in state_of(request).pay.deliveries
        if wanted is None or d.out_trade_no == wanted
    ]
    return JSONResponse({"deliveries": attempts})


async def outage(request: Request) -> Response:
    """POST {"down": bool} starts or ends an outage of the merchant API; GET shows it."""
    state = state_of(request).pay
    if request.method == "POST":
        data = _json_object((await request.body()).decode())
        if data is None or not isinstance(data.get("down"), bool):
            return _phone_error(400, 'the body must be {"down": true|false}')
        state.outage = data["down"]
    return JSONResponse({"down": state.outage, "refused": state.refused})


routes: list[BaseRoute] = [
    Route("/v3/pay/transactions/jsapi", jsapi_prepay, methods=["POST"]),
    Route("/v3/pay/transactions/out-trade-no/{out_trade_no}", query_transaction, methods=["GET"]),
    Route(
        "/v3/pay/transactions/out-trade-no/{out_trade_no}/close",
        close_transaction,
        methods=["POST"],
    ),
    Route("/v3/refund/domestic/refunds", create_refund, methods=["POST"]),
    Route("/v3/refund/domestic/refunds/{out_refund_no}", query_refund, methods=["GET"]),
    Route("/sandbox/pay", sandbox_pay, methods=["POST"]),
    Route("/sandbox/pay/deliveries", deliveries, methods=["GET"]),
    Route("/sandbox/pay/refund-notifications", refund_notifications, methods=["POST"]),
    Route("/sandbox/pay/outage", outage, methods=["GET", "POST"]),
]
