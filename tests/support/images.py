"""Image helpers for tests: real image bytes (Pillow) and the upload flow a client runs."""

from __future__ import annotations

import io
from typing import Any

import httpx
from PIL import Image

from tests.support.graphql import GraphQLClient

CREATE_UPLOAD = """
mutation($purpose: ImagePurpose!, $contentType: String!) {
  createImageUpload(purpose: $purpose, contentType: $contentType) {
    imageKey uploadUrl method headers { name value } maxBytes expiresAt
  }
}"""
UPDATE_AVATAR = """
mutation($key: String!) { updateProfile(input: {avatarKey: $key}) { id avatar } }"""

_FORMATS = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP"}


def image_bytes(content_type: str = "image/png", size: tuple[int, int] = (64, 48)) -> bytes:
    """A real, small image of that type: a gradient, so no two formats compress alike."""
    image = Image.new("RGB", size)
    image.putdata(
        [
            (x * 255 // size[0], y * 255 // size[1], 128)
            for y in range(size[1])
            for x in range(size[0])
        ]
    )
    out = io.BytesIO()
    image.save(out, _FORMATS[content_type])
    return out.getvalue()


async def create_upload(
    router: GraphQLClient, token: str, purpose: str, content_type: str
) -> dict[str, Any]:
    result = await router.execute(
        CREATE_UPLOAD, {"purpose": purpose, "contentType": content_type}, token=token
    )
    upload: dict[str, Any] = result.ok()["createImageUpload"]
    return upload


async def put_upload(
    upload: dict[str, Any], body: bytes, headers: dict[str, str] | None = None
) -> httpx.Response:
    """What the mini-program does: the bytes straight to storage, with the given headers."""
    sent = {h["name"]: h["value"] for h in upload["headers"]} if headers is None else headers
    async with httpx.AsyncClient(timeout=30) as client:
        return await client.request(
            upload["method"], upload["uploadUrl"], content=body, headers=sent
        )


async def upload_image(
    router: GraphQLClient,
    token: str,
    purpose: str = "AVATAR",
    content_type: str = "image/png",
    body: bytes | None = None,
) -> str:
    """Create an upload, PUT the bytes (a real image by default); returns the key."""
    upload = await create_upload(router, token, purpose, content_type)
    response = await put_upload(upload, image_bytes(content_type) if body is None else body)
    assert response.status_code == 200, response.text
    key: str = upload["imageKey"]
    return key
