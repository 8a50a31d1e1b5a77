"""The retry budget of money actors: retried for 24 h from the first failure, then dead."""

from __future__ import annotations

import time

import dramatiq
from dramatiq.brokers.stub import StubBroker

from workers.broker import MONEY_RETRIES
from workers.budget import FAILING_SINCE, RetryBudget


def test_money_actors_retry_for_a_day_then_die() -> None:
    """The budget, not an attempt count, decides: past 24 h from the first failure, it dies."""
    broker = StubBroker()  # in memory: only the middleware's decision is under test
    budget = RetryBudget(max_retries=5, min_backoff=1000, max_backoff=60_000)
    broker.add_middleware(budget)

    @dramatiq.actor(broker=broker, **MONEY_RETRIES)
    def pay() -> None: ...

    message = pay.message()
    now = int(time.time() * 1000)
    proxy = dramatiq.MessageProxy(message)
    proxy.options.update({"retries": 40, FAILING_SINCE: now - 23 * 3600 * 1000})
    budget.after_process_message(broker, proxy, exception=RuntimeError("WeChat down"))
    assert not proxy.failed  # 40 attempts, 23 h: still retried (the old limit was 5)
    assert proxy.options["retries"] == 41

    proxy.options[FAILING_SINCE] = now - 24 * 3600 * 1000 - 1
    budget.after_process_message(broker, proxy, exception=RuntimeError("WeChat down"))
    assert proxy.failed  # 24 h spent: dead-lettered


def test_the_first_failure_starts_the_clock() -> None:
    broker = StubBroker()
    budget = RetryBudget(max_retries=5, min_backoff=1000, max_backoff=60_000)
    broker.add_middleware(budget)

    @dramatiq.actor(broker=broker, **MONEY_RETRIES)
    def refund() -> None: ...

    proxy = dramatiq.MessageProxy(refund.message())
    before = int(time.time() * 1000)
    budget.after_process_message(broker, proxy, exception=RuntimeError("WeChat down"))
    assert not proxy.failed and proxy.options[FAILING_SINCE] >= before
