"""The worker's `/metrics` server: Dramatiq's series, ours, and the backlog gauges.

Dramatiq's Prometheus middleware serves the counters its worker processes
write (multiprocess files) from a forked exposition server; ours takes its
place on the same address (`dramatiq_prom_host` / `dramatiq_prom_port`) and
adds `workers.metrics.BacklogCollector`. Imported only when the broker is built,
after `workers.broker.prometheus_defaults` has set the variables Dramatiq's
module reads at import.
"""

from __future__ import annotations

import logging
import os
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

from dramatiq.middleware.prometheus import HTTP_HOST, HTTP_PORT, Prometheus

from workers.metrics import BacklogCollector

logger = logging.getLogger(__name__)


class WorkerMetrics(Prometheus):
    """Dramatiq's Prometheus middleware, exposed by our server (`serve_metrics`)."""

    @property
    def forks(self) -> list[Any]:
        return [serve_metrics]

    def after_enqueue(self, broker: Any, message: Any, delay: Any) -> None:
        # Its counters exist only in worker processes; the scheduler and the CLI enqueue too.
        if hasattr(self, "total_retried_messages"):
            super().after_enqueue(broker, message, delay)  # type: ignore[no-untyped-call]


def serve_metrics() -> int:
    """Fork function: serve Dramatiq's multiprocess metrics plus the backlog gauges."""
    from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
    from prometheus_client.multiprocess import MultiProcessCollector

    registry = CollectorRegistry()
    MultiProcessCollector(registry, os.environ.get("PROMETHEUS_MULTIPROC_DIR"))  # type: ignore[no-untyped-call]
    registry.register(BacklogCollector())

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            output = generate_latest(registry)
            self.send_response(200)
            self.send_header("content-type", CONTENT_TYPE_LATEST)
            self.end_headers()
            self.wfile.write(output)

        def log_message(self, format: str, *args: Any) -> None:
            logger.debug(format, *args)

    server = HTTPServer((HTTP_HOST, HTTP_PORT), Handler)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        server.server_close()
    return 0
