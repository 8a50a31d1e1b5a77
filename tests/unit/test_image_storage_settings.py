"""Where uploads go and where images are read from, by settings (no store needed)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from common.settings import Settings
from common.storage.client import ObjectStorage, public_base_url
from common.storage.embedded import weed_mini_argv


@pytest.fixture(autouse=True)
def _storage_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests read the defaults: not the S3 store the suite's other tests run on."""
    for name in list(os.environ):
        if name.startswith("S3_"):
            monkeypatch.delenv(name)


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({}, "http://127.0.0.1:8333/looklook"),
        ({"s3_addressing_style": "virtual", "s3_endpoint_url": "https://cos.example.com"},
         "https://looklook.cos.example.com"),
        ({"s3_endpoint_url": "", "s3_region": "ap-east-1"},
         "https://looklook.s3.ap-east-1.amazonaws.com"),
        ({"s3_endpoint_url": "http://minio:9000", "s3_upload_endpoint_url": "https://files.example.com"},
         "https://files.example.com/looklook"),
        ({"s3_public_base_url": "https://img.example.com/"}, "https://img.example.com"),
    ],
)  # fmt: skip
def test_the_public_address_of_images(overrides: dict[str, str], expected: str) -> None:
    assert public_base_url(Settings.model_validate(overrides)) == expected


async def test_upload_urls_are_signed_for_the_address_clients_use() -> None:
    """Subgraphs reach the store as minio:9000; clients upload to the public name."""
    settings = Settings(
        s3_endpoint_url="http://minio:9000", s3_upload_endpoint_url="https://files.example.com"
    )
    storage = ObjectStorage(settings)
    try:
        url = await storage.presign_put(
            "avatar/1/" + "a" * 32 + ".png", content_type="image/png", expires_in=120
        )
    finally:
        await storage.aclose()
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}" == "https://files.example.com"
    query = parse_qs(parts.query)
    assert query["X-Amz-Expires"] == ["120"]
    assert query["X-Amz-SignedHeaders"] == ["content-type;host"]


def test_the_bundled_store_moves_every_listener_off_its_default(tmp_path: Path) -> None:
    """Two stacks (and the tests) run SeaweedFS side by side: no default port may be used,
    and what is not needed is off (no telemetry leaves the machine)."""
    settings = Settings(s3_endpoint_url="http://127.0.0.1:24999", s3_bucket="pictures")
    argv = weed_mini_argv(settings, tmp_path / "seaweedfs")
    flags = dict(arg.lstrip("-").split("=", 1) for arg in argv[2:])
    assert flags["s3.port"] == "24999" and flags["bucket"] == "pictures"
    assert flags["ip"] == flags["ip.bind"] == "127.0.0.1"
    defaults = {"8333", "9333", "9340", "8888", "23646", "18333", "19333", "19340", "18888"}
    for listener in ("master", "volume", "filer", "admin", "s3"):
        for suffix in ("port", "port.grpc"):
            assert flags[f"{listener}.{suffix}"] not in defaults
    assert int(flags["admin.port.grpc"]) == int(flags["admin.port"]) + 10000
    assert flags["webdav"] == flags["admin.ui"] == flags["master.telemetry"] == "false"
    assert flags["s3.port.iceberg"] == flags["s3.port.lance"] == "0"
    identities = json.loads(Path(flags["s3.config"]).read_text())["identities"]
    assert {i["name"]: i["actions"] for i in identities}["anonymous"] == ["Read:pictures"]
