"""The WeChat Pay client against the sandbox: real RSA signatures both ways, real
AES-256-GCM notifications delivered over HTTP, and the refusals that keep a forged,
tampered or replayed message out."""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from common.devrunner import free_port
from common.settings import Settings
from common.wechat.pay import (
    Notification,
    WeChatPayClient,
    WeChatPayError,
    WeChatPayNotificationError,
)
from sandbox.keys import SandboxKeys, ensure_keys
from sandbox.pay import signed_notification
from tests.support.sandbox import (
    NotificationReceiver,
    Received,
    WeChatSandbox,
    notification_receiver,
    serve,
    wechat_sandbox,
)

WAIT_SECONDS = 10.0


@pytest.fixture(scope="module")
def sandbox(settings: Settings) -> Iterator[WeChatSandbox]:
    with wechat_sandbox(settings) as running:
        yield running


@pytest.fixture(scope="module")
def receiver() -> Iterator[NotificationReceiver]:
    with notification_receiver() as running:
        yield running


@pytest.fixture(scope="module")
def pay_settings(
    settings: Settings, sandbox: WeChatSandbox, receiver: NotificationReceiver
) -> Settings:
    """The suite's settings, with WeChat Pay at the sandbox and notifications to the receiver."""
    return settings.model_copy(
        update={"wechat_api_base": sandbox.url, "wechat_pay_notify_url": receiver.notify_url}
    )


@pytest.fixture(scope="module")
def keys(settings: Settings) -> SandboxKeys:
    return ensure_keys(settings.pay_keys_dir)


@pytest.fixture
async def client(pay_settings: Settings) -> AsyncIterator[WeChatPayClient]:
    wechat = WeChatPayClient(pay_settings)
    yield wechat
    await wechat.aclose()


def _out_trade_no() -> str:
    return f"PMT{secrets.token_hex(10)}"


def _openid() -> str:
    return f"o{secrets.token_urlsafe(20)}"[:28]


async def _prepay(client: WeChatPayClient, amount_fen: int = 12_800) -> tuple[str, str]:
    out_trade_no = _out_trade_no()
    prepay_id = await client.jsapi_prepay(
        out_trade_no=out_trade_no,
        description="民宿预订-测试",
        amount_fen=amount_fen,
        payer_openid=_openid(),
        expires_at=datetime.now(UTC) + timedelta(minutes=20),
    )
    return out_trade_no, prepay_id


async def _pay(sandbox: WeChatSandbox, prepay_id: str, *, notify: bool) -> httpx.Response:
    async with httpx.AsyncClient() as http:
        return await http.post(
            f"{sandbox.url}/sandbox/pay", json={"prepay_id": prepay_id, "notify": notify}
        )


async def _received(
    receiver: NotificationReceiver, client: WeChatPayClient, event_type: str, out_trade_no: str
) -> list[tuple[Received, Notification]]:
    """Every delivery of this order's `event_type` so far (waiting for the first one)."""
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        found = []
        for received in list(receiver.received):
            notification = client.parse_notification(received.headers, received.body)
            if notification.event_type != event_type:
                continue
            item = notification.transaction or notification.refund
            if item is not None and item.out_trade_no == out_trade_no:
                found.append((received, notification))
        if found or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.05)


def _write_key_pair(directory: Path) -> tuple[Path, Path, rsa.RSAPrivateKey]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_path, public_path = directory / "other_private.pem", directory / "other_public.pem"
    private_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    public_path.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return private_path, public_path, key


async def test_prepay_gives_jsapi_params_signed_with_the_merchant_key(
    client: WeChatPayClient, pay_settings: Settings, keys: SandboxKeys
) -> None:
    _, prepay_id = await _prepay(client)
    params = client.jsapi_params(prepay_id)

    assert params.app_id == pay_settings.pay_appid
    assert params.package == f"prepay_id={prepay_id}"
    assert params.sign_type == "RSA"
    assert abs(int(params.time_stamp) - time.time()) < 5
    message = f"{params.app_id}\n{params.time_stamp}\n{params.nonce_str}\n{params.package}\n"
    keys.merchant_public_key.verify(
        base64.b64decode(params.pay_sign), message.encode(), padding.PKCS1v15(), hashes.SHA256()
    )
    with pytest.raises(InvalidSignature):
        keys.merchant_public_key.verify(
            base64.b64decode(params.pay_sign),
            message.replace(prepay_id, prepay_id + "x").encode(),
            padding.PKCS1v15(),
            hashes.SHA256(),
        )


async def test_prepay_again_gives_the_same_prepay_id_unless_the_content_changed(
    client: WeChatPayClient,
) -> None:
    request: dict[str, Any] = {
        "out_trade_no": _out_trade_no(),
        "description": "民宿预订",
        "amount_fen": 500,
        "payer_openid": _openid(),
    }
    first = await client.jsapi_prepay(**request)

    assert await client.jsapi_prepay(**request) == first
    with pytest.raises(WeChatPayError) as refused:
        await client.jsapi_prepay(**{**request, "amount_fen": 501})
    assert (refused.value.status, refused.value.code) == (400, "INVALID_REQUEST")


async def test_query_reports_an_order_before_and_after_payment(
    client: WeChatPayClient, pay_settings: Settings, sandbox: WeChatSandbox
) -> None:
    assert await client.query(_out_trade_no()) is None
    out_trade_no, prepay_id = await _prepay(client, amount_fen=12_800)

    unpaid = await client.query(out_trade_no)
    assert unpaid is not None
    assert (unpaid.trade_state, unpaid.amount_total) == ("NOTPAY", 12_800)
    assert (unpaid.transaction_id, unpaid.success_time) == (None, None)
    assert (unpaid.mchid, unpaid.appid) == (pay_settings.wechat_pay_mchid, pay_settings.pay_appid)

    paid_answer = await _pay(sandbox, prepay_id, notify=False)
    assert paid_answer.status_code == 200, paid_answer.text
    paid = await client.query(out_trade_no)
    assert paid is not None
    assert paid.trade_state == "SUCCESS"
    assert paid.transaction_id == paid_answer.json()["transaction_id"]
    assert paid.payer_openid == unpaid.payer_openid
    assert paid.success_time is not None
    assert paid.success_time.utcoffset() == timedelta(0)
    assert abs((datetime.now(UTC) - paid.success_time).total_seconds()) < 5

    again = await _pay(sandbox, prepay_id, notify=False)
    assert again.status_code == 409
    assert "SUCCESS" in again.json()["error"]


async def test_payment_notification_is_delivered_verified_and_decrypted(
    client: WeChatPayClient, sandbox: WeChatSandbox, receiver: NotificationReceiver
) -> None:
    out_trade_no, prepay_id = await _prepay(client, amount_fen=9_900)
    await _pay(sandbox, prepay_id, notify=True)

    [(received, notification)] = await _received(
        receiver, client, "TRANSACTION.SUCCESS", out_trade_no
    )
    assert received.status == 200
    transaction = notification.transaction
    assert transaction is not None
    assert (transaction.trade_state, transaction.amount_total) == ("SUCCESS", 9_900)
    assert transaction == await client.query(out_trade_no)
    envelope = json.loads(received.body)
    assert envelope["resource_type"] == "encrypt-resource"
    assert envelope["resource"]["algorithm"] == "AEAD_AES_256_GCM"
    assert out_trade_no not in received.body.decode()  # the resource is sealed


async def test_a_lost_notification_is_not_sent(
    client: WeChatPayClient, sandbox: WeChatSandbox, receiver: NotificationReceiver
) -> None:
    out_trade_no, prepay_id = await _prepay(client)
    await _pay(sandbox, prepay_id, notify=False)
    await asyncio.sleep(0.3)

    assert not [d for d in sandbox.state.pay.deliveries if d.out_trade_no == out_trade_no]


async def test_a_refused_notification_is_retried_until_the_merchant_accepts_it(
    client: WeChatPayClient, sandbox: WeChatSandbox, receiver: NotificationReceiver
) -> None:
    out_trade_no, prepay_id = await _prepay(client)
    receiver.failures = 2
    await _pay(sandbox, prepay_id, notify=True)

    deadline = time.monotonic() + WAIT_SECONDS
    while not [d for d in sandbox.state.pay.deliveries if d.out_trade_no == out_trade_no][2:]:
        assert time.monotonic() < deadline, "the notification was not retried"
        await asyncio.sleep(0.05)
    attempts = [d for d in sandbox.state.pay.deliveries if d.out_trade_no == out_trade_no]
    assert [(d.attempt, d.status) for d in attempts] == [(1, 500), (2, 500), (3, 200)]
    assert attempts[2].at - attempts[1].at > attempts[1].at - attempts[0].at  # backing off
    deliveries = await _received(receiver, client, "TRANSACTION.SUCCESS", out_trade_no)
    assert [received.status for received, _ in deliveries] == [500, 500, 200]
    await asyncio.sleep(0.6)  # longer than the first retry wait: no fourth attempt comes
    async with httpx.AsyncClient() as http:
        shown = await http.get(
            f"{sandbox.url}/sandbox/pay/deliveries", params={"out_trade_no": out_trade_no}
        )
    assert [(d["attempt"], d["status"]) for d in shown.json()["deliveries"]] == [
        (1, 500),
        (2, 500),
        (3, 200),
    ]


async def test_close_an_unpaid_order_and_refuse_to_close_a_paid_one(
    client: WeChatPayClient, sandbox: WeChatSandbox
) -> None:
    out_trade_no, prepay_id = await _prepay(client)
    await client.close(out_trade_no)
    await client.close(out_trade_no)  # closing again is fine

    closed = await client.query(out_trade_no)
    assert closed is not None and closed.trade_state == "CLOSED"
    paying_closed = await _pay(sandbox, prepay_id, notify=False)
    assert paying_closed.status_code == 409
    assert "CLOSED" in paying_closed.json()["error"]
    unknown = await _pay(sandbox, "wx-no-such-prepay", notify=False)
    assert unknown.status_code == 404

    paid_no, paid_prepay = await _prepay(client)
    await _pay(sandbox, paid_prepay, notify=False)
    with pytest.raises(WeChatPayError) as refused:
        await client.close(paid_no)
    assert refused.value.code == "ORDERPAID"


async def test_refund_succeeds_and_is_notified(
    client: WeChatPayClient, sandbox: WeChatSandbox, receiver: NotificationReceiver
) -> None:
    out_trade_no, prepay_id = await _prepay(client, amount_fen=30_000)
    await _pay(sandbox, prepay_id, notify=False)
    out_refund_no = f"RFD{secrets.token_hex(8)}"

    refund = await client.refund(
        out_trade_no=out_trade_no,
        out_refund_no=out_refund_no,
        amount_fen=30_000,
        total_fen=30_000,
        reason="行程取消",
    )
    assert (refund.out_refund_no, refund.out_trade_no) == (out_refund_no, out_trade_no)
    assert refund.status == "PROCESSING" and refund.refund_id

    [(_, notification)] = await _received(receiver, client, "REFUND.SUCCESS", out_trade_no)
    assert notification.refund is not None
    assert notification.refund.out_refund_no == out_refund_no
    assert notification.refund.refund_id == refund.refund_id
    assert notification.refund.status == "SUCCESS"
    queried = await client.query_refund(out_refund_no)
    assert queried is not None and queried.status == "SUCCESS"
    assert await client.query_refund(f"RFD{secrets.token_hex(8)}") is None
    transaction = await client.query(out_trade_no)
    assert transaction is not None and transaction.trade_state == "REFUND"
    # Asking again with the same out_refund_no is the same refund, not a second one.
    again = await client.refund(
        out_trade_no=out_trade_no,
        out_refund_no=out_refund_no,
        amount_fen=30_000,
        total_fen=30_000,
        reason="行程取消",
    )
    assert (again.refund_id, again.status) == (refund.refund_id, "SUCCESS")


async def test_refund_of_an_unpaid_order_is_refused(client: WeChatPayClient) -> None:
    out_trade_no, _ = await _prepay(client, amount_fen=1_000)
    with pytest.raises(WeChatPayError) as refused:
        await client.refund(
            out_trade_no=out_trade_no,
            out_refund_no=f"RFD{secrets.token_hex(8)}",
            amount_fen=1_000,
            total_fen=1_000,
            reason="",
        )
    assert refused.value.status == 400


def _notification(
    pay_settings: Settings,
    keys: SandboxKeys,
    *,
    private_key: rsa.RSAPrivateKey | None = None,
    apiv3_key: str | None = None,
    timestamp: int | None = None,
) -> tuple[dict[str, str], bytes]:
    resource = {
        "mchid": pay_settings.wechat_pay_mchid,
        "appid": pay_settings.pay_appid,
        "out_trade_no": "PMT20261123000000" + "12345678",
        "transaction_id": "4200000000000000000000000001",
        "trade_type": "JSAPI",
        "trade_state": "SUCCESS",
        "trade_state_desc": "支付成功",
        "success_time": "2026-11-23T11:00:00+08:00",
        "payer": {"openid": "o-sandbox-payer"},
        "amount": {"total": 100, "payer_total": 100, "currency": "CNY", "payer_currency": "CNY"},
    }
    return signed_notification(
        private_key=private_key or keys.platform_private_key,
        public_key_id=pay_settings.wechat_pay_public_key_id,
        apiv3_key=apiv3_key or pay_settings.wechat_pay_apiv3_key,
        event_type="TRANSACTION.SUCCESS",
        resource=resource,
        original_type="transaction",
        timestamp=timestamp,
    )


async def test_a_genuine_crafted_notification_parses(
    client: WeChatPayClient, pay_settings: Settings, keys: SandboxKeys
) -> None:
    headers, body = _notification(pay_settings, keys)
    # Header names arrive in any case.
    notification = client.parse_notification({k.upper(): v for k, v in headers.items()}, body)

    assert notification.event_type == "TRANSACTION.SUCCESS"
    assert notification.transaction is not None
    assert notification.transaction.success_time == datetime(2026, 11, 23, 3, 0, tzinfo=UTC)
    assert notification.transaction.payer_openid == "o-sandbox-payer"


async def test_forged_tampered_stale_and_undecryptable_notifications_are_refused(
    client: WeChatPayClient, pay_settings: Settings, keys: SandboxKeys
) -> None:
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = _notification(pay_settings, keys, private_key=other_key)
    headers, body = _notification(pay_settings, keys)
    tampered = (headers, body.replace(b'"TRANSACTION.SUCCESS"', b'"TRANSACTION.SUCCESS "'))
    stale = _notification(pay_settings, keys, timestamp=int(time.time()) - 301)
    future = _notification(pay_settings, keys, timestamp=int(time.time()) + 301)
    wrong_apiv3 = _notification(pay_settings, keys, apiv3_key="x" * 32)
    unsigned = ({k: v for k, v in headers.items() if k != "Wechatpay-Signature"}, body)
    no_type = ({k: v for k, v in headers.items() if k != "Wechatpay-Signature-Type"}, body)

    for name, (bad_headers, bad_body) in {
        "forged": forged,
        "tampered": tampered,
        "stale": stale,
        "future": future,
        "wrong apiv3 key": wrong_apiv3,
        "unsigned": unsigned,
        "no signature type": no_type,
        "not JSON": (headers, b"not json"),
    }.items():
        with pytest.raises(WeChatPayNotificationError):
            client.parse_notification(bad_headers, bad_body)
            pytest.fail(f"a {name} notification was accepted")

    # Tolerance is the setting, measured against `now`.
    stale_headers, stale_body = stale
    later = int(stale_headers["Wechatpay-Timestamp"]) + 10
    assert client.parse_notification(stale_headers, stale_body, now=later).transaction


async def test_an_answer_signed_with_another_key_is_refused(
    pay_settings: Settings, tmp_path: Path
) -> None:
    _, other_public, _ = _write_key_pair(tmp_path)
    wechat = WeChatPayClient(
        pay_settings.model_copy(update={"wechat_pay_public_key_path": other_public})
    )
    try:
        with pytest.raises(WeChatPayError) as refused:
            await wechat.jsapi_prepay(
                out_trade_no=_out_trade_no(),
                description="民宿预订",
                amount_fen=100,
                payer_openid=_openid(),
            )
        assert "signature" in refused.value.message
        # Every other answer too, e.g. a query of an order that exists.
        genuine = WeChatPayClient(pay_settings)
        try:
            out_trade_no, _ = await _prepay(genuine)
        finally:
            await genuine.aclose()
        with pytest.raises(WeChatPayError):
            await wechat.query(out_trade_no)
    finally:
        await wechat.aclose()


def _tampering_proxy(upstream: str) -> Starlette:
    """A man in the middle that forwards to WeChat and turns NOTPAY answers into SUCCESS,
    keeping WeChat's signature headers."""

    async def forward(request: Request) -> Response:
        async with httpx.AsyncClient() as http:
            answer = await http.request(
                request.method,
                upstream + request.url.path,
                params=request.query_params,
                headers={k: v for k, v in request.headers.items() if k != "host"},
                content=await request.body(),
            )
        body = answer.content.replace(b'"NOTPAY"', b'"SUCCESS"')
        headers = {k: v for k, v in answer.headers.items() if k.startswith("wechatpay-")}
        return Response(body, answer.status_code, headers, answer.headers["content-type"])

    return Starlette(routes=[Route("/{path:path}", forward, methods=["GET", "POST"])])


async def test_a_tampered_answer_is_refused(
    client: WeChatPayClient, pay_settings: Settings, sandbox: WeChatSandbox
) -> None:
    out_trade_no, _ = await _prepay(client)
    with serve(_tampering_proxy(sandbox.url)) as proxy:
        wechat = WeChatPayClient(pay_settings.model_copy(update={"wechat_pay_api_base": proxy}))
        try:
            with pytest.raises(WeChatPayError) as refused:
                await wechat.query(out_trade_no)
            assert "signature" in refused.value.message
        finally:
            await wechat.aclose()
    unpaid = await client.query(out_trade_no)
    assert unpaid is not None and unpaid.trade_state == "NOTPAY"


async def test_a_request_signed_with_another_merchant_key_gets_sign_error(
    pay_settings: Settings, tmp_path: Path
) -> None:
    other_private, _, _ = _write_key_pair(tmp_path)
    wechat = WeChatPayClient(
        pay_settings.model_copy(update={"wechat_pay_private_key_path": other_private})
    )
    try:
        with pytest.raises(WeChatPayError) as refused:
            await wechat.query(_out_trade_no())
        assert (refused.value.status, refused.value.code) == (401, "SIGN_ERROR")
    finally:
        await wechat.aclose()


async def test_unreachable_wechat_is_a_wechat_pay_error(pay_settings: Settings) -> None:
    wechat = WeChatPayClient(
        pay_settings.model_copy(update={"wechat_pay_api_base": f"http://127.0.0.1:{free_port()}"})
    )
    try:
        with pytest.raises(WeChatPayError) as failed:
            await wechat.query(_out_trade_no())
        assert (failed.value.status, failed.value.code) == (None, None)
    finally:
        await wechat.aclose()


def test_a_missing_key_file_is_named(pay_settings: Settings, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "merchant_private_key.pem"
    with pytest.raises(RuntimeError, match=str(missing)):
        WeChatPayClient(pay_settings.model_copy(update={"wechat_pay_private_key_path": missing}))


def test_sandbox_keys_are_made_once_and_kept_private(tmp_path: Path) -> None:
    made = ensure_keys(tmp_path / "wechatpay")
    again = ensure_keys(tmp_path / "wechatpay")
    elsewhere = ensure_keys(tmp_path / "elsewhere")

    assert again.merchant_public_key.public_numbers() == made.merchant_public_key.public_numbers()
    assert again.platform_public_key.public_numbers() == made.platform_public_key.public_numbers()
    assert made.merchant_public_key.public_numbers() != (made.platform_public_key.public_numbers())
    assert made.merchant_public_key.public_numbers() != (
        elsewhere.merchant_public_key.public_numbers()
    )
    for private in (made.merchant_private_key_path, made.platform_private_key_path):
        assert private.stat().st_mode & 0o777 == 0o600
    assert made.platform_public_key_path.read_bytes().startswith(b"-----BEGIN PUBLIC KEY-----")


async def test_an_order_past_its_time_expire_cannot_be_paid(
    client: WeChatPayClient, sandbox: WeChatSandbox
) -> None:
    """time_expire (the order's pay deadline, sent at prepay) is WeChat's own deadline too."""
    out_trade_no = _out_trade_no()
    expires_at = datetime.now(UTC) + timedelta(seconds=1)
    prepay_id = await client.jsapi_prepay(
        out_trade_no=out_trade_no,
        description="民宿预订-过期",
        amount_fen=100,
        payer_openid=_openid(),
        expires_at=expires_at,
    )
    assert sandbox.state.pay.transactions[out_trade_no].expires_at == expires_at.replace(
        microsecond=0
    )
    await asyncio.sleep((expires_at - datetime.now(UTC)).total_seconds() + 0.2)  # past it

    late = await _pay(sandbox, prepay_id, notify=True)

    assert late.status_code == 409
    transaction = await client.query(out_trade_no)
    assert transaction is not None and transaction.trade_state == "CLOSED"
