"""What the Dramatiq CLI loads (`dramatiq workers.actors`): our broker, then every actor.

Every actor module binds itself to `configure_broker()`, so import order is free.
Importing this module is how a worker process learns about all queues; a new
domain's actors module is added to the import list below.
"""

from __future__ import annotations

from common.logs import configure_logging
from common.settings import get_settings
from common.telemetry import instrument_redis, setup_tracing
from workers import notifications, orders, payments, travel
from workers.broker import configure_broker

SERVICE = "worker"

settings = get_settings()
configure_logging(SERVICE, settings)
setup_tracing(SERVICE, settings)
instrument_redis()
broker = configure_broker(settings)

__all__ = ["broker", "notifications", "orders", "payments", "travel"]
