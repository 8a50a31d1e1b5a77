"""Where a Dramatiq message is in the Redis broker, so a test can wait on the worker.

Dramatiq's Redis broker keeps each message in the hash `<ns>:<queue>.msgs` (or
`<queue>.DQ.msgs` while delayed, retries included) from enqueue until a worker
acknowledges it, and moves it to `<queue>.XQ.msgs` when it is dead-lettered. A
message is re-enqueued before the old copy is acknowledged (delay queue → queue,
a retry), so a snapshot of the three never misses a pending message.
"""

from __future__ import annotations

from enum import StrEnum

import dramatiq
from dramatiq.brokers.redis import RedisBroker

from common.events import ActorRoute


class Whereabouts(StrEnum):
    PENDING = "pending"  # queued, delayed, being processed, or waiting for a retry
    DEAD = "dead-lettered"
    DONE = "acknowledged"  # a worker finished with it: its effects are committed


def whereabouts(broker: dramatiq.Broker, route: ActorRoute, arg: str) -> Whereabouts:
    """Where the message of `route` whose arguments include `arg` is."""
    assert isinstance(broker, RedisBroker), "only the Redis broker can be inspected"
    queue = f"{broker.namespace}:{route.queue_name}"
    places = (
        (f"{queue}.msgs", Whereabouts.PENDING),
        (f"{queue}.DQ.msgs", Whereabouts.PENDING),
        (f"{queue}.XQ.msgs", Whereabouts.DEAD),
    )
    # One snapshot of all three (MULTI/EXEC): read one by one, a message moving between
    # them (delay queue → queue) could be missed in both.
    pipeline = broker.client.pipeline(transaction=True)
    for key, _ in places:
        pipeline.hvals(key)
    for (_, place), raws in zip(places, pipeline.execute(), strict=True):
        for raw in raws:
            message = dramatiq.Message.decode(raw)
            if message.actor_name == route.actor_name and arg in message.args:
                return place
    return Whereabouts.DONE
