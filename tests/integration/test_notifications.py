"""Subscribe messages that tell the truth, against the WeChat sandbox, the real orders
database and Redis: the success message is the ORDER's (with its check-in code) and is not
sent once the order is being refunded; a refund gets its own message; a user who refused
ends the job quietly; a send cut off by a crash is sent once later."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from dataclasses import asdict

import httpx
import pytest
from prometheus_client import REGISTRY
from redis.asyncio import Redis
from sqlalchemy import select, update

from common.db import Database
from common.events import (
    NOTIFY_PAYMENT_SUCCESS,
    PAYMENT_STATUS_SUBSCRIBERS,
    OrderPaid,
    PaymentStatusChanged,
)
from common.ids import SnPrefix, make_sn
from common.settings import Domain, Settings
from subgraphs.orders.models import HomestayOrder, OutboxMessage, TradeState
from subgraphs.orders.service import PaymentOutcome, apply_payment_status
from tests.support.orders import place_order
from tests.support.sandbox import WeChatSandbox, wechat_sandbox

# The actor modules are imported in the tests, not here: importing one builds the process's
# broker, which must see the suite's REDIS_URL (set once the session's fixtures run).
pytestmark = pytest.mark.usefixtures("worker_settings")
SENT_KEY = "looklook:notifications:{kind}:{sn}"


@pytest.fixture(scope="module")
def sandbox(settings: Settings) -> Iterator[WeChatSandbox]:
    with wechat_sandbox(settings) as running:
        yield running


@pytest.fixture
async def worker_settings(
    settings: Settings, sandbox: WeChatSandbox, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Settings]:
    """The worker's connections, made on first use, talk to this module's sandbox."""
    from workers import notifications, resources

    ours = settings.model_copy(update={"wechat_api_base": sandbox.url})
    monkeypatch.setattr(resources, "get_settings", lambda: ours)
    monkeypatch.setattr(notifications, "get_settings", lambda: ours)
    yield ours
    await resources.dispose()


@pytest.fixture
async def orders_db(settings: Settings) -> AsyncIterator[Database]:
    db = Database(settings.database_url(Domain.ORDERS))
    yield db
    await db.dispose()


async def _paid_order(db: Database, state: TradeState = TradeState.WAIT_USE) -> OrderPaid:
    """An order paid by a payment, with its check-in code, and the notice orders stages."""
    sn = await place_order(db, pay_in_seconds=600, state=state, with_message=False)
    payment_sn, code = make_sn(SnPrefix.PAYMENT), "K7Q2M9XA"
    async with db.write_session() as session:
        await session.execute(
            update(HomestayOrder)
            .where(HomestayOrder.sn == sn)
            .values(payment_sn=payment_sn, trade_code=code)
        )
    openid = f"o-{payment_sn[-10:]}"
    return OrderPaid(
        order_sn=sn,
        payment_sn=payment_sn,
        user_id=1,
        payer_openid=openid,
        trade_code=code,
        pay_time="2026-11-23T02:00:00+00:00",
    )


async def _messages(sandbox: WeChatSandbox, openid: str) -> list[dict[str, object]]:
    async with httpx.AsyncClient() as http:
        answer = await http.get(f"{sandbox.url}/sandbox/messages", params={"touser": openid})
    messages: list[dict[str, object]] = answer.json()["messages"]
    return messages


def _values(message: dict[str, object]) -> dict[str, str]:
    data = message["data"]
    assert isinstance(data, dict)
    return {name: field["value"] for name, field in data.items()}


async def test_the_success_message_carries_the_check_in_code(
    orders_db: Database, sandbox: WeChatSandbox, worker_settings: Settings
) -> None:
    from workers.notifications import notify_paid

    notice = await _paid_order(orders_db)

    assert await notify_paid(asdict(notice)) is True
    assert await notify_paid(asdict(notice)) is False  # a replay sends nothing

    [message] = await _messages(sandbox, notice.payer_openid)
    assert message["template_id"] == worker_settings.wechat_subscribe_template_id
    values = _values(message)
    assert values["character_string1"] == notice.order_sn
    assert values["character_string2"] == notice.trade_code
    assert values["time3"] == "2026-11-23 10:00"  # China time
    assert not any("¥" in value for value in values.values())


async def test_orders_announce_success_only_when_the_order_takes_the_payment(
    orders_db: Database,
) -> None:
    """The success message is staged by orders with the check-in code, never by payments."""
    assert NOTIFY_PAYMENT_SUCCESS not in PAYMENT_STATUS_SUBSCRIBERS
    paid = await place_order(orders_db, pay_in_seconds=600, with_message=False)
    cancelled = await place_order(
        orders_db, pay_in_seconds=600, state=TradeState.CANCELLED, with_message=False
    )
    for sn, outcome in ((paid, PaymentOutcome.PAID), (cancelled, PaymentOutcome.REFUND_REQUESTED)):
        event = PaymentStatusChanged(
            payment_sn=make_sn(SnPrefix.PAYMENT),
            order_sn=sn,
            user_id=1,
            status="SUCCESS",
            pay_total=100,
            payer_openid="o-announce",
            transaction_id="4200000002",
            pay_time=None,
        )
        assert await apply_payment_status(orders_db, event) is outcome
    async with orders_db.session() as session:
        staged = list(
            await session.scalars(
                select(OutboxMessage.payload).where(
                    OutboxMessage.actor_name == NOTIFY_PAYMENT_SUCCESS.actor_name
                )
            )
        )
        order = await session.scalar(select(HomestayOrder).where(HomestayOrder.sn == paid))
    assert order is not None and order.trade_code
    assert sum(paid in payload and order.trade_code in payload for payload in staged) == 1
    assert not any(cancelled in payload for payload in staged)


async def test_a_refunded_payment_gets_a_refund_message_not_a_success_message(
    orders_db: Database, sandbox: WeChatSandbox, worker_settings: Settings
) -> None:
    from workers.notifications import notify_paid, notify_refunded

    notice = await _paid_order(orders_db, state=TradeState.REFUNDING)

    assert await notify_paid(asdict(notice)) is False  # the order is being refunded
    refunded = PaymentStatusChanged(
        payment_sn=notice.payment_sn,
        order_sn=notice.order_sn,
        user_id=1,
        status="REFUNDED",
        pay_total=100,
        payer_openid=notice.payer_openid,
        transaction_id="4200000003",
        pay_time=notice.pay_time,
    )
    success = PaymentStatusChanged(**{**asdict(refunded), "status": "SUCCESS"})
    assert await notify_refunded(asdict(success)) is False  # only REFUNDED is announced
    assert await notify_refunded(asdict(refunded)) is True
    assert await notify_refunded(asdict(refunded)) is False

    [message] = await _messages(sandbox, notice.payer_openid)
    assert message["template_id"] == worker_settings.wechat_refund_template_id
    assert _values(message)["character_string1"] == notice.order_sn


def _refusals(template: str) -> float:
    value = REGISTRY.get_sample_value(
        "looklook_notifications_refused_total", {"template": template}
    )
    return value or 0.0


async def test_a_user_who_refused_ends_the_job_quietly(
    orders_db: Database, sandbox: WeChatSandbox, worker_settings: Settings, redis: Redis
) -> None:
    from workers.notifications import notify_paid

    notice = await _paid_order(orders_db)
    async with httpx.AsyncClient() as http:
        refused = await http.post(
            f"{sandbox.url}/sandbox/messages/refuse", json={"touser": notice.payer_openid}
        )
    assert refused.status_code == 204
    template = worker_settings.wechat_subscribe_template_id
    counted = _refusals(template)

    # No exception: for Dramatiq the job is done (no retry, no dead letter).
    assert await notify_paid(asdict(notice)) is False
    assert await notify_paid(asdict(notice)) is False  # and a replay does not ask again

    assert _refusals(template) == counted + 1
    key = SENT_KEY.format(kind="payment-success", sn=notice.payment_sn)
    assert await redis.get(key) == "refused"
    assert await _messages(sandbox, notice.payer_openid) == []


async def test_a_send_cut_off_by_a_crash_is_sent_once_later(
    orders_db: Database, sandbox: WeChatSandbox, redis: Redis
) -> None:
    from workers.notifications import SendInProgress, notify_paid

    notice = await _paid_order(orders_db)
    key = SENT_KEY.format(kind="payment-success", sn=notice.payment_sn)
    # A worker claimed the message and was killed before WeChat answered: only its claim is left.
    await redis.set(key, "sending", px=1500)

    with pytest.raises(SendInProgress) as held:
        await notify_paid(asdict(notice))  # the redelivery must come back, not give up
    assert held.value.delay is not None and 0 < held.value.delay <= 1600
    assert await _messages(sandbox, notice.payer_openid) == []

    for _ in range(100):  # the claim expires (bounded wait for that event)
        if not await redis.exists(key):
            break
        await asyncio.sleep(0.05)
    assert await notify_paid(asdict(notice)) is True
    assert await notify_paid(asdict(notice)) is False
    assert len(await _messages(sandbox, notice.payer_openid)) == 1
    assert await redis.get(key) == "sent"
