"""`POST /wechatpay/notify` on the running payments subgraph: replays have one effect,
forged, tampered, stale and mismatched notifications change nothing.

No worker runs in this module, so the broadcast messages a notification stages
stay in the payments outbox where the test can count them.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import func, select

from common.db import Database
from common.settings import Domain, Settings
from sandbox.keys import ensure_keys
from sandbox.pay import signed_notification
from subgraphs.payments.models import OutboxMessage, ThirdPayment
from tests.support.graphql import GraphQLClient
from tests.support.payments import book, pay_init
from tests.support.stack import Stack
from tests.support.travel import Catalog, make_catalog
from tests.support.users import Account, register, wechat_account

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
async def payments_db(settings: Settings) -> AsyncIterator[Database]:
    db = Database(settings.database_url(Domain.PAYMENTS))
    yield db
    await db.dispose()


@pytest.fixture(scope="module")
async def catalog(router: GraphQLClient, travel_db: Database) -> Catalog:
    landlord = await register(router, nickname="通知房东")
    return await make_catalog(
        travel_db, [int(landlord.user_id)], homestays_per_business=6, title_prefix="沙溪"
    )


@pytest.fixture
async def payer(router: GraphQLClient, stack: Stack) -> Account:
    return await wechat_account(router, stack.sandbox_url, "通知住客")


@pytest.fixture
def notify_url(stack: Stack) -> str:
    return stack.subgraph_urls[Domain.PAYMENTS].removesuffix("/graphql") + "/wechatpay/notify"


async def _waiting_payment(
    router: GraphQLClient, payer: Account, catalog: Catalog, start_in: int
) -> tuple[str, str, int]:
    """(order sn, payment sn, total) of a fresh order with a WAITING payment."""
    order = await book(router, payer, catalog.homestay_ids[start_in % 6], start_in=start_in)
    params = (await pay_init(router, payer, order["sn"])).ok()["wxPayHomestayOrder"]
    return order["sn"], params["paymentSn"], order["orderTotalPrice"]


def _transaction(
    settings: Settings, payment_sn: str, total: int, openid: str, **changes: Any
) -> dict[str, Any]:
    resource = {
        "mchid": settings.wechat_pay_mchid,
        "appid": settings.pay_appid,
        "out_trade_no": payment_sn,
        "transaction_id": f"4200{int(time.time() * 1000)}",
        "trade_type": "JSAPI",
        "trade_state": "SUCCESS",
        "trade_state_desc": "支付成功",
        "bank_type": "OTHERS",
        "attach": "",
        "success_time": datetime.now(UTC).isoformat(timespec="seconds"),
        "payer": {"openid": openid},
        "amount": {
            "total": total,
            "payer_total": total,
            "currency": "CNY",
            "payer_currency": "CNY",
        },
    }
    resource.update(changes)
    return resource


def _notification(
    settings: Settings,
    resource: dict[str, Any],
    *,
    private_key: rsa.RSAPrivateKey | None = None,
    timestamp: int | None = None,
) -> tuple[dict[str, str], bytes]:
    keys = ensure_keys(settings.data_dir / "wechatpay")
    return signed_notification(
        private_key=private_key or keys.platform_private_key,
        public_key_id=settings.wechat_pay_public_key_id,
        apiv3_key=settings.wechat_pay_apiv3_key,
        event_type="TRANSACTION.SUCCESS",
        resource=resource,
        original_type="transaction",
        timestamp=timestamp,
    )


async def _post(url: str, headers: dict[str, str], body: bytes) -> httpx.Response:
    async with httpx.AsyncClient() as http:
        return await http.post(url, headers=headers, content=body)


async def _payment(db: Database, sn: str) -> ThirdPayment:
    async with db.session() as session:
        payment = await session.scalar(select(ThirdPayment).where(ThirdPayment.sn == sn))
    assert payment is not None
    return payment


async def _broadcasts(db: Database, payment_sn: str) -> int:
    async with db.session() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.payload.contains(payment_sn))
        )
    return int(count or 0)


async def test_a_notification_replayed_ten_times_has_one_effect(
    router: GraphQLClient,
    catalog: Catalog,
    payer: Account,
    settings: Settings,
    payments_db: Database,
    notify_url: str,
) -> None:
    _, payment_sn, total = await _waiting_payment(router, payer, catalog, 50)
    assert payer.openid is not None
    headers, body = _notification(settings, _transaction(settings, payment_sn, total, payer.openid))

    answers = await asyncio.gather(*(_post(notify_url, headers, body) for _ in range(10)))

    assert [a.status_code for a in answers] == [200] * 10
    assert all(a.json()["code"] == "SUCCESS" for a in answers)
    payment = await _payment(payments_db, payment_sn)
    assert payment.pay_status == 1 and payment.version == 1  # one transition
    assert payment.pay_time is not None and payment.transaction_id is not None
    # One broadcast: a message for each of the three subscribers, once.
    assert await _broadcasts(payments_db, payment_sn) == 3


DEFECTS = ["forged", "tampered", "stale", "amount", "unknown", "mchid", "no_amount"]


@pytest.mark.parametrize("defect", DEFECTS)
async def test_bad_notifications_change_nothing(
    router: GraphQLClient,
    catalog: Catalog,
    payer: Account,
    settings: Settings,
    payments_db: Database,
    notify_url: str,
    defect: str,
) -> None:
    start_in = 51 + DEFECTS.index(defect)
    _, payment_sn, total = await _waiting_payment(router, payer, catalog, start_in)
    assert payer.openid is not None
    resource = _transaction(settings, payment_sn, total, payer.openid)
    options: dict[str, Any] = {}
    if defect == "forged":
        options["private_key"] = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    elif defect == "stale":
        options["timestamp"] = int(time.time()) - 301
    elif defect == "amount":
        resource["amount"] = {**resource["amount"], "total": 1, "payer_total": 1}
    elif defect == "unknown":
        resource["out_trade_no"] = "PMT20260101000000nosuchsn"
    elif defect == "mchid":
        resource["mchid"] = "1999999999"
    elif defect == "no_amount":  # signed, but says nothing of how much was paid
        del resource["amount"]
    headers, body = _notification(settings, resource, **options)
    if defect == "tampered":
        envelope = json.loads(body)
        envelope["summary"] = "支付成功 (edited)"
        body = json.dumps(envelope, ensure_ascii=False).encode()

    answer = await _post(notify_url, headers, body)

    expected = 401 if defect in ("forged", "tampered", "stale") else 400
    assert answer.status_code == expected, answer.text
    assert answer.json()["code"] == "FAIL"
    payment = await _payment(payments_db, payment_sn)
    assert payment.pay_status == 0 and payment.version == 0
    assert await _broadcasts(payments_db, payment_sn) == 0


def test_the_sandbox_keys_are_generated_per_run(settings: Settings, tmp_root: Path) -> None:
    """The suite never uses a shipped key: the sandbox made these for this run."""
    assert (settings.data_dir / "wechatpay").parent == tmp_root
    assert (tmp_root / "wechatpay" / "platform_private_key.pem").exists()
