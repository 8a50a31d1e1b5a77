"""A subgraph never closes an idle connection the router may be about to reuse.

The router drops its idle upstream connections after a few seconds; if a subgraph
closed them first, a request sent on one at that moment fails with "socket hang up"
(seen under load as SERVICE_UNAVAILABLE). Subgraphs therefore keep idle connections
open for `KEEP_ALIVE_SECONDS`, well beyond the router's own timeout.
"""

from __future__ import annotations

import asyncio
import re
import socket
from urllib.parse import urlsplit

import pytest

from common.certs import ensure_certificates
from common.serving import tls_servers
from common.settings import Domain, Settings
from tests.support.stack import Stack

pytestmark = pytest.mark.e2e

ROUTER_IDLE_SECONDS = 5  # Node's and undici's idle keep-alive timeouts are 4-5 s


def _get_healthz(conn: socket.socket, host: str) -> bytes:
    """One whole request/response on the connection: the status line and headers."""
    conn.sendall(f"GET /healthz HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
    received = b""
    while b"\r\n\r\n" not in received:
        chunk = conn.recv(65536)
        assert chunk, "the subgraph closed the connection mid-response"
        received += chunk
    head, body = received.split(b"\r\n\r\n", 1)
    declared = re.search(rb"(?im)^content-length:\s*(\d+)", head)
    assert declared, "a /healthz answer without Content-Length"
    length = int(declared.group(1))
    while len(body) < length:
        chunk = conn.recv(65536)
        assert chunk, "the subgraph closed the connection mid-response"
        body += chunk
    return head


async def test_an_idle_connection_outlives_the_routers_idle_timeout(stack: Stack) -> None:
    url = urlsplit(stack.subgraph_urls[Domain.TRAVEL])
    assert url.hostname is not None and url.port is not None
    with socket.create_connection((url.hostname, url.port), timeout=5) as conn:
        assert _get_healthz(conn, url.netloc).startswith(b"HTTP/1.1 200")
        await asyncio.sleep(ROUTER_IDLE_SECONDS + 1.5)

        conn.setblocking(False)
        try:
            closed = conn.recv(1, socket.MSG_PEEK) == b""
        except BlockingIOError:
            closed = False  # nothing to read and not at EOF: still open
        assert not closed, "the subgraph closed an idle keep-alive connection"
        conn.setblocking(True)
        assert _get_healthz(conn, url.netloc).startswith(b"HTTP/1.1 200")


def test_mutual_tls_listeners_keep_idle_connections_as_long(settings: Settings) -> None:
    """Built, not started (development certificates, as `looklook certs` makes them)."""
    ensure_certificates(settings.certs_dir)
    secure, plain = tls_servers(Domain.TRAVEL, settings.model_copy(update={"tls_enabled": True}))
    assert secure.config.timeout_keep_alive == settings.keep_alive_seconds > ROUTER_IDLE_SECONDS
    assert plain.config.timeout_keep_alive == settings.keep_alive_seconds
