"""WeChat Pay v3 for the mini-program (JSAPI), through the wechatpayv3 SDK.

The SDK signs every request with the merchant key and verifies the signature of
every 2xx response and of notifications with WeChat Pay's public key
(public-key mode: no certificate download at start). This module gives it typed
inputs and outputs, maps its failures to two exceptions, points it at the
configured gateway (the bundled sandbox by default) and adds the check the SDK
leaves out: a notification's timestamp must be recent, or it is a replay.

Like WeChat's own SDKs, the SDK does not verify error (non-2xx) responses:
WeChat leaves some of them (401 SIGN_ERROR) unsigned.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from wechatpayv3.async_ import AsyncWeChatPay, WeChatPayType  # type: ignore[import-untyped]

from common.settings import Settings
from common.telemetry import instrument_httpx_client

# WeChat's codes this client turns into answers rather than errors.
ORDER_NOT_EXIST = "ORDER_NOT_EXIST"  # query: no such out_trade_no
RESOURCE_NOT_EXISTS = "RESOURCE_NOT_EXISTS"  # refund query: no such out_refund_no
ORDER_CLOSED = "ORDER_CLOSED"  # close: already closed
ORDERPAID = "ORDERPAID"  # close: paid, cannot be closed


@dataclass(frozen=True)
class JsapiParams:
    """What `wx.requestPayment` takes (timeStamp, nonceStr, package, signType, paySign)."""

    app_id: str
    time_stamp: str
    nonce_str: str
    package: str
    sign_type: str
    pay_sign: str


@dataclass(frozen=True)
class Transaction:
    """A payment as WeChat reports it (query answer or notification resource)."""

    out_trade_no: str
    transaction_id: str | None
    trade_state: str  # SUCCESS, NOTPAY, CLOSED, REFUND, USERPAYING, PAYERROR, REVOKED
    trade_state_desc: str
    amount_total: int | None
    mchid: str
    appid: str
    payer_openid: str | None
    success_time: datetime | None  # aware, UTC

    @classmethod
    def of(cls, data: Mapping[str, Any]) -> Transaction:
        """Raises KeyError/ValueError/TypeError on a malformed body."""
        amount = data.get("amount") or {}
        payer = data.get("payer") or {}
        total = amount.get("total")
        openid = payer.get("openid")
        return cls(
            out_trade_no=str(data["out_trade_no"]),
            transaction_id=str(data["transaction_id"]) if data.get("transaction_id") else None,
            trade_state=str(data["trade_state"]),
            trade_state_desc=str(data.get("trade_state_desc", "")),
            amount_total=int(total) if total is not None else None,
            mchid=str(data.get("mchid", "")),
            appid=str(data.get("appid", "")),
            payer_openid=str(openid) if openid else None,
            success_time=_utc(data.get("success_time")),
        )


@dataclass(frozen=True)
class Refund:
    """A refund as WeChat reports it (refund answer, refund query or notification)."""

    out_refund_no: str
    out_trade_no: str
    refund_id: str | None
    status: str  # SUCCESS, PROCESSING, CLOSED, ABNORMAL
    amount_refund: int | None = None  # fen

    @classmethod
    def of(cls, data: Mapping[str, Any]) -> Refund:
        """Raises KeyError/ValueError on a malformed body."""
        # Answers and queries say `status`, notifications `refund_status`.
        status = data.get("status") or data.get("refund_status")
        if not status:
            raise KeyError("status")
        amount = data.get("amount") or {}
        refunded = amount.get("refund") if isinstance(amount, Mapping) else None
        return cls(
            out_refund_no=str(data["out_refund_no"]),
            out_trade_no=str(data.get("out_trade_no", "")),
            refund_id=str(data["refund_id"]) if data.get("refund_id") else None,
            status=str(status),
            amount_refund=int(refunded) if refunded is not None else None,
        )


@dataclass(frozen=True)
class Notification:
    """A verified, decrypted notification: a transaction's or a refund's (or neither,
    for event types this project does not handle)."""

    event_type: str
    transaction: Transaction | None
    refund: Refund | None


class WeChatPayError(Exception):
    """WeChat Pay could not be reached, gave an unverifiable answer, or refused the call.

    `status` is the HTTP status (None when there was no usable answer), `code`
    WeChat's error code (e.g. ORDERPAID, SIGN_ERROR), `message` for logs.
    """

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code


class WeChatPayNotificationError(Exception):
    """A notification that is not provably from WeChat Pay, not fresh, or not readable."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _utc(value: Any) -> datetime | None:
    """WeChat's RFC 3339 times (+08:00) as aware UTC datetimes."""
    if not value:
        return None
    moment = datetime.fromisoformat(str(value))
    if moment.tzinfo is None:
        raise ValueError(f"time without an offset: {value}")
    return moment.astimezone(UTC)


def _rfc3339(moment: datetime) -> str:
    """`time_expire` as WeChat wants it; a naive datetime is taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def _read_key(path: Path, what: str) -> str:
    try:
        return path.read_text()
    except OSError as error:
        raise RuntimeError(
            f"WeChat Pay {what} not readable at {path} ({error.strerror}); set its path in "
            "the WECHAT_PAY_* settings (the sandbox writes its keys on its first start)"
        ) from error


def _json(body: Any) -> dict[str, Any]:
    """The SDK hands back text for JSON answers and bytes otherwise; {} if not an object."""
    if isinstance(body, bytes):
        body = body.decode(errors="replace")
    if not body:
        return {}
    try:
        data = json.loads(body)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _refused(operation: str, status: int, body: Any) -> WeChatPayError:
    data = _json(body)
    code = data.get("code")
    message = data.get("message", "")
    return WeChatPayError(
        f"{operation}: HTTP {status} {code or ''} {message}".rstrip(),
        status=status,
        code=str(code) if code else None,
    )


class WeChatPayClient:
    """One merchant's WeChat Pay client; made once per process (keys are read here,
    not on the request path)."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        private_key_path, public_key_path = (
            settings.pay_private_key_path,
            settings.pay_public_key_path,
        )
        private_key = _read_key(private_key_path, "merchant private key")
        public_key = _read_key(public_key_path, "platform public key")
        try:
            self._sdk = AsyncWeChatPay(
                wechatpay_type=WeChatPayType.MINIPROG,
                mchid=settings.wechat_pay_mchid,
                private_key=private_key,
                cert_serial_no=settings.wechat_pay_cert_serial_no,
                appid=settings.pay_appid,
                apiv3_key=settings.wechat_pay_apiv3_key,
                notify_url=settings.wechat_pay_notify_url,
                public_key=public_key,
                public_key_id=settings.wechat_pay_public_key_id,
            )
        except Exception as error:  # the SDK raises bare Exception for an unreadable PEM
            raise RuntimeError(
                f"WeChat Pay keys unusable ({error}): "
                f"check {private_key_path} and {public_key_path}"
            ) from error
        core = self._sdk._core
        # The SDK has no base-URL argument; the gateway is this private attribute.
        core._gate_way = settings.pay_api_base.rstrip("/")
        # Public-key mode needs no async setup, so the SDK's own `async with` (which
        # only makes this client) is skipped: bounded timeouts, traced like every call.
        self._http = httpx.AsyncClient(timeout=settings.wechat_timeout_seconds)
        instrument_httpx_client(self._http)
        core._client = self._http

    async def _call(self, operation: str, call: Awaitable[Any]) -> tuple[int, Any]:
        """Run one SDK call; transport failures and unverifiable answers become WeChatPayError."""
        try:
            status, body = await call
        except httpx.TimeoutException as error:
            raise WeChatPayError(f"{operation}: WeChat Pay timed out") from error
        except httpx.HTTPError as error:
            raise WeChatPayError(
                f"{operation}: WeChat Pay unreachable ({type(error).__name__})"
            ) from error
        except Exception as error:
            # The SDK raises bare Exception for a response whose signature does not verify.
            raise WeChatPayError(f"{operation}: {error}") from error
        return int(status), body

    async def jsapi_prepay(
        self,
        *,
        out_trade_no: str,
        description: str,
        amount_fen: int,
        payer_openid: str,
        notify_url: str | None = None,
        expires_at: datetime | None = None,
    ) -> str:
        """WeChat's prepay_id for this payment (the same one again for the same request)."""
        status, body = await self._call(
            "prepay",
            self._sdk.pay(
                description=description,
                out_trade_no=out_trade_no,
                amount={"total": amount_fen, "currency": "CNY"},
                payer={"openid": payer_openid},
                time_expire=_rfc3339(expires_at) if expires_at else None,
                notify_url=notify_url,
                pay_type=WeChatPayType.MINIPROG,
            ),
        )
        prepay_id = _json(body).get("prepay_id")
        if status != 200 or not isinstance(prepay_id, str) or not prepay_id:
            raise _refused("prepay", status, body)
        return prepay_id

    def jsapi_params(self, prepay_id: str) -> JsapiParams:
        """Sign `wx.requestPayment`'s parameters with the merchant key: RSA-SHA256 over
        appId, timeStamp, nonceStr and package, each followed by a newline."""
        app_id = self._settings.pay_appid
        time_stamp = str(int(time.time()))
        nonce_str = secrets.token_hex(16)
        package = f"prepay_id={prepay_id}"
        pay_sign = str(self._sdk.sign([app_id, time_stamp, nonce_str, package]))
        return JsapiParams(
            app_id=app_id,
            time_stamp=time_stamp,
            nonce_str=nonce_str,
            package=package,
            sign_type="RSA",
            pay_sign=pay_sign,
        )

    async def query(self, out_trade_no: str) -> Transaction | None:
        """WeChat's view of a payment; None if WeChat never saw it (ORDER_NOT_EXIST)."""
        status, body = await self._call("query", self._sdk.query(out_trade_no=out_trade_no))
        if status == 404 and _json(body).get("code") == ORDER_NOT_EXIST:
            return None
        if status != 200:
            raise _refused("query", status, body)
        try:
            return Transaction.of(_json(body))
        except (KeyError, TypeError, ValueError) as error:
            raise WeChatPayError(f"query: malformed answer ({error!r})", status=status) from error

    async def close(self, out_trade_no: str) -> None:
        """Close an unpaid WeChat order. An already closed one is fine; a paid one raises
        WeChatPayError with code ORDERPAID."""
        status, body = await self._call("close", self._sdk.close(out_trade_no=out_trade_no))
        if status in (200, 204):
            return
        error = _refused("close", status, body)
        if error.code != ORDER_CLOSED:
            raise error

    async def refund(
        self,
        *,
        out_trade_no: str,
        out_refund_no: str,
        amount_fen: int,
        total_fen: int,
        reason: str,
        notify_url: str | None = None,
    ) -> Refund:
        """Ask for a refund; WeChat deduplicates by out_refund_no, so asking again is safe.

        The answer is usually PROCESSING; the outcome comes as a REFUND.* notification
        (or from `query_refund`)."""
        status, body = await self._call(
            "refund",
            self._sdk.refund(
                out_refund_no=out_refund_no,
                amount={"refund": amount_fen, "total": total_fen, "currency": "CNY"},
                out_trade_no=out_trade_no,
                reason=reason or None,
                notify_url=notify_url,
            ),
        )
        if status != 200:
            raise _refused("refund", status, body)
        try:
            return Refund.of(_json(body))
        except (KeyError, ValueError) as error:
            raise WeChatPayError(f"refund: malformed answer ({error!r})", status=status) from error

    async def query_refund(self, out_refund_no: str) -> Refund | None:
        """WeChat's view of a refund; None if WeChat never saw it."""
        status, body = await self._call(
            "query refund", self._sdk.query_refund(out_refund_no=out_refund_no)
        )
        if status == 404 and _json(body).get("code") in (ORDER_NOT_EXIST, RESOURCE_NOT_EXISTS):
            return None
        if status != 200:
            raise _refused("query refund", status, body)
        try:
            return Refund.of(_json(body))
        except (KeyError, ValueError) as error:
            raise WeChatPayError(
                f"query refund: malformed answer ({error!r})", status=status
            ) from error

    def parse_notification(
        self, headers: Mapping[str, str], body: bytes, *, now: float | None = None
    ) -> Notification:
        """Verify (timestamp, signature, then AES-256-GCM) and decode a payment or refund
        notification; WeChatPayNotificationError says why one is refused."""
        # The SDK looks headers up by exact name: give it one spelling.
        lowered = {name.lower(): value for name, value in headers.items()}
        timestamp = lowered.get("wechatpay-timestamp", "")
        if not (timestamp.isascii() and timestamp.isdigit()):
            raise WeChatPayNotificationError("missing or malformed Wechatpay-Timestamp")
        skew = abs((time.time() if now is None else now) - int(timestamp))
        if skew > self._settings.wechat_pay_notify_tolerance_seconds:
            raise WeChatPayNotificationError(f"timestamp {skew:.0f}s off: a replay or a bad clock")
        if not lowered.get("wechatpay-signature"):
            raise WeChatPayNotificationError("missing Wechatpay-Signature")
        try:
            data = self._sdk.callback(lowered, body)
        except Exception as error:  # bare Exception for unknown algorithms, bad JSON, base64
            raise WeChatPayNotificationError(f"unreadable notification: {error!r}") from error
        if not isinstance(data, dict) or not isinstance(data.get("resource"), dict):
            # The SDK answers None for a bad signature and for an undecryptable resource.
            raise WeChatPayNotificationError("bad signature or undecryptable resource")
        event_type = str(data.get("event_type", ""))
        resource: dict[str, Any] = data["resource"]
        try:
            if event_type.startswith("TRANSACTION."):
                return Notification(event_type, Transaction.of(resource), None)
            if event_type.startswith("REFUND."):
                return Notification(event_type, None, Refund.of(resource))
        except (KeyError, TypeError, ValueError) as error:
            raise WeChatPayNotificationError(f"malformed resource: {error!r}") from error
        return Notification(event_type, None, None)

    async def aclose(self) -> None:
        await self._http.aclose()
