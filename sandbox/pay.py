"""WeChat Pay v3, both sides: WeChat Pay's API (JSAPI prepay, query, close, refund) and the
payer's phone (`POST /sandbox/pay`), with WeChat's real cryptography.

Requests must carry a valid merchant signature (WECHATPAY2-SHA256-RSA2048 over
method, path, timestamp, nonce and body); every answer is signed with the
platform key like WeChat signs it; notifications carry an AES-256-GCM
encrypted resource and are retried on non-2xx like WeChat retries them. The
crypto is written here independently of `common.wechat.pay` (which goes
through the SDK), so the client is tested against WeChat's format, not
against itself.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import re
import secrets
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from sandbox.keys import SandboxKeys
from sandbox.state import SandboxState, state_of

logger = logging.getLogger(__name__)

SIGNATURE_TYPE = "WECHATPAY2-SHA256-RSA2048"
# WeChat refuses requests signed more than five minutes away from its clock.
REQUEST_TOLERANCE_SECONDS = 300
# WeChat retries a notification over hours (15 s, 15 s, 30 s, 3 min …); the sandbox, faster.
NOTIFY_FIRST_RETRY_SECONDS = 0.5
NOTIFY_ATTEMPTS = 8
# A refund stays PROCESSING this long before it succeeds.
REFUND_SECONDS = 0.2
CHINA = timezone(timedelta(hours=8))
_AUTH_FIELD = re.compile(r'(\w+)="([^"]*)"')


@dataclass
class SandboxTransaction:
    out_trade_no: str
    prepay_id: str
    appid: str
    mchid: str
    description: str
    total: int
    payer_openid: str
    notify_url: str
    expires_at: datetime | None
    trade_state: str = "NOTPAY"
    transaction_id: str | None = None
    success_time: datetime | None = None

    def body(self) -> dict[str, Any]:
        """The transaction as WeChat's query and notification report it."""
        descriptions = {
            "NOTPAY": "订单未支付",
            "SUCCESS": "支付成功",
            "CLOSED": "订单已关闭",
            "REFUND": "转入退款",
        }
        data: dict[str, Any] = {
            "appid": self.appid,
            "mchid": self.mchid,
            "out_trade_no": self.out_trade_no,
            "trade_type": "JSAPI",
            "trade_state": self.trade_state,
            "trade_state_desc": descriptions.get(self.trade_state, self.trade_state),
            "payer": {"openid": self.payer_openid},
            "amount": {"total": self.total, "currency": "CNY"},
        }
        if self.transaction_id:
            data["transaction_id"] = self.transaction_id
            data["bank_type"] = "OTHERS"
            data["amount"].update(payer_total=self.total, payer_currency="CNY")
        if self.success_time:
            data["success_time"] = _rfc3339(self.success_time)
        return data


@dataclass
class SandboxRefund:
    out_refund_no: str
    refund_id: str
    transaction: SandboxTransaction
    amount: int
    reason: str
    notify_url: str
    status: str = "PROCESSING"
    created: datetime = field(default_factory=lambda: datetime.now(UTC))
    success_time: datetime | None = None

    def body(self) -> dict[str, Any]:
        return {
            "refund_id": self.refund_id,
            "out_refund_no": self.out_refund_no,
            "transaction_id": self.transaction.transaction_id,
            "out_trade_no": self.transaction.out_trade_no,
            "channel": "ORIGINAL",
            "user_received_account": "支付用户零钱",
            "create_time": _rfc3339(self.created),
            "success_time": _rfc3339(self.success_time) if self.success_time else None,
            "status": self.status,
            "amount": {
                "total": self.transaction.total,
                "refund": self.amount,
                "payer_total": self.transaction.total,
                "payer_refund": self.amount,
                "currency": "CNY",
            },
        }


@dataclass(frozen=True)
class Delivery:
    """One attempt to deliver a notification, kept for tests and for a curious developer."""

    event_type: str
    url: str
    status: int | None  # None: the URL could not be reached


@dataclass
class PayState:
    """What WeChat Pay remembers: transactions, refunds, notification attempts."""

    keys: SandboxKeys
    transactions: dict[str, SandboxTransaction] = field(default_factory=dict)
    by_prepay_id: dict[str, SandboxTransaction] = field(default_factory=dict)
    refunds: dict[str, SandboxRefund] = field(default_factory=dict)
    deliveries: list[Delivery] = field(default_factory=list)
    background: set[asyncio.Task[None]] = field(default_factory=set)

    def spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self.background.add(task)
        task.add_done_callback(self.background.discard)


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(CHINA).isoformat(timespec="seconds")


def _sign(private_key: rsa.RSAPrivateKey, message: str) -> str:
    signature = private_key.sign(message.encode(), padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(signature).decode()


def signed_headers(
    private_key: rsa.RSAPrivateKey, public_key_id: str, body: str, timestamp: int | None = None
) -> dict[str, str]:
    """WeChat's response/notification signature headers over `body`."""
    stamp = str(timestamp if timestamp is not None else int(time.time()))
    nonce = secrets.token_hex(16)
    return {
        "Wechatpay-Timestamp": stamp,
        "Wechatpay-Nonce": nonce,
        "Wechatpay-Signature": _sign(private_key, f"{stamp}\n{nonce}\n{body}\n"),
        "Wechatpay-Serial": public_key_id,
        "Wechatpay-Signature-Type": SIGNATURE_TYPE,
    }


def signed_notification(
    *,
    private_key: rsa.RSAPrivateKey,
    public_key_id: str,
    apiv3_key: str,
    event_type: str,
    resource: dict[str, Any],
    original_type: str,
    timestamp: int | None = None,
) -> tuple[dict[str, str], bytes]:
    """A notification as WeChat sends it: (headers, body), the resource AES-256-GCM sealed."""
    nonce = secrets.token_hex(6)  # 12 characters, used as the 12-byte GCM nonce
    ciphertext = AESGCM(apiv3_key.encode()).encrypt(
        nonce.encode(), json.dumps(resource, ensure_ascii=False).encode(), original_type.encode()
    )
    envelope = {
        "id": secrets.token_hex(18),
        "create_time": _rfc3339(datetime.now(UTC)),
        "resource_type": "encrypt-resource",
        "event_type": event_type,
        "summary": "支付成功" if event_type == "TRANSACTION.SUCCESS" else "退款成功",
        "resource": {
            "original_type": original_type,
            "algorithm": "AEAD_AES_256_GCM",
            "ciphertext": base64.b64encode(ciphertext).decode(),
            "associated_data": original_type,
            "nonce": nonce,
        },
    }
    body = json.dumps(envelope, ensure_ascii=False)
    headers = signed_headers(private_key, public_key_id, body, timestamp)
    headers["Content-Type"] = "application/json"
    return headers, body.encode()


def pay_state(request: Request) -> PayState:
    return state_of(request).pay


def _answer(request: Request, status: int, data: dict[str, Any] | None = None) -> Response:
    """A response signed with the platform key (WeChat signs errors too)."""
    state = state_of(request)
    body = json.dumps(data, ensure_ascii=False) if data is not None else ""
    headers = signed_headers(
        state.pay.keys.platform_private_key, state.settings.wechat_pay_public_key_id, body
    )
    return Response(body, status_code=status, headers=headers, media_type="application/json")


def _error(request: Request, status: int, code: str, message: str) -> Response:
    return _answer(request, status, {"code": code, "message": message})


async def _verified_body(request: Request) -> tuple[str, Response | None]:
    """The request body if the merchant's signature holds; else the refusal to send."""
    body = (await request.body()).decode()
    authorization = request.headers.get("authorization", "")
    scheme, _, rest = authorization.partition(" ")
    fields = dict(_AUTH_FIELD.findall(rest))
    settings = state_of(request).settings
    if scheme != SIGNATURE_TYPE or not {"mchid", "nonce_str", "signature", "timestamp"} <= set(
        fields
    ):
        return body, _error(
            request, 401, "SIGN_ERROR", "签名错误: missing or malformed Authorization"
        )
    if fields["mchid"] != settings.wechat_pay_mchid:
        return body, _error(request, 401, "SIGN_ERROR", "签名错误: unknown mchid")
    if not fields["timestamp"].isdigit() or (
        abs(time.time() - int(fields["timestamp"])) > REQUEST_TOLERANCE_SECONDS
    ):
        return body, _error(request, 401, "SIGN_ERROR", "签名错误: stale timestamp")
    path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    message = f"{request.method}\n{path}\n{fields['timestamp']}\n{fields['nonce_str']}\n{body}\n"
    try:
        pay_state(request).keys.merchant_public_key.verify(
            base64.b64decode(fields["signature"]),
            message.encode(),
            padding.PKCS1v15(),
            hashes.SHA256(),
        )
    except (InvalidSignature, ValueError):
        return body, _error(request, 401, "SIGN_ERROR", "签名错误: signature does not verify")
    return body, None


def _json_object(body: str) -> dict[str, Any] | None:
    try:
        data = json.loads(body) if body else {}
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _expire(transaction: SandboxTransaction) -> None:
    """An unpaid transaction past its time_expire is closed, as WeChat closes it."""
    if (
        transaction.trade_state == "NOTPAY"
        and transaction.expires_at is not None
        and datetime.now(UTC) > transaction.expires_at
    ):
        transaction.trade_state = "CLOSED"


async def jsapi_prepay(request: Request) -> Response:
    body, refusal = await _verified_body(request)
    if refusal:
        return refusal
    data = _json_object(body)
    settings = state_of(request).settings
    state = pay_state(request)
    if data is None:
        return _error(request, 400, "PARAM_ERROR", "body must be a JSON object")
    amount = data.get("amount") or {}
    payer = data.get("payer") or {}
    total = amount.get("total")
    out_trade_no = data.get("out_trade_no")
    problems = [
        ("appid", data.get("appid") == settings.pay_appid),
        ("mchid", data.get("mchid") == settings.wechat_pay_mchid),
        ("out_trade_no", isinstance(out_trade_no, str) and 6 <= len(out_trade_no) <= 32),
        ("description", isinstance(data.get("description"), str) and data["description"]),
        ("amount.total", type(total) is int and total > 0),
        ("payer.openid", isinstance(payer.get("openid"), str) and payer["openid"]),
        ("notify_url", isinstance(data.get("notify_url"), str) and data["notify_url"]),
    ]
    bad = [name for name, ok in problems if not ok]
    if bad:
        return _error(request, 400, "PARAM_ERROR", f"参数错误: {', '.join(bad)}")
    assert isinstance(out_trade_no, str) and isinstance(total, int)
    expires = data.get("time_expire")
    existing = state.transactions.get(out_trade_no)
    if existing is not None:
        _expire(existing)
        if existing.trade_state == "SUCCESS":
            return _error(request, 400, "ORDERPAID", "该订单已支付")
        if existing.trade_state == "CLOSED":
            return _error(request, 400, "ORDER_CLOSED", "该订单已关闭")
        if (existing.total, existing.payer_openid) != (total, payer["openid"]):
            return _error(request, 400, "INVALID_REQUEST", "201 商户订单号重复")
        return _answer(request, 200, {"prepay_id": existing.prepay_id})
    transaction = SandboxTransaction(
        out_trade_no=out_trade_no,
        prepay_id=f"wx{datetime.now(CHINA):%d%H%M%S}{secrets.token_hex(12)}",
        appid=settings.pay_appid,
        mchid=settings.wechat_pay_mchid,
        description=data["description"],
        total=total,
        payer_openid=payer["openid"],
        notify_url=data["notify_url"],
        expires_at=datetime.fromisoformat(expires) if isinstance(expires, str) else None,
    )
    state.transactions[out_trade_no] = transaction
    state.by_prepay_id[transaction.prepay_id] = transaction
    return _answer(request, 200, {"prepay_id": transaction.prepay_id})


def _transaction_or_404(request: Request) -> SandboxTransaction | Response:
    transaction = pay_state(request).transactions.get(request.path_params["out_trade_no"])
    if transaction is None:
        return _error(request, 404, "ORDER_NOT_EXIST", "订单不存在")
    _expire(transaction)
    return transaction


async def query_transaction(request: Request) -> Response:
    _, refusal = await _verified_body(request)
    if refusal:
        return refusal
    if request.query_params.get("mchid") != state_of(request).settings.wechat_pay_mchid:
        return _error(request, 400, "PARAM_ERROR", "mchid does not match")
    found = _transaction_or_404(request)
    return found if isinstance(found, Response) else _answer(request, 200, found.body())


async def close_transaction(request: Request) -> Response:
    _, refusal = await _verified_body(request)
    if refusal:
        return refusal
    found = _transaction_or_404(request)
    if isinstance(found, Response):
        return found
    if found.trade_state in ("SUCCESS", "REFUND"):
        return _error(request, 400, "ORDERPAID", "该订单已支付")
    found.trade_state = "CLOSED"
    return _answer(request, 204)


async def deliver(state: PayState, url: str, headers: dict[str, str], body: bytes) -> bool:
    """POST a notification until it gets a 2xx, backing off between tries."""
    event_type = json.loads(body).get("event_type", "")
    wait = NOTIFY_FIRST_RETRY_SECONDS
    async with httpx.AsyncClient(timeout=5) as http:
        for attempt in range(NOTIFY_ATTEMPTS):
            if attempt:
                await asyncio.sleep(wait)
                wait *= 2
            try:
                response = await http.post(url, headers=headers, content=body)
                status: int | None = response.status_code
            except httpx.HTTPError:
                status = None
            state.deliveries.append(Delivery(event_type=event_type, url=url, status=status))
            if status is not None and 200 <= status < 300:
                return True
    logger.warning("gave up delivering %s to %s", event_type, url)
    return False


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
    sandbox.pay.spawn(_deliver_quietly(sandbox.pay, url, headers, body))


async def _deliver_quietly(state: PayState, url: str, headers: dict[str, str], body: bytes) -> None:
    await deliver(state, url, headers, body)


async def sandbox_pay(request: Request) -> Response:
    """Act as the payer confirming in WeChat: the transaction succeeds, WeChat notifies.

    `{"prepay_id": …, "notify": false}` pays without notifying: a lost notification.
    """
    data = _json_object((await request.body()).decode())
    if data is None or not isinstance(data.get("prepay_id"), str):
        return Response(
            json.dumps({"error": 'the body must be {"prepay_id": "…"}'}),
            status_code=400,
            media_type="application/json",
        )
    transaction = pay_state(request).by_prepay_id.get(data["prepay_id"])
    if transaction is None:
        return _plain_error(404, "unknown prepay_id")
    _expire(transaction)
    if transaction.trade_state != "NOTPAY":
        return _plain_error(409, f"this order cannot be paid: it is {transaction.trade_state}")
    transaction.trade_state = "SUCCESS"
    transaction.transaction_id = f"4200{datetime.now(CHINA):%Y%m%d}{secrets.randbelow(10**10):010d}"
    transaction.success_time = datetime.now(UTC).replace(microsecond=0)
    if data.get("notify", True) is not False:
        _notify(
            state_of(request),
            transaction.notify_url,
            "TRANSACTION.SUCCESS",
            transaction.body(),
            "transaction",
        )
    return Response(
        json.dumps(
            {
                "out_trade_no": transaction.out_trade_no,
                "transaction_id": transaction.transaction_id,
                "trade_state": transaction.trade_state,
            }
        ),
        media_type="application/json",
    )


def _plain_error(status: int, message: str) -> Response:
    return Response(
        json.dumps({"error": message}), status_code=status, media_type="application/json"
    )


async def create_refund(request: Request) -> Response:
    body, refusal = await _verified_body(request)
    if refusal:
        return refusal
    data = _json_object(body)
    state = pay_state(request)
    if data is None or not isinstance(data.get("out_refund_no"), str):
        return _error(request, 400, "PARAM_ERROR", "out_refund_no is required")
    existing = state.refunds.get(data["out_refund_no"])
    if existing is not None:  # WeChat deduplicates by out_refund_no
        return _answer(request, 200, existing.body())
    transaction = state.transactions.get(str(data.get("out_trade_no", "")))
    if transaction is None:
        return _error(request, 404, "RESOURCE_NOT_EXISTS", "订单不存在")
    amount = data.get("amount") or {}
    if transaction.trade_state != "SUCCESS":
        return _error(request, 403, "NOT_ENOUGH", "订单未支付或已全额退款")
    if amount.get("total") != transaction.total or not (
        type(amount.get("refund")) is int and 0 < amount["refund"] <= transaction.total
    ):
        return _error(request, 400, "PARAM_ERROR", "amount does not match the transaction")
    refund = SandboxRefund(
        out_refund_no=data["out_refund_no"],
        refund_id=f"5030{secrets.randbelow(10**20):020d}",
        transaction=transaction,
        amount=amount["refund"],
        reason=str(data.get("reason", "")),
        notify_url=str(data.get("notify_url") or transaction.notify_url),
    )
    state.refunds[refund.out_refund_no] = refund
    state.spawn(_complete_refund(state_of(request), refund))
    return _answer(request, 200, refund.body())


async def _complete_refund(sandbox: SandboxState, refund: SandboxRefund) -> None:
    await asyncio.sleep(REFUND_SECONDS)
    refund.status = "SUCCESS"
    refund.success_time = datetime.now(UTC).replace(microsecond=0)
    refund.transaction.trade_state = "REFUND"
    resource = {
        "mchid": refund.transaction.mchid,
        "out_trade_no": refund.transaction.out_trade_no,
        "transaction_id": refund.transaction.transaction_id,
        "out_refund_no": refund.out_refund_no,
        "refund_id": refund.refund_id,
        "refund_status": "SUCCESS",
        "success_time": _rfc3339(refund.success_time),
        "user_received_account": "支付用户零钱",
        "amount": refund.body()["amount"],
    }
    _notify(sandbox, refund.notify_url, "REFUND.SUCCESS", resource, "refund")


async def query_refund(request: Request) -> Response:
    _, refusal = await _verified_body(request)
    if refusal:
        return refusal
    refund = pay_state(request).refunds.get(request.path_params["out_refund_no"])
    if refund is None:
        return _error(request, 404, "RESOURCE_NOT_EXISTS", "退款单不存在")
    return _answer(request, 200, refund.body())


async def deliveries(request: Request) -> Response:
    """Every notification attempt so far (newest last), for tests and developers."""
    attempts = [d.__dict__ for d in pay_state(request).deliveries]
    return Response(json.dumps({"deliveries": attempts}), media_type="application/json")


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
]
