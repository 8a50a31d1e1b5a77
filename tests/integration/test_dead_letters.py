"""Dead letters on the real Redis broker: listed and redriven through `looklook dead-letters`,
and counted for /metrics."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from typing import Any, cast

import dramatiq
import pytest
from dramatiq.brokers.redis import RedisBroker

from common.cli import main
from common.settings import Settings
from workers.broker import create_broker
from workers.deadletters import dead_letter_count


@pytest.fixture
def broker(settings: Settings) -> Iterator[RedisBroker]:
    live = create_broker(settings.redis_url)
    assert isinstance(live, RedisBroker)
    yield live
    live.close()


def _kill(broker: RedisBroker, queue_name: str, **options: Any) -> dramatiq.Message[Any]:
    """Enqueue a message, take it as a worker would, and reject it: the broker dead-letters it."""
    broker.declare_queue(queue_name)
    sent = broker.enqueue(
        dramatiq.Message(
            queue_name=queue_name,
            actor_name="mark_order_paid",
            args=({"order_sn": "HSO-dead"},),
            kwargs={},
            options={"retries": 3, "traceback": "Traceback: WeChat down", **options},
        )
    )
    consumer = broker.consume(queue_name, prefetch=1, timeout=100)
    try:
        for _ in range(50):
            received = next(consumer)
            if received is not None:
                consumer.nack(received)
                return sent
        raise AssertionError("the message never arrived")
    finally:
        consumer.close()


def _queued(broker: RedisBroker, queue_name: str) -> list[dramatiq.Message[Any]]:
    raw = cast(list[bytes], broker.client.hvals(f"{broker.namespace}:{queue_name}.msgs"))
    return [dramatiq.Message.decode(data) for data in raw]


async def test_dead_letters_are_listed_and_redriven_through_the_cli(
    broker: RedisBroker, capsys: pytest.CaptureFixture[str]
) -> None:
    queue_name = f"test-dead-{uuid.uuid4().hex[:8]}"
    sent = _kill(broker, queue_name, traceparent="00-" + "a" * 32 + "-" + "b" * 16 + "-01")
    assert dead_letter_count(broker, queue_name) == 1

    assert await asyncio.to_thread(main, ["dead-letters", "list", "--queue", queue_name]) == 0
    [listed] = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert listed["queue"] == queue_name and listed["actor"] == "mark_order_paid"
    assert listed["message_id"] == sent.message_id and listed["retries"] == 3
    assert listed["args"] == [{"order_sn": "HSO-dead"}]

    command = ["dead-letters", "redrive", queue_name, listed["id"]]
    assert await asyncio.to_thread(main, command) == 0
    assert json.loads(capsys.readouterr().out)["redriven"] == [listed["id"]]
    assert dead_letter_count(broker, queue_name) == 0
    [again] = _queued(broker, queue_name)
    # The same message, its trace kept, with a fresh set of retries.
    assert again.message_id == sent.message_id and again.args == sent.args
    assert again.options.get("traceparent") == sent.options["traceparent"]
    assert "retries" not in again.options and "traceback" not in again.options

    assert await asyncio.to_thread(main, command) == 1  # gone: nothing to redrive
