"""Traces that cross the broker: a message carries the W3C `traceparent` of whoever sent it,
and the worker processes it inside a span that continues that trace.

So a payment can be followed from `POST /wechatpay/notify` through the outbox
relay to `mark_order_paid` and the SQL it ran, as one trace. The outbox stores
the staging span's `traceparent` with the row and puts it in the message
options (`common.outbox`); a message sent straight from code (`actor.send`)
gets the current span's here, in `before_enqueue`. Retries keep the options, so
every attempt joins the same trace.
"""

from __future__ import annotations

import threading
from typing import Any

import dramatiq
from dramatiq import MessageProxy
from dramatiq.middleware import Middleware
from opentelemetry import context, trace
from opentelemetry.trace import SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from common.outbox import TRACEPARENT

_W3C = TraceContextTextMapPropagator()
tracer = trace.get_tracer(__name__)


class TraceContext(Middleware):
    """Inject the sender's trace into messages; process each one in a child span of it."""

    def __init__(self) -> None:
        # Dramatiq processes a message on one worker thread, before/after hooks included.
        self._local = threading.local()

    def before_enqueue(
        self, broker: dramatiq.Broker, message: dramatiq.Message[Any], delay: int
    ) -> None:
        if TRACEPARENT not in message.options:
            carrier: dict[str, str] = {}
            _W3C.inject(carrier)
            if TRACEPARENT in carrier:
                message.options[TRACEPARENT] = carrier[TRACEPARENT]

    def before_process_message(self, broker: dramatiq.Broker, message: MessageProxy) -> None:
        traceparent = message.options.get(TRACEPARENT)
        parent = _W3C.extract({TRACEPARENT: traceparent}) if isinstance(traceparent, str) else None
        span = tracer.start_span(
            message.actor_name,
            context=parent,
            kind=SpanKind.CONSUMER,
            attributes={
                "messaging.system": "dramatiq",
                "messaging.destination.name": message.queue_name,
                "messaging.message.id": message.message_id,
                "messaging.dramatiq.retries": int(message.options.get("retries", 0)),
            },
        )
        token = context.attach(trace.set_span_in_context(span, parent))
        self._local.current = (span, token)

    def after_process_message(
        self,
        broker: dramatiq.Broker,
        message: MessageProxy,
        *,
        result: Any | None = None,
        exception: BaseException | None = None,
    ) -> None:
        current = getattr(self._local, "current", None)
        if current is None:
            return
        self._local.current = None
        span, token = current
        if exception is not None:
            span.record_exception(exception)
            span.set_status(Status(StatusCode.ERROR, type(exception).__name__))
        span.end()
        context.detach(token)

    def after_skip_message(self, broker: dramatiq.Broker, message: MessageProxy) -> None:
        self.after_process_message(broker, message)
