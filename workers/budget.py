"""Retries on a time budget: keep trying a message for as long as it can still matter.

Dramatiq's Retries middleware counts attempts; what matters for money is time.
WeChat Pay retries a notification for about 24 hours, and an order that could
not be marked paid, or money that could not be refunded, must keep being
retried through an outage of that length, not dead-lettered after a minute.
An actor declares `retry_for_ms`: after its first failure the message is
retried with exponential backoff (capped by `max_backoff`) until that much time
has passed, then dead-lettered. Actors without it keep the attempt count.
"""

from __future__ import annotations

import time
from typing import Any

import dramatiq
from dramatiq import MessageProxy
from dramatiq.middleware import Retries

# Message option: when the first attempt failed (ms since the epoch); kept across retries.
FAILING_SINCE = "failing_since_ms"


class RetryBudget(Retries):
    """Retries, plus the actor option `retry_for_ms` (a time budget from the first failure)."""

    @property
    def actor_options(self) -> set[str]:
        return {*super().actor_options, "retry_for_ms"}

    def after_process_message(
        self,
        broker: dramatiq.Broker,
        message: MessageProxy,
        *,
        result: Any | None = None,
        exception: BaseException | None = None,
    ) -> None:
        if exception is not None:
            budget = broker.get_actor(message.actor_name).options.get("retry_for_ms")
            if budget is not None:
                now = int(time.time() * 1000)
                since = int(message.options.setdefault(FAILING_SINCE, now))
                # Within budget: no attempt limit. Spent: this failure is the last.
                message.options["max_retries"] = (
                    None if now - since < budget else int(message.options.get("retries", 0))
                )
        super().after_process_message(  # type: ignore[no-untyped-call]
            broker, message, result=result, exception=exception
        )
