"""Dead-lettered messages (retries or their time budget exhausted): list, count, redrive.

Dramatiq's Redis broker keeps them for 7 days in two keys per queue:
`<namespace>:<queue>.XQ`, a sorted set of message ids scored by the time they
died, and `<namespace>:<queue>.XQ.msgs`, a hash of id → encoded message. On
RabbitMQ they are the queue `<queue>.XQ`; use the management UI there.

Redriving sends a message again as new (retries and their budget reset, same
message id and trace) and only then removes it from the dead letters, so a
crash in between re-sends it at worst; every actor is idempotent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

import dramatiq
from dramatiq.brokers.redis import RedisBroker

from common.events import NOTIFICATIONS_QUEUE, ORDERS_QUEUE, PAYMENTS_QUEUE, TRAVEL_QUEUE
from workers.budget import FAILING_SINCE

# Every queue an actor of ours listens on.
QUEUES = (ORDERS_QUEUE, PAYMENTS_QUEUE, NOTIFICATIONS_QUEUE, TRAVEL_QUEUE)
# Options a failed delivery leaves on a message; a redriven one starts without them.
# (and the broker's own bookkeeping, which enqueueing sets afresh).
_FAILURE_OPTIONS = (
    "retries",
    "traceback",
    "requeue_timestamp",
    "max_retries",
    FAILING_SINCE,
    "redis_message_id",
    "eta",
)


@dataclass(frozen=True)
class DeadLetter:
    id: str  # the broker's id for this delivery: what `redrive` takes
    queue_name: str
    died_at: datetime
    message: dramatiq.Message[object]

    def as_json(self) -> dict[str, Any]:
        """One line of `looklook dead-letters list`."""
        message = self.message
        return {
            "id": self.id,
            "queue": self.queue_name,
            "died_at": self.died_at.isoformat(),
            "message_id": message.message_id,
            "actor": message.actor_name,
            "args": message.args,
            "kwargs": message.kwargs,
            "retries": message.options.get("retries"),
            "traceback": message.options.get("traceback"),
        }


def _redis(broker: dramatiq.Broker) -> RedisBroker:
    if not isinstance(broker, RedisBroker):
        raise NotImplementedError("dead letters are handled for the Redis broker only")
    return broker


def _key(broker: RedisBroker, queue_name: str) -> str:
    return f"{broker.namespace}:{queue_name}.XQ"


def dead_letters(broker: dramatiq.Broker, queue_name: str, *, limit: int = 100) -> list[DeadLetter]:
    """The newest dead-lettered messages of a queue (Redis broker only)."""
    redis_broker = _redis(broker)
    key = _key(redis_broker, queue_name)
    entries = cast(
        list[tuple[bytes, float]],
        redis_broker.client.zrevrange(key, 0, limit - 1, withscores=True),
    )
    if not entries:
        return []
    encoded = cast(
        list[bytes | None],
        redis_broker.client.hmget(f"{key}.msgs", [member for member, _ in entries]),
    )
    return [
        DeadLetter(
            id=id_.decode(),
            queue_name=queue_name,
            died_at=datetime.fromtimestamp(score / 1000, UTC),
            message=dramatiq.Message.decode(data),
        )
        for (id_, score), data in zip(entries, encoded, strict=True)
        if data is not None
    ]


def dead_letter_count(broker: dramatiq.Broker, queue_name: str) -> int | None:
    """How many dead letters a queue holds; None where the broker cannot tell (RabbitMQ)."""
    if not isinstance(broker, RedisBroker):
        return None
    return int(cast(int, broker.client.zcard(_key(broker, queue_name))))


def redrive(
    broker: dramatiq.Broker, queue_name: str, ids: Sequence[str] | None = None
) -> list[str]:
    """Send dead letters of a queue again (their `DeadLetter.id`s, or all when None).

    Returns the ids redriven (unknown ones are skipped).
    """
    redis_broker = _redis(broker)
    key = _key(redis_broker, queue_name)
    client = redis_broker.client
    chosen = (
        list(ids)
        if ids is not None
        else [raw.decode() for raw in cast(list[bytes], client.zrange(key, 0, -1))]
    )
    redriven: list[str] = []
    for message_id in chosen:
        data = cast(bytes | None, client.hget(f"{key}.msgs", message_id))
        if data is None:
            continue
        dead: dramatiq.Message[object] = dramatiq.Message.decode(data)
        broker.enqueue(
            dramatiq.Message(
                queue_name=queue_name,
                actor_name=dead.actor_name,
                args=dead.args,
                kwargs=dead.kwargs,
                options={k: v for k, v in dead.options.items() if k not in _FAILURE_OPTIONS},
                message_id=dead.message_id,
                message_timestamp=dead.message_timestamp,
            )
        )
        pipeline = client.pipeline()
        pipeline.zrem(key, message_id)
        pipeline.hdel(f"{key}.msgs", message_id)
        pipeline.execute()
        redriven.append(message_id)
    return redriven
