"""The worker's own metrics: counters its actors update, and gauges of what waits.

The gauges are read at scrape time (`BacklogCollector`, served by
`workers.exposition`): rows waiting in each outbox and the age of the oldest
(relay lag), parked rows, and the dead letters of each queue, so an alert can
fire on any of them without a worker doing anything. The reads are cached for
a few seconds: scrapes stay cheap.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Iterator

from prometheus_client import Counter
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

logger = logging.getLogger(__name__)

# Counted where it happens (worker processes write multiprocess files; see workers/run.py).
NOTIFICATIONS_REFUSED = Counter(
    "looklook_notifications_refused_total",
    "Subscribe messages WeChat refused for good (the user refused or never subscribed).",
    ["template"],
)
SAMPLE_CACHE_SECONDS = 5.0


class BacklogCollector(Collector):
    """Gauges of what waits: outbox rows (count, oldest age, parked) and dead letters."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sampled_at = 0.0
        self._families: list[Metric] = []

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            if time.monotonic() - self._sampled_at > SAMPLE_CACHE_SECONDS:
                try:
                    self._families = asyncio.run(sample())
                except Exception as error:  # a scrape must still answer with the rest
                    logger.warning("worker metrics: could not read the backlog: %s", error)
                    self._families = []
                self._sampled_at = time.monotonic()
            families = list(self._families)
        yield from families


async def sample() -> list[Metric]:
    """Read the outboxes and the dead-letter queues once."""
    from common.db import Database
    from common.outbox import backlog
    from common.settings import get_settings
    from workers.broker import configure_broker
    from workers.deadletters import QUEUES, dead_letter_count
    from workers.outboxes import OUTBOXES

    settings = get_settings()
    unsent = GaugeMetricFamily(
        "looklook_outbox_unsent", "Outbox rows not yet handed to the broker.", labels=["domain"]
    )
    lag = GaugeMetricFamily(
        "looklook_outbox_lag_seconds",
        "Age of the oldest outbox row not yet handed to the broker (0 when none).",
        labels=["domain"],
    )
    parked = GaugeMetricFamily(
        "looklook_outbox_parked",
        "Outbox rows the relay gave up on (`looklook outbox list`).",
        labels=["domain"],
    )
    for domain, model in OUTBOXES.items():
        db = Database(settings.database_url(domain), pool_size=1)
        try:
            waiting = await backlog(db, model)
        finally:
            await db.dispose()
        unsent.add_metric([domain.value], waiting.unsent)
        lag.add_metric([domain.value], waiting.oldest_unsent_seconds)
        parked.add_metric([domain.value], waiting.parked)
    dead = GaugeMetricFamily(
        "looklook_dead_letters",
        "Dead-lettered messages kept by the broker (`looklook dead-letters list`).",
        labels=["queue"],
    )
    broker = configure_broker(settings)
    for queue_name in QUEUES:
        count = await asyncio.to_thread(dead_letter_count, broker, queue_name)
        if count is not None:
            dead.add_metric([queue_name], count)
    return [unsent, lag, parked, dead]
