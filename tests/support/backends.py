"""Point the suite at real servers (TEST_DATABASE_URL / TEST_REDIS_URL) or at embedded ones.

TEST_DATABASE_URL is a server URL such as `mysql+aiomysql://root@127.0.0.1:3306`;
each domain gets a fresh database `<TEST_DATABASE_PREFIX>_<domain>` there (prefix
`looklook_test` unless set, so two checkouts can test on one server). Without it,
each domain gets a SQLite file in a temporary directory. TEST_REDIS_URL names a
Redis database the suite may flush; without it the bundled redis-server is
started on a free port. TEST_S3_URL (`http://KEY:SECRET@host:port/bucket`) names an
S3-compatible store whose bucket allows anonymous GET (the suite creates the bucket
if it is missing); without it the bundled SeaweedFS (`weed mini`) is started.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path
from urllib.parse import unquote, urlsplit

import redis

from common.devrunner import free_port, redis_server_binary
from common.migrations import fresh_databases
from common.settings import Domain, Settings
from common.storage.embedded import wait_for_bucket, weed_mini_argv


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


class ObjectStore:
    """The S3 store the suite uses: TEST_S3_URL, or a bundled SeaweedFS of its own.

    Starting is split from waiting so the store boots while the databases migrate.
    """

    def __init__(self, tmp: Path) -> None:
        self._process: subprocess.Popen[bytes] | None = None
        url = os.environ.get("TEST_S3_URL")
        if url:
            parts = urlsplit(url)
            self.env = {
                "S3_ENDPOINT_URL": f"{parts.scheme}://{parts.hostname}:{parts.port}",
                "S3_BUCKET": parts.path.strip("/") or "looklook-test",
                "S3_ACCESS_KEY_ID": unquote(parts.username or ""),
                "S3_SECRET_ACCESS_KEY": unquote(parts.password or ""),
            }
            return
        self.env = {
            "S3_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}",
            "S3_BUCKET": "looklook-test",
            "S3_ACCESS_KEY_ID": "looklook-test",
            "S3_SECRET_ACCESS_KEY": "looklook-test-secret",
        }
        self._log = (tmp / "seaweedfs.log").open("wb")
        self._process = subprocess.Popen(  # noqa: S603 - argv is ours
            weed_mini_argv(self.settings, tmp / "seaweedfs"),
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    @property
    def settings(self) -> Settings:
        return Settings.model_validate({name.lower(): value for name, value in self.env.items()})

    def wait(self) -> None:
        """Until the bucket answers (created first on a store of one's own)."""
        if self._process is None:
            import asyncio

            from common.storage.client import ObjectStorage

            async def ensure() -> None:
                storage = ObjectStorage(self.settings)
                try:
                    await storage.ensure_bucket()
                finally:
                    await storage.aclose()

            asyncio.run(ensure())
            return
        process = self._process
        wait_for_bucket(self.settings, lambda: process.poll() is None, timeout=60)

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(timeout=20)
            self._log.close()
