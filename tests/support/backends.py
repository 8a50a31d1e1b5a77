"""Point the suite at real servers (TEST_DATABASE_URL / TEST_REDIS_URL) or at embedded ones.

TEST_DATABASE_URL is a server URL such as `mysql+aiomysql://root@127.0.0.1:3306`;
each domain gets a fresh database `<TEST_DATABASE_PREFIX>_<domain>` there (prefix
`looklook_test` unless set, so two checkouts can test on one server). Without it,
each domain gets a SQLite file in a temporary directory. TEST_REDIS_URL names a
Redis database the suite may flush; without it the bundled redis-server is
started on a free port.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path

import redis

from common.devrunner import redis_server_binary
from common.migrations import fresh_databases
from common.settings import Domain


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def database_urls(tmp: Path) -> dict[Domain, str]:
    """A fresh, empty database per domain."""
    server = os.environ.get("TEST_DATABASE_URL")
    if not server:
        return {d: f"sqlite+aiosqlite:///{tmp / f'{d.value}.db'}" for d in Domain}
    return fresh_databases(server, os.environ.get("TEST_DATABASE_PREFIX", "looklook_test"))


class RedisServer:
    """The Redis the suite uses: TEST_REDIS_URL (flushed), or a bundled server of its own."""

    def __init__(self, tmp: Path) -> None:
        self._process: subprocess.Popen[bytes] | None = None
        url = os.environ.get("TEST_REDIS_URL")
        if url is None:
            port = free_port()
            self._process = subprocess.Popen(  # noqa: S603
                [redis_server_binary(), "--port", str(port), "--bind", "127.0.0.1",
                 "--save", "", "--appendonly", "no", "--dir", str(tmp)],
                stdout=subprocess.DEVNULL,
            )  # fmt: skip
            url = f"redis://127.0.0.1:{port}/0"
        self.url = url
        client = redis.Redis.from_url(url)
        for _ in range(100):
            try:
                client.flushdb()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
        client.close()

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(timeout=10)
