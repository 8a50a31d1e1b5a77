"""Read-only view of dead-lettered messages (retries exhausted), for operators.

Dramatiq's Redis broker keeps them for 7 days in two keys per queue:
`<namespace>:<queue>.XQ`, a sorted set of message ids scored by the time they
died, and `<namespace>:<queue>.XQ.msgs`, a hash of id → encoded message. On
RabbitMQ they are the queue `<queue>.XQ`; use the management UI there.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import cast

import dramatiq
from dramatiq.brokers.redis import RedisBroker


@dataclass(frozen=True)
class DeadLetter:
    died_at: datetime
    message: dramatiq.Message[object]


def dead_letters(broker: dramatiq.Broker, queue_name: str, *, limit: int = 100) -> list[DeadLetter]:
    """The newest dead-lettered messages of a queue (Redis broker only)."""
    if not isinstance(broker, RedisBroker):
        raise NotImplementedError("dead letters are listed for the Redis broker only")
    key = f"{broker.namespace}:{queue_name}.XQ"
    entries = cast(
        list[tuple[bytes, float]], broker.client.zrevrange(key, 0, limit - 1, withscores=True)
    )
    if not entries:
        return []
    encoded = cast(
        list[bytes | None], broker.client.hmget(f"{key}.msgs", [id_ for id_, _ in entries])
    )
    return [
        DeadLetter(
            died_at=datetime.fromtimestamp(score / 1000, UTC),
            message=dramatiq.Message.decode(data),
        )
        for (_, score), data in zip(entries, encoded, strict=True)
        if data is not None
    ]
