"""One trace from WeChat's notification to the work it causes: the payments subgraph (served
here, with its lifespan) takes a signed notification, the outbox row keeps the request's
trace, the relay hands it to the real Redis broker, and a real Dramatiq worker runs the actor
in a span of that same trace."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import dramatiq
import httpx
import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from common.db import Database
from common.events import PUBLISH_PAYMENT_STATUS
from common.ids import SnPrefix, make_sn
from common.outbox import relay
from common.settings import Domain, Settings
from common.telemetry import setup_tracing
from sandbox.keys import ensure_keys
from sandbox.pay import signed_notification
from subgraphs.payments.models import OutboxMessage, PayStatus, ThirdPayment
from tests.support.sandbox import serve, wechat_sandbox
from workers import resources

WAIT_SECONDS = 30.0


@pytest.fixture(scope="module")
def spans(settings: Settings) -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    setup_tracing("trace-test", settings, extra_processors=[SimpleSpanProcessor(exporter)])
    yield exporter
    exporter.shutdown()


@pytest.fixture
async def payments_db(settings: Settings) -> AsyncIterator[Database]:
    db = Database(settings.database_url(Domain.PAYMENTS))
    yield db
    await db.dispose()


@pytest.fixture
def payments_url(settings: Settings, spans: InMemorySpanExporter) -> Iterator[str]:
    """The payments subgraph app, served in this process so its spans reach `spans`.

    Built with an exporter configured (subgraphs create no spans without one); the
    tracer provider is the one `spans` installed first, so nothing is printed.
    """
    with wechat_sandbox(settings):  # makes the key pairs the subgraph verifies with
        from common.app import create_subgraph_app
        from subgraphs.payments import notify
        from subgraphs.payments.app import payments_components
        from subgraphs.payments.schema import schema

        traced = settings.model_copy(update={"otel_exporter": "console"})
        app = create_subgraph_app(
            Domain.PAYMENTS,
            schema,
            components=payments_components,
            extra_routes=notify.routes,
            settings=traced,
        )
        with serve(app, lifespan="on") as url:
            yield url


async def _waiting_payment(db: Database) -> ThirdPayment:
    payment = ThirdPayment(
        sn=make_sn(SnPrefix.PAYMENT),
        user_id=7,
        order_sn=make_sn(SnPrefix.HOMESTAY_ORDER),
        pay_total=100,
        payer_openid="o-traced-payer",
        pay_status=PayStatus.WAITING,
        prepay_id="wx-traced",
    )
    async with db.write_session() as session:
        session.add(payment)
    return payment


def _notification(settings: Settings, payment: ThirdPayment) -> tuple[dict[str, str], bytes]:
    keys = ensure_keys(settings.pay_keys_dir)
    resource = {
        "mchid": settings.wechat_pay_mchid,
        "appid": settings.pay_appid,
        "out_trade_no": payment.sn,
        "transaction_id": f"4200{int(time.time() * 1000)}",
        "trade_type": "JSAPI",
        "trade_state": "SUCCESS",
        "trade_state_desc": "支付成功",
        "bank_type": "OTHERS",
        "attach": "",
        "success_time": datetime.now(UTC).isoformat(timespec="seconds"),
        "payer": {"openid": payment.payer_openid},
        "amount": {"total": 100, "payer_total": 100, "currency": "CNY", "payer_currency": "CNY"},
    }
    return signed_notification(
        private_key=keys.platform_private_key,
        public_key_id=settings.wechat_pay_public_key_id,
        apiv3_key=settings.wechat_pay_apiv3_key,
        event_type="TRANSACTION.SUCCESS",
        resource=resource,
        original_type="transaction",
    )


def _trace_id(span: ReadableSpan) -> int:
    assert span.context is not None
    trace_id: int = span.context.trace_id
    return trace_id


async def _actor_span(spans: InMemorySpanExporter, trace_id: int) -> ReadableSpan:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        for span in spans.get_finished_spans():
            if (
                span.name == PUBLISH_PAYMENT_STATUS.actor_name
                and span.kind is SpanKind.CONSUMER
                and _trace_id(span) == trace_id
            ):
                return span
        await asyncio.sleep(0.05)
    raise AssertionError("the worker never processed the message in the notify's trace")


async def test_the_actor_span_continues_the_notify_requests_trace(
    settings: Settings,
    spans: InMemorySpanExporter,
    payments_db: Database,
    payments_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    payment = await _waiting_payment(payments_db)
    headers, body = _notification(settings, payment)
    async with httpx.AsyncClient() as http:
        answer = await http.post(f"{payments_url}/wechatpay/notify", headers=headers, content=body)
    assert answer.status_code == 200, answer.text
    [notify] = [
        span
        for span in spans.get_finished_spans()
        if span.kind is SpanKind.SERVER and span.name == "POST /wechatpay/notify"
    ]

    from workers.actors import broker

    assert await relay(payments_db, OutboxMessage, broker) >= 1
    # A real worker on the real broker, in this process so its spans reach `spans`.
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    monkeypatch.setenv("prometheus_multiproc_dir", str(tmp_path))
    monkeypatch.setattr(resources, "_redis", None)  # made on the worker's own event loop
    broker.emit_after("process_boot")
    worker = dramatiq.Worker(broker, queues={"payments"}, worker_threads=1, worker_timeout=100)
    worker.start()
    try:
        actor = await _actor_span(spans, _trace_id(notify))
    finally:
        await asyncio.to_thread(worker.stop)

    assert actor.parent is not None  # a child within the request's trace, not a new root
    assert actor.attributes is not None
    assert actor.attributes["messaging.destination.name"] == "payments"
    # The actor's own work (its Redis PUBLISH) is in the same trace, under the actor span.
    assert actor.context is not None
    children = [
        span
        for span in spans.get_finished_spans()
        if span.parent is not None and span.parent.span_id == actor.context.span_id
    ]
    assert children and all(_trace_id(child) == _trace_id(notify) for child in children)
