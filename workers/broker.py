"""The Dramatiq broker every worker, scheduler and relay process shares.

Redis by default (the same server as everything else, so `make dev` needs
nothing new); an `amqp://` BROKER_URL selects RabbitMQ without code changes.
Building a broker never connects: the Redis client and pika both connect on
first use, so importing the actors in a process whose broker is down works and
the outbox relay is what notices the outage.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, ParamSpec

import dramatiq
from dramatiq import Actor
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import (
    AgeLimit,
    AsyncIO,
    Callbacks,
    Middleware,
    Pipelines,
    ShutdownNotifications,
    TimeLimit,
)

from common.events import ActorRoute
from common.settings import Settings, get_settings
from workers.budget import RetryBudget
from workers.tracecontext import TraceContext

P = ParamSpec("P")

# Retries: 1 s, 2 s, 4 s … capped at 60 s; after the last one the message is dead-lettered.
MAX_RETRIES = 5
MIN_BACKOFF_MS = 1_000
MAX_BACKOFF_MS = 60_000
# Money actors (an order to mark paid, a refund, a WeChat order to close) retry for as long
# as WeChat Pay retries its notifications, 24 h, backing off to one attempt every 10 minutes.
MONEY_RETRIES: dict[str, Any] = {"retry_for_ms": 24 * 3600 * 1000, "max_backoff": 10 * 60 * 1000}
# A subscribe message is worth sending for an hour; after that it is news to nobody.
NOTIFICATION_RETRIES: dict[str, Any] = {"retry_for_ms": 3600 * 1000, "max_backoff": 5 * 60 * 1000}
# No job of ours should take a minute; one that does is stuck on I/O and is better retried.
TIME_LIMIT_MS = 60_000
# Where the worker's Prometheus exposition server listens (Dramatiq reads these names itself).
DEFAULT_PROMETHEUS_PORT = 9191
PROMETHEUS_HOST_ENV = "dramatiq_prom_host"
PROMETHEUS_PORT_ENV = "dramatiq_prom_port"
PROMETHEUS_DB_ENV = "dramatiq_prom_db"

_broker: dramatiq.Broker | None = None


def broker_url(settings: Settings) -> str:
    return settings.broker_url or settings.redis_url


def prometheus_defaults(settings: Settings) -> Path:
    """Default Dramatiq's Prometheus env vars before its module reads them at import.

    The exposition server binds our host (not Dramatiq's 0.0.0.0) and keeps its
    multiprocess files under the data directory instead of a shared /tmp path.
    Returns that directory.
    """
    os.environ.setdefault(PROMETHEUS_HOST_ENV, settings.host)
    os.environ.setdefault(PROMETHEUS_PORT_ENV, str(DEFAULT_PROMETHEUS_PORT))
    return Path(
        os.environ.setdefault(PROMETHEUS_DB_ENV, str(settings.data_dir / "dramatiq-prometheus"))
    )


# The Prometheus middleware's metrics, all labelled by (queue_name, actor_name).
_PROMETHEUS_METRICS = (
    "total_messages",
    "total_errored_messages",
    "total_retried_messages",
    "total_rejected_messages",
    "inprogress_messages",
    "message_durations",
)


class PrometheusSeriesFromStart(Middleware):
    """Give every actor its zero-valued series as soon as a worker process boots.

    Dramatiq's exposition server runs from the start, but in multiprocess mode a
    labelled series exists only once a process touched it: `/metrics` stayed empty
    until the first message, and rates and "no messages processed" alerts had
    nothing to work on. Touching each actor's labels writes its zero values.
    """

    def after_process_boot(self, broker: dramatiq.Broker) -> None:
        from dramatiq.middleware.prometheus import Prometheus

        exporters = [m for m in broker.middleware if isinstance(m, Prometheus)]
        for exporter in exporters:
            for actor_name in broker.get_declared_actors():
                labels = (broker.get_actor(actor_name).queue_name, actor_name)
                for metric in _PROMETHEUS_METRICS:
                    getattr(exporter, metric).labels(*labels)


def _middleware() -> list[Middleware]:
    from workers.exposition import WorkerMetrics  # Dramatiq's Prometheus reads env vars on import

    return [
        # Before the exporter: "after" hooks run in reverse order, so its metrics exist by then.
        PrometheusSeriesFromStart(),
        WorkerMetrics(),
        TraceContext(),
        AgeLimit(),
        TimeLimit(time_limit=TIME_LIMIT_MS),
        ShutdownNotifications(),
        Callbacks(),
        Pipelines(),
        RetryBudget(
            max_retries=MAX_RETRIES, min_backoff=MIN_BACKOFF_MS, max_backoff=MAX_BACKOFF_MS
        ),
        AsyncIO(),  # our actors are `async def`; this runs them on one loop per worker process
    ]


def create_broker(url: str) -> dramatiq.Broker:
    """A broker for `url` with our middleware, not installed globally (tests use a dead one)."""
    if url.startswith(("amqp://", "amqps://")):
        return RabbitmqBroker(url=url, middleware=_middleware())
    return RedisBroker(url=url, middleware=_middleware())  # type: ignore[no-untyped-call]


def configure_broker(settings: Settings | None = None) -> dramatiq.Broker:
    """Install the process's global broker once; later calls return the same one.

    Actor modules call this at import, so they bind to our broker whatever the
    import order, never to Dramatiq's implicit default. The first call wins:
    actors are registered on that broker, so replacing it would orphan them.
    """
    global _broker
    if _broker is None:
        settings = settings or get_settings()
        prometheus_defaults(settings)
        _broker = create_broker(broker_url(settings))
        dramatiq.set_broker(_broker)
    return _broker


def route_actor(
    route: ActorRoute, **options: Any
) -> Callable[[Callable[P, Awaitable[None]]], Actor[P, None]]:
    """Declare the actor consuming `route`: its name and queue, on the process's broker.

    Producers only know the route (common/events), so the names must be the same here.
    `options` are Dramatiq actor options, e.g. `**MONEY_RETRIES`.
    """
    return dramatiq.actor(
        actor_name=route.actor_name,
        queue_name=route.queue_name,
        broker=configure_broker(),
        **options,
    )
