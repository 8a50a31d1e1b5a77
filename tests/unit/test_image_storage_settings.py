"""Where uploads go and where images are read from, by settings (no store needed)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from common.settings import Settings
from common.storage.client import ObjectStorage, public_base_url


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
