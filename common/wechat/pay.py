"""WeChat Pay v3 for the mini-program (JSAPI), through the wechatpayv3 SDK.

The SDK signs every request with the merchant key and verifies every response
and notification with WeChat Pay's public key (public-key mode: no certificate
download at start). This module gives it typed inputs and outputs, maps its
failures to two exceptions, points it at the configured gateway (the bundled
sandbox by default) and adds the check the SDK leaves out: a notification's
timestamp must be recent, or it is a replay.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from wechatpayv3.async_ import AsyncWeChatPay, WeChatPayType  # type: ignore[import-untyped]

from common.settings import Settings
from common.telemetry import instrument_httpx_client

# WeChat answers ORDER_NOT_EXIST (404) for an out_trade_no or out_refund_no it never saw.
ORDER_NOT_EXIST = "ORDER_NOT_EXIST"
RESOURCE_NOT_EXISTS = "RESOURCE_NOT_EXISTS"


@dataclass(frozen=True)
class JsapiParams:
    """What `wx.requestPayment` takes, signed with the merchant key."""

    app_id: str
    time_stamp: str
    nonce_str: str
    package: str
    sign_type: str
    pay_sign: str


@dataclass(frozen=True)
class Transaction:
    out_trade_no: str
    transaction_id: str | None
    trade_state: str  # SUCCESS, NOTPAY, CLOSED, REFUND, USERPAYING, PAYERROR, REVOKED
    trade_state_desc: str
    amount_total: int | None
    mchid: str
    appid: str
    payer_openid: str | None
    success_time: datetime | None

    @classmethod
    def of(cls, data: Mapping[str, Any]) -> Transaction:
        amount = data.get("amount") or {}
        payer = data.get("payer") or {}
        success_time = data.get("success_time")
        return cls(
            out_trade_no=str(data["out_trade_no"]),
            transaction_id=data.get("transaction_id") or None,
            trade_state=str(data.get("trade_state", "")),
            trade_state_desc=str(data.get("trade_state_desc", "")),
            amount_total=amount.get("total"),
            mchid=str(data.get("mchid", "")),
            appid=str(data.get("appid", "")),
            payer_openid=payer.get("openid"),
            success_time=datetime.fromisoformat(success_time) if success_time else None,
        )


@dataclass(frozen=True)
class Refund:
    out_refund_no: str
    out_trade_no: str
    refund_id: str | None
    status: str  # SUCCESS, PROCESSING, CLOSED, ABNORMAL

    @classmethod
    def of(cls, data: Mapping[str, Any]) -> Refund:
        return cls(
            out_refund_no=str(data["out_refund_no"]),
            out_trade_no=str(data.get("out_trade_no", "")),
            refund_id=data.get("refund_id") or None,
            # Queries say `status`, notifications `refund_status`.
            status=str(data.get("status") or data.get("refund_status") or ""),
        )


@dataclass(frozen=True)
class Notification:
    event_type: str
    transaction: Transaction | None
    refund: Refund | None


class WeChatPayError(Exception):
    """WeChat Pay could not be reached, or refused the call (`code` is WeChat's)."""

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None):
        super().__init__(message)
        self.status = status
        self.code = code


class WeChatPayNotificationError(Exception):
    """A notification that is not provably from WeChat Pay, or not fresh."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _read_key(path: Path, what: str) -> str:
    try:
        return path.read_text()
    except OSError as error:
        raise RuntimeError(
            f"WeChat Pay {what} not readable at {path} ({error.strerror}); set the path in "
            "the WECHAT_PAY_* settings (the sandbox writes its keys on its first start)"
        ) from error


class WeChatPayClient:
    """One merchant's WeChat Pay client; made once per process."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._sdk = AsyncWeChatPay(
            wechatpay_type=WeChatPayType.MINIPROG,
            mchid=settings.wechat_pay_mchid,
            private_key=_read_key(settings.pay_private_key_path, "merchant private key"),
            cert_serial_no=settings.wechat_pay_cert_serial_no,
            appid=settings.pay_appid,
            apiv3_key=settings.wechat_pay_apiv3_key,
            notify_url=settings.wechat_pay_notify_url,
            public_key=_read_key(settings.pay_public_key_path, "platform public key"),
            public_key_id=settings.wechat_pay_public_key_id,
        )
        core = self._sdk._core
        core._gate_way = settings.pay_api_base.rstrip("/")
        # Our own HTTP client: bounded timeouts, and traced like every outgoing call.
        core._client = httpx.AsyncClient(timeout=settings.wechat_timeout_seconds)
        instrument_httpx_client(core._client)

    async def _call(self, operation: str, call: Any) -> tuple[int, Any]:
        """Run one SDK call; transport failures and bad signatures become WeChatPayError."""
        try:
            status, body = await call
        except httpx.HTTPError as error:
            raise WeChatPayError(f"{operation}: WeChat Pay unreachable: {error}") from error
        except Exception as error:  # the SDK raises bare Exception for a bad response signature
            raise WeChatPayError(f"{operation}: {error}") from error
        return int(status), body

    @staticmethod
    def _json(body: Any) -> dict[str, Any]:
        if isinstance(body, bytes):
            body = body.decode()
        if not body:
            return {}
        try:
            data = json.loads(body)
        except ValueError:
            return {}
        return data if isinstance(data, dict) else {}

    def _refused(self, operation: str, status: int, body: Any) -> WeChatPayError:
        data = self._json(body)
        code, message = data.get("code"), data.get("message", "")
        return WeChatPayError(f"{operation}: {status} {code} {message}", status=status, code=code)

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
                time_expire=expires_at.isoformat(timespec="seconds") if expires_at else None,
                notify_url=notify_url,
                pay_type=WeChatPayType.MINIPROG,
            ),
        )
        prepay_id = self._json(body).get("prepay_id")
        if status != 200 or not prepay_id:
            raise self._refused("prepay", status, body)
        return str(prepay_id)

    def jsapi_params(self, prepay_id: str) -> JsapiParams:
        """Sign `wx.requestPayment`'s parameters (RSA-SHA256 over appId, timeStamp,
        nonceStr and package, one per line), as WeChat's JSAPI rules require."""
        app_id = self._settings.pay_appid
        time_stamp = str(int(time.time()))
        nonce_str = secrets.token_hex(16)
        package = f"prepay_id={prepay_id}"
        pay_sign: str = self._sdk.sign([app_id, time_stamp, nonce_str, package])
        return JsapiParams(
            app_id=app_id,
            time_stamp=time_stamp,
            nonce_str=nonce_str,
            package=package,
            sign_type="RSA",
            pay_sign=pay_sign,
        )

    async def query(self, out_trade_no: str) -> Transaction | None:
        """WeChat's view of a payment; None if WeChat never saw it."""
        status, body = await self._call("query", self._sdk.query(out_trade_no=out_trade_no))
        if status == 404 and self._json(body).get("code") == ORDER_NOT_EXIST:
            return None
        if status != 200:
            raise self._refused("query", status, body)
        return Transaction.of(self._json(body))

    async def close(self, out_trade_no: str) -> None:
        """Close an unpaid WeChat order; an already closed one is fine, a paid one is
        refused with code ORDERPAID."""
        status, body = await self._call("close", self._sdk.close(out_trade_no=out_trade_no))
        if status not in (200, 204):
            raise self._refused("close", status, body)

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
        """Ask for a refund; WeChat deduplicates by out_refund_no, so asking again is safe."""
        status, body = await self._call(
            "refund",
            self._sdk.refund(
                out_refund_no=out_refund_no,
                amount={"refund": amount_fen, "total": total_fen, "currency": "CNY"},
                out_trade_no=out_trade_no,
                reason=reason,
                notify_url=notify_url,
            ),
        )
        if status != 200:
            raise self._refused("refund", status, body)
        return Refund.of(self._json(body))

    async def query_refund(self, out_refund_no: str) -> Refund | None:
        status, body = await self._call(
            "query refund", self._sdk.query_refund(out_refund_no=out_refund_no)
        )
        if status == 404 and self._json(body).get("code") in (ORDER_NOT_EXIST, RESOURCE_NOT_EXISTS):
            return None
        if status != 200:
            raise self._refused("query refund", status, body)
        return Refund.of(self._json(body))

    def parse_notification(
        self, headers: Mapping[str, str], body: bytes, *, now: float | None = None
    ) -> Notification:
        """Verify (signature, then AES-256-GCM) and decode a payment or refund notification."""
        timestamp = headers.get("wechatpay-timestamp") or headers.get("Wechatpay-Timestamp")
        if not timestamp or not timestamp.isdigit():
            raise WeChatPayNotificationError("missing timestamp")
        skew = abs((now if now is not None else time.time()) - int(timestamp))
        if skew > self._settings.wechat_pay_notify_tolerance_seconds:
            raise WeChatPayNotificationError(f"timestamp {skew:.0f}s off: a replay or a bad clock")
        try:
            data = self._sdk.callback(headers, body)
        except Exception as error:  # the SDK raises bare Exception for unknown algorithms
            raise WeChatPayNotificationError(f"undecodable: {error}") from error
        if not isinstance(data, dict) or not isinstance(data.get("resource"), dict):
            raise WeChatPayNotificationError("bad signature or undecryptable resource")
        event_type = str(data.get("event_type", ""))
        resource: dict[str, Any] = data["resource"]
        try:
            if event_type.startswith("TRANSACTION."):
                return Notification(event_type, Transaction.of(resource), None)
            if event_type.startswith("REFUND."):
                return Notification(event_type, None, Refund.of(resource))
        except (KeyError, ValueError) as error:
            raise WeChatPayNotificationError(f"malformed resource: {error}") from error
        return Notification(event_type, None, None)

    async def aclose(self) -> None:
        await self._sdk._core._client.aclose()
